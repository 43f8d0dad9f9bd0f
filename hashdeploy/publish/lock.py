"""One deploy, rollback or prune at a time per target: a lease on a lock record written with If-None-Match: *.

The record (`.hashdeploy/lock.json`, readable by anyone who can read the bucket) names its holder by a label, the CI
run from the environment, `HASHDEPLOY_LOCK_LABEL`, or else an opaque id; never the local user or host name. It
carries an expiry, renewed by a background thread while the run goes on; an expired lock is taken over from any
host, and one left by a dead process on this host (recognised by a salted hash of the host) at once. Every takeover
is a conditional replace (If-Match on the ETag read), so two takers cannot both win, and a store that ignores
If-None-Match is detected before anything else is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hashdeploy.backends.base import Backend
from hashdeploy.errors import ConflictError, HashdeployError, LockedError
from hashdeploy.publish import interrupt
from hashdeploy.publish.records import LOCK

LEASE = 120.0  # seconds a lock stays valid without renewal
RENEW_EVERY = 30.0  # seconds between renewals
LABEL_ENV = "HASHDEPLOY_LOCK_LABEL"
# CI run identifiers, first found wins: (label, variables joined with "/")
_CI = (("GitHub Actions run", ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT")), ("GitLab job", ("CI_JOB_ID",)),
       ("Buildkite job", ("BUILDKITE_JOB_ID",)), ("CircleCI job", ("CIRCLE_WORKFLOW_JOB_ID",)),
       ("CodeBuild build", ("CODEBUILD_BUILD_ID",)), ("build", ("BUILD_ID",)))
_verified: set[str] = set()  # targets whose store was seen to refuse a second If-None-Match create


class LockLostError(ConflictError):
    """The lock could not be renewed (another run took it over, or the store kept failing): the run stopped."""


class LockUnsupportedError(HashdeployError):
    """The store accepted a conditional create of a record that exists: it cannot hold a lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _machine_secret() -> str:
    """Something only this machine reads (so the host hash cannot be reversed from a list of host names)."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id", "/proc/sys/kernel/random/boot_id"):
        with suppress(OSError):
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
            if text:
                return text
    return ""


def host_id(salt: str) -> str:
    """The salted hash that tells a lock left on this host, without naming the host."""
    raw = f"{salt}\0{_machine_secret()}\0{socket.gethostname()}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def label(token: str, env: dict[str, str] | None = None) -> str:
    """Who holds the lock, as the record says: HASHDEPLOY_LOCK_LABEL, the CI run, or an opaque run id."""
    env = dict(os.environ) if env is None else env
    if env.get(LABEL_ENV, "").strip():
        return env[LABEL_ENV].strip()[:200]
    for name, variables in _CI:
        values = [env.get(v, "").strip() for v in variables]
        if values[0]:
            return f"{name} {'/'.join(v for v in values if v)}"[:200]
    return f"run {token[:12]}"


def _holder(operation: str, now: datetime, lease: float) -> dict[str, Any]:
    token, salt = os.urandom(16).hex(), os.urandom(8).hex()
    return {"label": label(token), "token": token, "operation": operation, "pid": os.getpid(), "salt": salt,
            "host": host_id(salt), "started": now.isoformat(timespec="seconds"),
            "expires": (now + timedelta(seconds=lease)).isoformat(timespec="seconds")}


def _describe(h: dict[str, Any]) -> str:
    who = h.get("label") or f"{h.get('user')}@{h.get('host')}"  # a lock written before labels named user@host
    until = f", expires {h['expires']}" if h.get("expires") else ""
    return f"{who} pid {h.get('pid')} ({h.get('operation')}) since {h.get('started')}{until}"


def _expired(h: dict[str, Any], now: datetime) -> bool:
    try:
        return bool(h.get("expires")) and datetime.fromisoformat(str(h["expires"])) <= now
    except ValueError:
        return True  # an expiry nobody can read protects nothing


def _same_host(h: dict[str, Any]) -> bool:
    if "salt" in h:
        return h.get("host") == host_id(str(h["salt"]))
    return h.get("host") == socket.gethostname()  # a lock written before hashed hosts


def _why_stale(other: dict[str, Any], now: datetime) -> str | None:
    """Why a lock found in place may be taken over, or None when its holder may still be running."""
    pid = other.get("pid")
    if isinstance(pid, int) and _same_host(other):
        # a dead process's lock, or our own left by a release that failed (watch mode runs cycle after cycle)
        if pid == os.getpid() or not _alive(pid):
            return "which is no longer running"
    return "whose lease expired" if _expired(other, now) else None


@contextmanager
def locked(backend: Backend, operation: str, *, break_lock: bool = False,
           warn: Callable[[str], None] = lambda message: None,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC),
           lease: float | None = None, renew_every: float | None = None) -> Iterator[None]:
    """Hold the target's lock for the block, renewing its lease; a stop request (a signal, a lost lease) is
    honoured at the block's checkpoints and the lock released on the way out."""
    lease = LEASE if lease is None else lease
    renew_every = RENEW_EVERY if renew_every is None else renew_every
    interrupt.checkpoint()  # no lock is taken once a stop was asked for
    me = _holder(operation, clock(), lease)
    if break_lock:
        old = backend.read_record(LOCK)
        if old is not None:
            warn(f"broke the lock of {_describe(_parse(old))}")
            backend.delete_record(LOCK)
    with interrupt.shielded():  # a signal while the lock is being taken: the lock is taken, then released
        tag = _acquire(backend, me, warn, clock)
        interrupt.begin(operation)
        renewer = _Renewer(backend, me, tag, lease, renew_every, clock)
        renewer.start()
        try:
            interrupt.checkpoint()
            yield
        except BaseException:
            renewer.finish()
            with suppress(Exception):  # the failure that stopped the run is the one to report
                _release(backend, me["token"])
            raise
        finally:
            renewer.finish()
            interrupt.withdraw(renewer.lost)
        _release(backend, me["token"])
    interrupt.checkpoint()  # a signal that came after the last checkpoint still ends the command as a signal


def _parse(raw: bytes | None) -> dict[str, Any]:
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _acquire(backend: Backend, me: dict[str, Any], warn: Callable[[str], None],
             clock: Callable[[], datetime]) -> str:
    body = json.dumps(me, sort_keys=True).encode()
    try:
        tag = backend.write_record(LOCK, body, if_absent=True)
    except ConflictError:
        found = backend.read_record_tag(LOCK)
        if found is None:  # released meanwhile
            try:
                tag = backend.write_record(LOCK, body, if_absent=True)
            except ConflictError:
                raise LockedError(f"{backend.name}: another run took the lock first; wait for it to finish") from None
        else:
            other = _parse(found[0])
            why = _why_stale(other, clock())
            if why is None:
                raise LockedError(f"{backend.name}: locked by {_describe(other)}; wait for it to finish, or pass "
                                  "--break-lock if that run is dead") from None
            try:  # conditional: of two runs taking over the same stale lock, one wins
                tag = backend.write_record(LOCK, body, if_match=found[1])
            except ConflictError:
                raise LockedError(f"{backend.name}: another run took over the stale lock first; wait for it "
                                  "to finish") from None
            warn(f"took over the lock left by {_describe(other)}, {why}")
    _check_conditional(backend, body)
    return tag


def _check_conditional(backend: Backend, body: bytes) -> None:
    """A second If-None-Match create of the lock must be refused; a store that accepts it cannot lock."""
    if backend.name in _verified:
        return
    try:
        backend.write_record(LOCK, body, if_absent=True)
    except ConflictError:
        _verified.add(backend.name)
        return
    except HashdeployError:
        return  # inconclusive (the store is failing): the run goes on and reports what fails next
    with suppress(Exception):
        backend.delete_record(LOCK)
    raise LockUnsupportedError(
        f"{backend.name}: the store ignores If-None-Match (it accepted creating .hashdeploy/lock.json over an "
        "existing one), so two runs could both take the lock; use a store with conditional writes (AWS S3, "
        "MinIO, Cloudflare R2 support them); nothing was changed")


def _release(backend: Backend, token: str) -> None:
    if _parse(backend.read_record(LOCK)).get("token") == token:
        backend.delete_record(LOCK)


class _Renewer(threading.Thread):
    """Extends the lease every `every` seconds; when it cannot (taken over, or failing until the lease would run
    out), asks the run to stop."""

    def __init__(self, backend: Backend, me: dict[str, Any], tag: str, lease: float, every: float,
                 clock: Callable[[], datetime]) -> None:
        super().__init__(name="hashdeploy-lock-lease", daemon=True)
        self.backend, self.me, self.tag, self.lease, self.every, self.clock = backend, dict(me), tag, lease, every, clock
        self.done = threading.Event()
        self.expires = clock() + timedelta(seconds=lease)
        self.failure = ""

    def lost(self) -> BaseException:
        return LockLostError(f"{self.backend.name}: the lock's lease could not be renewed ({self.failure}); "
                             f"another run may hold it now, so this one stopped: {interrupt.describe()}")

    def run(self) -> None:
        delay = self.every
        while not self.done.wait(delay):
            now = self.clock()
            me = self.me | {"expires": (now + timedelta(seconds=self.lease)).isoformat(timespec="seconds")}
            try:
                self.tag = self.backend.write_record(LOCK, json.dumps(me, sort_keys=True).encode(), if_match=self.tag)
                self.me, self.expires, delay = me, now + timedelta(seconds=self.lease), self.every
                continue
            except ConflictError:
                self.failure = "the lock was replaced or removed by another run"
            except Exception as exc:  # noqa: BLE001 - any failure to renew is retried while the lease lasts
                self.failure = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                left = (self.expires - self.clock()).total_seconds()
                if left > min(self.every, 10.0):
                    delay = min(self.every / 3, 5.0)
                    continue
            interrupt.request_stop(self.lost)
            return

    def finish(self) -> None:
        self.done.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=30)
