"""The publishing figures of `./dev bench`: deploy_bench.py and watch_bench.py run as children, their targets read back.

Each benchmark starts its own moto server on 127.0.0.1. deploy_bench.py needs an `aws` command (see README.md);
without one its targets are reported n/a with the reason, never guessed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WATCH_TARGET_S = 1.0


def _run(script: str, args: list[str], log: Path) -> tuple[int, str]:
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run([sys.executable, str(BENCH / script), *args], stdout=out, stderr=subprocess.STDOUT,
                              cwd=BENCH.parent, check=False)
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
    return proc.returncode, tail[0]


def publish_targets(work: Path, pages: int) -> list[dict[str, Any]]:
    """Run both benchmarks at `pages` and return their targets ({target, ok, value}) for run.py's list."""
    out: list[dict[str, Any]] = []
    code, last = _run("deploy_bench.py", ["--pages", str(pages), "--work", str(work)], work / "deploy_bench.log")
    results = work / "deploy_results.json"
    if code == 0 and results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        out += [{"target": f"[deploy, {pages} pages] {t['target']}", "ok": t["ok"], "value": t["value"]}
                for t in doc.get("targets", [])]
    else:
        out.append({"target": f"[deploy, {pages} pages] first deploy vs aws s3 sync", "ok": None,
                    "value": f"not measured: {last} (log: {work / 'deploy_bench.log'})"})
    for copies in (True, False):
        name = "watch_results.json"
        args = ["--pages", str(pages), "--work", str(work)] + ([] if copies else ["--no-rollback-copies"])
        code, last = _run("watch_bench.py", args, work / f"watch_bench{'' if copies else '_nocopies'}.log")
        label = "rollback copies on" if copies else "--no-rollback-copies (informational)"
        if code != 0 or not (work / name).is_file():
            out.append({"target": f"[watch, {pages} pages, {label}] one-stylesheet change < {WATCH_TARGET_S} s",
                        "ok": None, "value": f"not measured: {last}"})
            continue
        doc = json.loads((work / name).read_text(encoding="utf-8"))
        latency = float(doc["median_latency_s"])
        lines = [c["line"] for c in doc.get("changes", [])]
        out.append({"target": f"[watch, {pages} pages, {label}] one-stylesheet change deployed to moto "
                              f"< {WATCH_TARGET_S} s after the quiet period",
                    "ok": (latency < WATCH_TARGET_S) if copies else None,
                    "value": f"median {latency:.2f} s" + (f" ({lines[-1].split(': ', 1)[-1]})" if lines else "")})
    return out
