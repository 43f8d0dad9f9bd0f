"""After deploys: history, rollback (and roll forward) without a rebuild, and safe pruning of old assets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .backend import Backend, Upload
from .config import Config
from .deploy import commit, finish_invalidation, mark_dirty, new_deploy_id, preserve, read_live, stable_copy
from .errors import ConfigError, ConflictError, HashdeployError
from .invalidate import Invalidation, plan_invalidation
from .lock import locked
from .model import FileClass
from .records import HISTORY, DeployRecord, from_bytes, history_from_bytes

STABLE = FileClass.STABLE.value
Clock = Callable[[], datetime]


class RollbackError(HashdeployError):
    """The requested deploy cannot be put back live."""


class PruneAborted(HashdeployError):
    """A prune plan crossed a safety limit; nothing was deleted."""


class PruneError(HashdeployError):
    """Some deletions failed."""


def _now() -> datetime:
    return datetime.now(UTC)


def read_history(backend: Backend) -> list[dict[str, Any]]:
    """Deploy entries, oldest first (the live deploy included even if the index missed it)."""
    entries = history_from_bytes(backend.read_record(HISTORY), f"{backend.name}.hashdeploy/{HISTORY}")
    live, _ = read_live(backend)
    if live is not None and all(e.get("id") != live.id for e in entries):
        from .records import history_entry

        entries.append(history_entry(live))
    return entries


def history(backend: Backend) -> list[dict[str, Any]]:
    """Deploys newest first, each with `live` true for the one being served."""
    live, _ = read_live(backend)
    return [dict(e, live=live is not None and e.get("id") == live.id) for e in reversed(read_history(backend))]


def _record(backend: Backend, deploy_id: str) -> DeployRecord | None:
    data = backend.read_record(f"deploys/{deploy_id}.json")
    return None if data is None else from_bytes(data, f"{backend.name}.hashdeploy/deploys/{deploy_id}.json")


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


def _differs(a: Any, b: Any) -> bool:
    return b is None or (a.sha256, a.cache_control, a.content_type) != (b.sha256, b.cache_control, b.content_type)


def rollback(backend: Backend, cfg: Config, target_id: str | None = None, *, served_prefix: str = "/",
             dry_run: bool = False, break_lock: bool = False, clock: Clock = _now) -> RollbackReport:
    """Put a recorded deploy's stable files back live exactly as they were; no rebuild, no local files."""
    live, tag = read_live(backend)
    if live is None:
        raise RollbackError(f"{backend.name}: nothing is deployed yet; there is nothing to roll back")
    entries = read_history(backend)
    if target_id is None:
        ids = [e["id"] for e in entries]
        here = ids.index(live.id) if live.id in ids else len(ids)
        if here == 0:
            raise RollbackError(f"{backend.name}: {live.id} is the first deploy; there is nothing before it")
        target_id = ids[here - 1]
    if target_id == live.id:
        raise RollbackError(f"{backend.name}: deploy {target_id} is already live")
    target = _record(backend, target_id)
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
    inv = plan_invalidation(owed, list(target.objects), served_prefix, cfg.invalidation_budget)
    report = dict(target_id=target_id, deploy_id=None, restored=tuple(restore), invalidation=inv,
                  invalidation_id=None, warnings=(), dry_run=dry_run)
    if dry_run:
        return RollbackReport(**report)  # type: ignore[arg-type]
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
            backend.copy_objects([(k if k in in_place else stable_copy(target.objects[k].sha256), _upload(k, target))
                                  for k in keys], lambda n: None)
        record = DeployRecord(id=new_deploy_id(clock(), target.objects),
                              created=clock().isoformat(timespec="seconds"), objects=dict(target.objects),
                              pending_invalidation=tuple(owed), base=live.id, kind="rollback",
                              rollback_of=target_id, uploaded=len(restore))
        tag = commit(backend, record, tag, live)
        done = finish_invalidation(backend, cfg, record, tag, inv, True, warnings)
    return RollbackReport(**(report | dict(deploy_id=record.id, warnings=tuple(warnings),  # type: ignore[arg-type]
                                           invalidation_id=done.get("invalidation_id"))))


def _upload(key: str, record: DeployRecord) -> Upload:
    o = record.objects[key]
    return Upload(key, Path(), o.content_type, o.cache_control, o.sha256, o.size)


_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """'7d', '36h', '90m', '3600' -> seconds."""
    m = _AGE.match(text.strip().lower())
    if not m:
        raise ConfigError(f"Config value 'older_than': {text!r} is not an age like 7d, 36h or 3600")
    return float(m.group(1)) * _UNIT[m.group(2)]


def stable_ttl(cfg: Config, cdn: bool) -> float:
    """The longest time a stable file may be served from a cache: max-age and s-maxage of its Cache-Control."""
    from .deploy import cache_control_for
    from .model import OutputFile

    values = [cache_control_for(OutputFile("x.html", "x.html", FileClass.STABLE, "", 0, "text/html", ""), cfg, cdn)]
    values += [rule.partition("=")[2] for rule in cfg.cache_control]
    ages = [float(a) for v in values for a in re.findall(r"(?:s-)?max-age\s*=\s*(\d+)", v)]
    return max(ages, default=0.0)


@dataclass
class PruneReport:
    """What a prune deleted (or, dry run, would delete), and why."""

    deletions: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    removed_stable: list[str] = field(default_factory=list)
    unknown_kept: int = 0
    invalidation: Invalidation | None = None
    invalidation_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False


def plan_prune(backend: Backend, *, keep: int, older_than: float, delete_removed: bool,
               clock: Clock = _now) -> tuple[PruneReport, DeployRecord | None]:
    """Hashed/fingerprinted objects (and kept stable copies) no retained deploy references, gone long enough."""
    report = PruneReport()
    live, _ = read_live(backend)
    entries = read_history(backend)
    if live is None or not entries:
        return report, live
    records: dict[str, DeployRecord] = {}
    for e in entries:
        rec = _record(backend, e["id"])
        if rec is None:
            report.warnings.append(f"the record of deploy {e['id']} is missing; its objects are treated as unknown")
        else:
            records[e["id"]] = rec
    retained = {e["id"] for e in entries[-keep:]} | {live.id}
    protected: set[str] = set()
    last_ref: dict[str, int] = {}
    for i, e in enumerate(entries):
        rec = records.get(e["id"])
        for k, o in (rec.objects.items() if rec else ()):
            key = stable_copy(o.sha256) if o.cls == STABLE else k
            last_ref[key] = i
            if e["id"] in retained:
                protected.add(key)
    protected |= set(live.objects)
    now = clock()
    present = backend.list_objects()
    for key in sorted(present):
        if key in protected:
            continue
        if key not in last_ref:
            report.unknown_kept += 1  # no record knows it: not ours to delete
            continue
        i = last_ref[key]
        left = datetime.fromisoformat(entries[i + 1]["created"]) if i + 1 < len(entries) else now
        age = (now - left).total_seconds()
        if age >= older_than:
            report.deletions.append((key, f"last in deploy {entries[i]['id']}, off the live site for {age / 86400:.1f} d"))
    if delete_removed:
        ever_stable = {k for rec in records.values() for k, o in rec.objects.items() if o.cls == STABLE}
        report.removed_stable = sorted(k for k in ever_stable if k in present and k not in live.objects)
    return report, live


def prune(backend: Backend, cfg: Config, *, keep: int = 5, older_than: float = 7 * 86400, max_deletes: int = 1000,
          delete_removed: bool = False, served_prefix: str = "/", cdn: bool = False, dry_run: bool = False,
          break_lock: bool = False, clock: Clock = _now) -> PruneReport:
    """Delete what no recent deploy needs; abort before deleting anything when a plan looks wrong."""
    floor = stable_ttl(cfg, cdn) + 3600
    if keep < 1:
        raise ConfigError(f"Config value 'keep': {keep} must be at least 1")
    if older_than < floor:
        raise ConfigError(f"Config value 'older_than': {older_than:.0f} s is shorter than the stable files' caching "
                          f"time plus an hour ({floor:.0f} s): cached pages could still ask for those assets")
    report, live = plan_prune(backend, keep=keep, older_than=older_than, delete_removed=delete_removed, clock=clock)
    report.dry_run = dry_run
    doomed = [k for k, _ in report.deletions] + report.removed_stable
    total = len(backend.list_objects()) if doomed else 0
    if len(doomed) > max_deletes:
        raise PruneAborted(f"{backend.name}: the plan deletes {len(doomed)} objects, over --max-deletes {max_deletes}; "
                           "nothing was deleted (check with --dry-run, then raise the cap)")
    if doomed and len(doomed) * 2 > total:
        raise PruneAborted(f"{backend.name}: the plan deletes {len(doomed)} of {total} objects, more than half; "
                           "nothing was deleted (check `hashdeploy history` and --dry-run)")
    if report.removed_stable:
        report.invalidation = plan_invalidation(report.removed_stable, list(live.objects) if live else [],
                                                served_prefix, cfg.invalidation_budget)
    if dry_run or not doomed:
        return report
    with locked(backend, "prune", break_lock=break_lock, warn=report.warnings.append, clock=clock):
        again, tag = read_live(backend)
        if live is None or again is None or again.id != live.id:
            raise ConflictError(f"{backend.name}: a deploy happened meanwhile; rerun prune")
        errors = backend.delete_objects(doomed)
        if report.invalidation and report.invalidation.paths:
            from .invalidate import caller_reference

            report.invalidation_id = backend.invalidate(report.invalidation.paths, caller_reference(
                live.id, "prune:" + ",".join(report.removed_stable), report.invalidation.paths))
    if errors:
        raise PruneError(f"{backend.name}: {len(errors)} of {len(doomed)} deletions failed (first: {errors[0][0]}: "
                         f"{errors[0][1]}); the rest were deleted; rerun prune")
    return report
