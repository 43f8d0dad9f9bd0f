"""Stopping a run cleanly: SIGINT/SIGTERM/SIGHUP (or a lost lock) ask for a stop, and the stage reached says what is live.

While a run holds the target's lock a signal only sets the stop request: no new request starts after it (the
backends check `checkpoint()` before each one, the deploy before each phase), in-flight ones finish, the lock is
released, and `describe()` gives the one line saying what state the live site is in. Outside the lock (reading,
planning, processing the site) a signal raises `Interrupted` at once, as Ctrl-C does. A second signal always does.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)

# stages, in the order a deploy reaches them
NOTHING = "nothing"  # planning, taking the lock, keeping bodies aside: nothing is live yet
ASSETS = "assets"  # hashed and fingerprinted objects: new names, nothing serves them yet
PAGES = "pages"  # stable files and HTML are being replaced: the live site is partly the new deploy
COMMITTED = "committed"  # the record names the new deploy live; its invalidation is still owed
DONE = "done"  # live and invalidated (or nothing to invalidate)
DELETING = "deleting"  # prune: deleting objects no retained deploy uses


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run (a KeyboardInterrupt, so nothing catching Exception swallows it)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.stop = threading.Event()
        self.reason: Callable[[], BaseException] | None = None
        self.signum: int | None = None
        self.shield = 0
        self.listeners: list[Callable[[int], bool]] = []
        self.operation: str | None = None
        self.stage = NOTHING


_state = _State()


def reset() -> None:
    """Forget any stop request, signal and stage (each command starts from here)."""
    global _state
    listeners = _state.listeners
    _state = _State()
    _state.listeners = listeners


def request_stop(reason: Callable[[], BaseException]) -> None:
    """Ask the run to stop at its next checkpoint, which raises `reason()` (the first reason given wins)."""
    with _state.guard:
        if _state.reason is None:
            _state.reason = reason
        _state.stop.set()


def withdraw(reason: Callable[[], BaseException]) -> None:
    """Cancel a stop request made with `reason` (a lost lock, once the run that held it has ended)."""
    with _state.guard:
        if _state.reason == reason:  # a bound method is a new object each time it is read
            _state.reason = None
            _state.stop.clear()


def stopping() -> bool:
    """True once a stop was requested."""
    return _state.stop.is_set()


def signalled() -> int | None:
    """The first signal received since the last reset, if any."""
    return _state.signum


def checkpoint() -> None:
    """Raise the stop request, if there is one: called before starting anything new."""
    if _state.stop.is_set():
        with _state.guard:
            reason = _state.reason
        raise reason() if reason is not None else Interrupted()


def wait(seconds: float) -> bool:
    """Sleep up to `seconds`, waking early (True) when a stop is requested."""
    return _state.stop.wait(max(0.0, seconds))


@contextmanager
def shielded() -> Iterator[None]:
    """A region (holding the lock) where a first signal only requests a stop, so the run can end cleanly."""
    with _state.guard:
        _state.shield += 1
    try:
        yield
    finally:
        with _state.guard:
            _state.shield -= 1


def begin(operation: str) -> None:
    """A deploy, rollback or prune starts changing the target."""
    _state.operation, _state.stage = operation, NOTHING


def enter(stage: str) -> None:
    """Start a stage, unless a stop was requested (then raise it: the stage never starts)."""
    checkpoint()
    _state.stage = stage


def reached(stage: str) -> None:
    """Note a stage reached (no check: what it names is already done)."""
    _state.stage = stage


def operation() -> str | None:
    """The operation that last began changing a target, if any."""
    return _state.operation


def describe() -> str:
    """What the live site holds after a stop at the current stage, and what to do."""
    op = _state.operation or "deploy"
    done = {"rollback": "rolled back", "prune": "pruned"}.get(op, "deployed")
    return {
        NOTHING: "nothing live changed",
        ASSETS: "new assets uploaded but not yet live; rerun to complete the deploy",
        PAGES: f"the {op} was partly live: pages may be mixed; rerun to complete it",
        COMMITTED: f"{done}; the invalidation is owed to the next run",
        DONE: f"{done}; nothing is owed",
        DELETING: "nothing live changed; some objects no kept deploy uses were deleted; rerun prune to finish",
    }[_state.stage]


def add_listener(listener: Callable[[int], bool]) -> Callable[[], None]:
    """Call `listener(signum)` on a first signal; when it returns True the signal is handled (no stop, no raise).
    Returns the function that removes it."""
    _state.listeners.append(listener)
    return lambda: _state.listeners.remove(listener) if listener in _state.listeners else None


def _handler(signum: int, frame: FrameType | None) -> None:
    with _state.guard:
        first = _state.signum is None
        if first:
            _state.signum = signum
        shield = _state.shield
    if not first:
        raise Interrupted(_state.signum or signum)
    if any(listener(signum) for listener in list(_state.listeners)):
        return
    if shield:
        request_stop(lambda: Interrupted(signum))
        return
    raise Interrupted(signum)


def install() -> Callable[[], None]:
    """Handle SIGINT, SIGTERM and SIGHUP as above (main thread only); returns the function that restores them."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.signal(s, _handler) for s in SIGNALS}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
