"""`hashdeploy SITE --watch`: a full deploy, then one incremental cycle after each quiet period."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import hashdeploy
from hashdeploy.backends import Target
from hashdeploy.errors import ConfigError, one_line
from hashdeploy.model import BuildResult
from hashdeploy.publish import interrupt
from hashdeploy.publish.report import check_error
from hashdeploy.settings import Settings, deploy_target

Snapshot = dict[str, tuple[int, int]]


def snapshot(site: Path) -> Snapshot:
    """(size, mtime) of every file under site: cheap, and enough to see whether a build is still writing."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(site):
        dirnames[:] = [d for d in dirnames if d != ".hashdeploy"]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            out[os.path.relpath(path, site).replace(os.sep, "/")] = (st.st_size, st.st_mtime_ns)
    return out


def changed_keys(before: Snapshot, after: Snapshot) -> list[str]:
    """Keys added, removed or modified between two snapshots."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@dataclass
class CycleResult:
    """What one cycle did, for the line it prints and for tests."""

    number: int
    ok: bool
    line: str
    changed: list[str]
    uploaded: list[str]
    invalidated: tuple[str, ...]


class WatchSession:
    """State kept across cycles: the output directory, the backend, the last snapshot, owed invalidations."""

    def __init__(self, cfg: Settings, *, stream: TextIO | None = None,
                 on_cycle: Callable[[CycleResult], None] | None = None) -> None:
        if deploy_target(cfg) is None and cfg.out is None:
            raise ConfigError("Config value 'watch': needs --out DIR or a deploy target (--bucket/--target)")
        from hashdeploy.engine.cache import build_dir

        out = cfg.out or build_dir(cfg)
        self._tmp = None if out is not None else Path(tempfile.mkdtemp(prefix="hashdeploy-watch-"))
        self.out: Path = out if out is not None else self._tmp / "site"  # type: ignore[operator]
        self.cfg = replace(cfg, out=self.out)
        self.interval = cfg.invalidation_interval
        self.stream = stream or sys.stdout
        self.on_cycle = on_cycle
        self.target: Target | None = None
        self.previous: Snapshot = {}
        self.number = 0
        self.last_invalidation = float("-inf")  # the first change is invalidated at once
        self.owed = False
        self.busy = False  # a cycle or a flush is running (a signal then stops its requests, not just the loop)

    def ignore(self, path: str) -> bool:
        """Events in hashdeploy's own output never trigger a cycle."""
        out = str(self.out.resolve())
        return path == out or path.startswith(out + os.sep) or f"{os.sep}.hashdeploy" in path

    def _say(self, line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=self.stream, flush=True)

    def cycle(self) -> CycleResult:
        """Build and deploy what changed; any failure is one line, and the next cycle tries again."""
        self.number += 1
        n = self.number
        started = time.monotonic()
        before = snapshot(self.cfg.site)
        changed = changed_keys(self.previous, before)
        self.busy = True
        try:
            if not before:
                return self._done(n, False, f"cycle {n}: {self.cfg.site} is missing or empty; waiting for the build",
                                  changed)
            result = hashdeploy.build(self.cfg, update=True)
            built = time.monotonic()
            if snapshot(self.cfg.site) != before:
                return self._done(n, False, f"cycle {n}: the site changed while it was processed; waiting for it "
                                            "to settle", changed)
            uploaded: list[str] = []
            invalidated: tuple[str, ...] = ()
            tail = f"wrote {self.cfg.out}"
            if deploy_target(self.cfg) is not None:
                uploaded, invalidated, tail = self._deploy(result)
            what = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            head = (f"{len(changed)} changed" + (f" ({what})" if changed else "")) if self.previous else (
                f"{len(before)} files")
            self.previous = before
            line = (f"cycle {n}: {head}; {tail}; {time.monotonic() - started:.2f} s "
                    f"(processing {built - started:.2f} s)")
            return self._done(n, True, line, changed, uploaded, invalidated)
        except Exception as exc:  # noqa: BLE001 - an expected failure is one line, and the next cycle tries again
            failure = one_line(exc)
            if failure is None:
                raise
            return self._done(n, False, f"cycle {n} failed: {failure[0]}", changed)
        finally:
            self.busy = False

    def _deploy(self, result: BuildResult) -> tuple[list[str], tuple[str, ...], str]:
        if self.target is None:
            self.target = hashdeploy.open_target(self.cfg, "watch")
        due = time.monotonic() - self.last_invalidation >= self.interval
        report = hashdeploy.deploy(self.cfg, built=result, target=self.target, invalidate=due)
        uploaded = [a.key for a in report.plan.actions if a.action == "upload"]
        if report.invalidation_id:
            self.last_invalidation = time.monotonic()
        self.owed = report.pending
        failed = check_error(report)  # with --check-url: the cycle fails, the deploy stays committed
        if failed:
            raise failed
        inv = report.invalidation.paths if report.invalidation_id else ()
        tail = f"{len(uploaded)} uploaded, {report.skipped} skipped"
        if inv:
            tail += f", {len(inv)} path(s) invalidated"
        elif report.pending:
            tail += f", {len(report.invalidation.paths)} invalidation path(s) owed"
        return uploaded, inv, tail

    def flush_invalidation(self, force: bool = False) -> None:
        """Send owed invalidations once the coalescing interval has passed (or now, when stopping)."""
        due = time.monotonic() - self.last_invalidation >= self.interval
        if not self.owed or self.target is None or not (due or force):
            return
        self.busy = True
        try:
            # the same check as every cycle: a tree the build is still writing is never deployed
            before = snapshot(self.cfg.site)
            result = hashdeploy.build(self.cfg, update=True) if before else None
            if result is None or snapshot(self.cfg.site) != before:
                self._say(f"{self.cfg.site} is changing: the owed invalidation stays recorded for the next run")
                return
            report = hashdeploy.deploy(self.cfg, built=result, target=self.target)
            self.owed = report.pending
            if report.invalidation_id:
                self.last_invalidation = time.monotonic()
                self._say(f"invalidated {len(report.invalidation.paths)} owed path(s)")
        except Exception as exc:  # noqa: BLE001 - one line; the debt stays recorded for the next run
            failure = one_line(exc)
            if failure is None:
                raise
            self._say(f"invalidation failed: {failure[0]}")
        finally:
            self.busy = False

    def _done(self, n: int, ok: bool, line: str, changed: list[str], uploaded: list[str] | None = None,
              invalidated: tuple[str, ...] = ()) -> CycleResult:
        self._say(line)
        result = CycleResult(n, ok, line, changed, uploaded or [], invalidated)
        if self.on_cycle:
            self.on_cycle(result)
        return result

    def close(self) -> None:
        """Remove the temporary output directory, if one was made."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def run_watch(cfg: Settings, *, stream: TextIO | None = None, stop: threading.Event | None = None,
              on_cycle: Callable[[CycleResult], None] | None = None) -> int:
    """Deploy once, then after every quiet period. SIGINT, SIGTERM or SIGHUP while waiting stop the loop (owed
    invalidations are sent first); during a cycle they also stop its requests, as in any deploy. Either way the
    signal is raised again at the end (`Interrupted`), for the command's one line and exit code."""
    from hashdeploy.watch.observer import SiteWatcher

    quiet_period, invalidation_interval = cfg.quiet_period, cfg.invalidation_interval
    session = WatchSession(cfg, stream=stream, on_cycle=on_cycle)
    watcher = SiteWatcher(cfg.site, ignore=session.ignore)

    def on_signal(signum: int) -> bool:
        watcher.stop()
        if session.busy:  # the cycle (or flush) goes on processing, but starts no new request
            interrupt.request_stop(lambda: interrupt.Interrupted(signum))
        return True

    restore = interrupt.install()
    unlisten = interrupt.add_listener(on_signal)
    if stop is not None:
        def stopper() -> None:
            stop.wait()
            watcher.stop()

        threading.Thread(target=stopper, daemon=True).start()
    try:
        watcher.start()
        session._say(f"watching {cfg.site} (quiet period {quiet_period:g} s); Ctrl-C stops")
        session.cycle()
        while not watcher.stopping:
            wait = None if not session.owed else max(0.1, invalidation_interval)
            if watcher.wait_for_quiet(quiet_period, idle_timeout=wait):
                session.cycle()
            elif not watcher.stopping:
                session.flush_invalidation()
        session.flush_invalidation(force=True)  # what the last cycles owe is sent before leaving
        session._say("stopped")
        signum = interrupt.signalled()
        if signum is not None:
            raise interrupt.Interrupted(signum)
        return 0
    finally:
        watcher.stop()
        unlisten()
        restore()
        session.close()
