"""One deploy, rollback or prune at a time per target: a lock record written with If-None-Match: *."""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from hashdeploy.backends.base import Backend
from hashdeploy.errors import ConflictError, LockedError
from hashdeploy.publish.records import LOCK


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(operation: str, now: datetime) -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"host": socket.gethostname(), "pid": os.getpid(), "user": user, "operation": operation,
            "started": now.isoformat(timespec="seconds")}


def _describe(h: dict[str, Any]) -> str:
    return f"{h.get('user')}@{h.get('host')} pid {h.get('pid')} ({h.get('operation')}) since {h.get('started')}"


@contextmanager
def locked(backend: Backend, operation: str, *, break_lock: bool = False,
           warn: Callable[[str], None] = lambda message: None,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Iterator[None]:
    """Hold the target's lock for the block; a lock left by a dead process on this host is taken over."""
    me = _holder(operation, clock())
    body = json.dumps(me, sort_keys=True).encode()
    if break_lock:
        old = backend.read_record(LOCK)
        if old is not None:
            warn(f"broke the lock of {_describe(json.loads(old))}")
            backend.delete_record(LOCK)
    try:
        backend.write_record(LOCK, body, if_absent=True)
    except ConflictError:
        raw = backend.read_record(LOCK)
        other = json.loads(raw) if raw else {}
        same_host = other.get("host") == me["host"] and isinstance(other.get("pid"), int)
        # a dead process's lock, or our own left by a release that failed (watch mode runs cycle after cycle)
        stale = same_host and (other["pid"] == me["pid"] or not _alive(other["pid"]))
        if not stale:
            raise LockedError(f"{backend.name}: locked by {_describe(other)}; wait for it to finish, or pass "
                              "--break-lock if that run is dead") from None
        warn(f"took over the lock left by {_describe(other)}, which is no longer running")
        backend.delete_record(LOCK)
        try:
            backend.write_record(LOCK, body, if_absent=True)
        except ConflictError:
            raise LockedError(f"{backend.name}: another run took the lock first; wait for it to finish") from None
    try:
        yield
    except BaseException:
        try:
            _release(backend, body)
        except Exception:  # noqa: BLE001 - the failure that stopped the run is the one to report
            pass
        raise
    _release(backend, body)


def _release(backend: Backend, body: bytes) -> None:
    if backend.read_record(LOCK) == body:
        backend.delete_record(LOCK)
