"""Prune: delete assets no recent deploy needs, never what a retained deploy or cached page may still ask for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hashdeploy.backends.base import Backend, Distribution
from hashdeploy.errors import ConfigError, ConflictError, HashdeployError, PruneAborted, PruneError, RemoteError
from hashdeploy.model import FileClass, OutputFile
from hashdeploy.publish import interrupt
from hashdeploy.publish.distributions import or_none
from hashdeploy.publish.history import Clock, now, read_history, record_of
from hashdeploy.publish.invalidation import Invalidation, caller_reference, plan_invalidation
from hashdeploy.publish.lock import locked
from hashdeploy.publish.records import DeployRecord
from hashdeploy.publish.run import cache_control_for, read_live, stable_copy
from hashdeploy.settings import Settings

STABLE = FileClass.STABLE.value


def stable_ttl(cfg: Settings, cdn: bool) -> float:
    """The longest time a stable file may be served from a cache: max-age and s-maxage of its Cache-Control."""
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
               clock: Clock = now) -> tuple[PruneReport, DeployRecord | None]:
    """Hashed/fingerprinted objects (and kept stable copies) no retained deploy references, gone long enough."""
    report = PruneReport()
    live, _ = read_live(backend)
    entries = read_history(backend)
    if live is None or not entries:
        return report, live
    records: dict[str, DeployRecord] = {}
    for e in entries:
        rec = record_of(backend, e["id"])
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
    present = backend.list_objects()
    protected |= still_loaded(entries, records, live, present)
    now = clock()
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


def still_loaded(entries: list[dict[str, Any]], records: dict[str, DeployRecord], live: DeployRecord,
                 present: dict[str, float]) -> set[str]:
    """What the stable files still served but gone from the live record (deploys keep pages removed from the
    site) may load: every hashed and fingerprinted object of the newest record that listed each of them, whose
    version is the one served. Records keep no per-page references, so the whole record is protected."""
    newest: dict[str, str] = {}
    for e in entries:
        rec = records.get(e["id"])
        for k, o in (rec.objects.items() if rec else ()):
            if o.cls == STABLE:
                newest[k] = e["id"]
    keep: set[str] = set()
    for rid in {rid for k, rid in newest.items() if k in present and k not in live.objects}:
        keep |= {k for k, o in records[rid].objects.items() if o.cls != STABLE}
    return keep


def prune(backend: Backend, cfg: Settings, *, keep: int = 5, older_than: float = 7 * 86400, max_deletes: int = 1000,
          delete_removed: bool = False, served_prefix: str = "/", cdn: bool = False,
          distributions: tuple[Distribution, ...] = (), dry_run: bool = False,
          break_lock: bool = False, clock: Clock = now) -> PruneReport:
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
    invs = [(d, plan_invalidation(report.removed_stable, list(live.objects) if live else [], d.served_prefix,
                                  cfg.invalidation_budget)) for d in or_none(distributions, served_prefix)]
    if report.removed_stable:
        report.invalidation = invs[0][1]
    if dry_run or not doomed:
        return report
    with locked(backend, "prune", break_lock=break_lock, warn=report.warnings.append, clock=clock):
        again, tag = read_live(backend)
        if live is None or again is None or again.id != live.id:
            raise ConflictError(f"{backend.name}: a deploy happened meanwhile; rerun prune")
        interrupt.enter(interrupt.DELETING)
        errors = backend.delete_objects(doomed)
        failed: list[str] = []
        for d, inv in invs if report.removed_stable else ():  # each distribution, even after one failed
            try:
                inv_id = backend.invalidate(inv.paths, caller_reference(
                    live.id, "prune:" + ",".join(report.removed_stable), inv.paths, d.id), d.id)
                report.invalidation_id = report.invalidation_id or inv_id
            except HashdeployError as exc:
                failed.append(str(exc))
    if failed:
        raise RemoteError("; ".join(failed) + "; the objects were deleted: invalidate those paths by hand "
                          f"({', '.join(invs[0][1].paths[:3])}…)")
    if errors:
        raise PruneError(f"{backend.name}: {len(errors)} of {len(doomed)} deletions failed (first: {errors[0][0]}: "
                         f"{errors[0][1]}); the rest were deleted; rerun prune")
    return report
