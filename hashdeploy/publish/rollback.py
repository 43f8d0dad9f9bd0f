"""Rollback (and roll forward): put a recorded deploy's stable files back live, without a rebuild."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hashdeploy.backends.base import Backend, Distribution, Upload
from hashdeploy.errors import ConflictError, RollbackError
from hashdeploy.model import FileClass
from hashdeploy.publish import interrupt
from hashdeploy.publish.distributions import Sent, finish_invalidation, or_none, plan_all
from hashdeploy.publish.history import Clock, now, previous_version, read_history, record_of
from hashdeploy.publish.invalidation import Invalidation
from hashdeploy.publish.lock import locked
from hashdeploy.publish.records import DeployRecord
from hashdeploy.publish.run import commit, mark_dirty, new_deploy_id, preserve, read_live, stable_copy
from hashdeploy.settings import Settings

STABLE = FileClass.STABLE.value


@dataclass(frozen=True, slots=True)
class RollbackReport:
    """What a rollback did (or, dry run, would do)."""

    target_id: str
    deploy_id: str | None
    restored: tuple[str, ...]
    invalidation: Invalidation
    invalidation_id: str | None
    warnings: tuple[str, ...]
    dry_run: bool
    distributions: tuple[Sent, ...] = ()  # each distribution's invalidation (`invalidation` is the first one's)


def _differs(a: Any, b: Any) -> bool:
    return b is None or (a.sha256, a.cache_control, a.content_type) != (b.sha256, b.cache_control, b.content_type)


def rollback(backend: Backend, cfg: Settings, target_id: str | None = None, *, served_prefix: str = "/",
             distributions: tuple[Distribution, ...] = (), dry_run: bool = False, break_lock: bool = False,
             clock: Clock = now) -> RollbackReport:
    """Put a recorded deploy's stable files back live exactly as they were; no rebuild, no local files."""
    live, tag = read_live(backend)
    if live is None:
        raise RollbackError(f"{backend.name}: nothing is deployed yet; there is nothing to roll back")
    entries = read_history(backend)
    if target_id is None:  # the version before the live one, rollbacks skipped
        origin, target_id = previous_version(entries, live.id)
        if target_id is None:
            what = f"{live.id} is" if origin == live.id else f"the live deploy {live.id} serves deploy {origin},"
            raise RollbackError(f"{backend.name}: {what} the first deploy; there is nothing before it "
                                "(`hashdeploy rollback ID` restores any recorded deploy)")
    if target_id == live.id:
        raise RollbackError(f"{backend.name}: deploy {target_id} is already live")
    target = record_of(backend, target_id)
    if target is None:
        raise RollbackError(f"{backend.name}: no deploy {target_id!r} is recorded; `hashdeploy history` lists them")
    present = backend.list_objects()
    gone = sorted(k for k, o in target.objects.items() if o.cls != STABLE and k not in present)
    if gone:
        raise RollbackError(f"deploy {target_id} cannot be restored: {len(gone)} of its assets were pruned "
                            f"(first: {gone[0]}); pick a newer deploy")
    dirty = set(live.dirty)  # keys an interrupted run may have overwritten: their bytes are unknown
    restore = sorted(k for k, o in target.objects.items()
                     if o.cls == STABLE and (k in dirty or _differs(o, live.objects.get(k))))
    # a body still live at its key only needs its headers put back; any other comes from the kept copies
    in_place = {k for k in restore
                if k not in dirty and k in live.objects and live.objects[k].sha256 == target.objects[k].sha256}
    lost = [k for k in restore if k not in in_place and stable_copy(target.objects[k].sha256) not in present]
    if lost:
        raise RollbackError(f"deploy {target_id} cannot be restored: no kept copy of {lost[0]} ({len(lost)} file(s); "
                            "pruned, or replaced by a deploy with --no-rollback-copies); pick a newer deploy")
    owed = sorted(set(restore) | set(live.pending_invalidation) | (dirty - set(target.objects)))
    dists = or_none(distributions, served_prefix)
    invs = plan_all(live, dists, owed, list(target.objects), cfg.invalidation_budget)
    report = RollbackReport(target_id=target_id, deploy_id=None, restored=tuple(restore), invalidation=invs[0][1],
                            invalidation_id=None, warnings=(), dry_run=dry_run,
                            distributions=tuple(Sent(d.id, inv) for d, inv in invs))
    if dry_run:
        return report
    warnings: list[str] = []
    with locked(backend, "rollback", break_lock=break_lock, warn=warnings.append, clock=clock):
        again, tag = read_live(backend)
        if again is None or again.id != live.id:
            raise ConflictError(f"{backend.name}: another run changed the live deploy meanwhile; rerun the rollback")
        # keep what is live now (so rolling forward works), then other stable files first, pages last
        preserve(backend, [k for k in restore if k not in in_place], live, lambda n: None)
        tag = mark_dirty(backend, live, tag, restore)
        pages = [k for k in restore if target.objects[k].content_type.startswith("text/html")]
        for keys in ([k for k in restore if k not in pages], pages):
            interrupt.enter(interrupt.PAGES)
            backend.copy_objects([(k if k in in_place else stable_copy(target.objects[k].sha256), _upload(k, target))
                                  for k in keys], lambda n: None)
        record = DeployRecord(id=new_deploy_id(clock(), target.objects),
                              created=clock().isoformat(timespec="seconds"), objects=dict(target.objects),
                              pending_invalidation=tuple(owed), base=live.id, kind="rollback",
                              rollback_of=target_id, uploaded=len(restore),
                              pending_by_distribution=dict(live.pending_by_distribution))
        interrupt.checkpoint()
        tag = commit(backend, record, tag, live)
        interrupt.reached(interrupt.COMMITTED if any(inv.paths for _, inv in invs) else interrupt.DONE)
        done = finish_invalidation(backend, cfg, record, tag, dists, list(target.objects), True, warnings)
    return replace(report, deploy_id=record.id, warnings=tuple(warnings), invalidation_id=done.get("invalidation_id"),
                   distributions=done.get("distributions", report.distributions))


def _upload(key: str, record: DeployRecord) -> Upload:
    o = record.objects[key]
    return Upload(key, Path(), o.content_type, o.cache_control, o.sha256, o.size)


