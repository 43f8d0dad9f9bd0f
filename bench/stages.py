"""Time each stage of one hashdeploy build in this process: wall time and CPU time, workers included.

    python bench/stages.py SITE OUT CACHE_DIR [--update]

Prints one JSON object: {"stages": {"hashing": {"wall_s", "cpu_s"}, "parsing": ..., "rewriting": ...},
"build_wall_s": ..., "build_cpu_s": ...}. CPU time is this process's plus that of the child processes it has
reaped (the parse workers, which the parse stage waits for before it ends), so cpu_s / wall_s of "parsing" says
how many cores the parse kept busy. With --update the build rewrites an earlier output in place (what a deploy
or a watch cycle does) instead of staging a new tree.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _now() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system + t.children_user + t.children_system


class StageTimer:
    """A hashdeploy Progress that records the wall and CPU time of each stage it is told about."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self._label = ""
        self._started = (0.0, 0.0)

    def start(self, label: str, total: int) -> None:
        """A stage begins."""
        self._label, self._started = label, _now()

    def advance(self, n: int) -> None:
        """Progress within the stage (not timed)."""

    def finish(self) -> None:
        """The stage ends."""
        wall, cpu = _now()
        self.stages[self._label] = {"wall_s": wall - self._started[0], "cpu_s": cpu - self._started[1]}


def main(argv: list[str]) -> int:
    """Command line."""
    from hashdeploy.engine import build
    from hashdeploy.settings import Settings

    site, out, cache = (Path(a) for a in argv[:3])
    timer = StageTimer()
    started = _now()
    build(Settings(site=site, out=out, cache_dir=cache), progress=timer, update="--update" in argv[3:])
    ended = _now()
    print(json.dumps({"stages": timer.stages, "build_wall_s": ended[0] - started[0],
                      "build_cpu_s": ended[1] - started[1]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
