"""A progress bar on a terminal; silent when stderr is not a TTY (CI) or the work is short."""

from __future__ import annotations

import sys
import time
from typing import TextIO

MIN_TOTAL = 500  # below this many items the work is over before a bar helps


class Bar:
    """Draws `label [#####.....] n/total` on stderr, at most 10 times a second."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label, self.total, self.done, self._last = "", 0, 0, 0.0

    def start(self, label: str, total: int) -> None:
        """Begin a phase of `total` items."""
        self.label, self.total, self.done, self._last = label, total, 0, 0.0

    def advance(self, n: int) -> None:
        """Count n more items done."""
        self.done += n
        now = time.monotonic()
        if self.enabled and self.total >= MIN_TOTAL and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            width = 30
            filled = int(width * self.done / max(1, self.total))
            self.stream.write(f"\r{self.label:<10} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
            self.stream.flush()

    def finish(self) -> None:
        """End the phase and clear the line."""
        if self.enabled and self.total >= MIN_TOTAL:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()
