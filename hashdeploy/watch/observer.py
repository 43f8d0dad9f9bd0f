"""Watch a site directory with watchdog and call a rebuild after each quiet period (the only watchdog import)."""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

log = logging.getLogger(__name__)
# When SITE is deleted and created again, watchdog's inotify emitter re-adds its callbacks for the new tree and
# warns that they "already exist"; it then replaces them, which is what we want.
warnings.filterwarnings("ignore", message=r"Callback with id .* already exists", category=RuntimeWarning)
_IGNORED_TYPES = frozenset({"opened", "closed_no_write"})  # reads are not changes


class _Handler(FileSystemEventHandler):
    def __init__(self, on_event: Callable[[FileSystemEvent], None]) -> None:
        self.on_event = on_event

    def on_any_event(self, event: FileSystemEvent) -> None:
        # a directory's own "modified" only echoes a change inside it, which has its own event
        if event.event_type not in _IGNORED_TYPES and not (event.is_directory and event.event_type == "modified"):
            self.on_event(event)


class SiteWatcher:
    """Notices changes under `site`, including the directory vanishing and coming back.

    watchdog's callbacks only record that something happened, under a Condition; `wait_for_quiet` runs in the
    caller's thread, so a rebuild never runs on an observer thread.
    """

    def __init__(self, site: Path, ignore: Callable[[str], bool] = lambda path: False) -> None:
        self.site = site.resolve()
        self.ignore = ignore
        self._cond = threading.Condition()
        self._dirty = False
        self._last = 0.0
        self._stopping = False
        self._observer = Observer()
        self._site_watch: ObservedWatch | None = None

    def start(self) -> None:
        """Watch the parent (for SITE itself appearing or going) and SITE recursively, if it exists."""
        self._observer.schedule(_Handler(self._on_parent_event), str(self.site.parent), recursive=False)
        self._watch_site()
        self._observer.start()

    def _watch_site(self) -> None:
        with self._cond:
            if self._site_watch is not None:
                try:
                    self._observer.unschedule(self._site_watch)
                except (KeyError, ValueError):
                    pass
                self._site_watch = None
            if self.site.is_dir():
                self._site_watch = self._observer.schedule(_Handler(self._on_site_event), str(self.site),
                                                           recursive=True)

    def _on_parent_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        if str(self.site) not in (src, dest):
            return
        arrived = (event.event_type == "created" and src == str(self.site)) or (
            event.event_type == "moved" and dest == str(self.site))
        if arrived and self.site.is_dir():
            self._watch_site()  # a new directory: files written before this moment are seen by the next scan
        self._touch()

    def _on_site_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        if self.ignore(src) and (not dest or self.ignore(dest)):
            return
        self._touch()

    def _touch(self) -> None:
        with self._cond:
            self._dirty = True
            self._last = time.monotonic()
            self._cond.notify_all()

    def wait_for_quiet(self, quiet: float, idle_timeout: float | None = None) -> bool:
        """Block until a change was followed by `quiet` seconds without events; False when stopping or idle."""
        with self._cond:
            deadline = None if idle_timeout is None else time.monotonic() + idle_timeout
            while not self._dirty and not self._stopping:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            while not self._stopping:
                remaining = self._last + quiet - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._stopping:
                return False
            self._dirty = False
            return True

    def stop(self) -> None:
        """Wake any waiter and stop the observer (once)."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        # watchdog's inotify emitter may log a harmless "called when the thread is inactive" while it shuts down
        logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)
        self._observer.stop()
        if threading.current_thread() is not self._observer:
            self._observer.join(timeout=5)

    @property
    def stopping(self) -> bool:
        """True once stop() was called."""
        return self._stopping
