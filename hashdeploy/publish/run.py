"""Deploy a processed site: plan against the live record, upload in a safe order, commit, invalidate."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashdeploy.backends.base import Backend, Distribution, Upload
from hashdeploy.errors import DeployInputError
from hashdeploy.globs import matches
from hashdeploy.model import BuildResult, FileClass, OutputFile, Progress, Quiet
from hashdeploy.publish import interrupt
from hashdeploy.publish.distributions import Sent, finish_invalidation, or_none, plan_all
from hashdeploy.publish.invalidation import Invalidation
from hashdeploy.publish.lock import locked
from hashdeploy.publish.plan import PHASE_ASSETS, PHASE_HTML, PHASE_STABLE, Action, DeployPlan, plan_deploy
from hashdeploy.publish.records import (
    CURRENT,
    HISTORY,
    STABLE_STORE,
    DeployRecord,
    RemoteObject,
    content_hash,
    from_bytes,
    history_entry,
    history_from_bytes,
    history_to_bytes,
    to_bytes,
)
from hashdeploy.publish.report import DeployReport
from hashdeploy.settings import STABLE_CACHE_CONTROL, STABLE_CDN_SUFFIX, Settings


def cache_control_for(f: OutputFile, cfg: Settings, cdn: bool) -> str:
    """Cache-Control by glob override, else by class: forever for hashed names, revalidated for stable ones."""
    for rule in cfg.cache_control:
        glob, _, value = rule.partition("=")
        if matches(f.key, (glob.strip(),)):
            return value.strip()
    if f.cls is not FileClass.STABLE:
        return cfg.hashed_cache_control
    if cfg.stable_cache_control is not None:
        return cfg.stable_cache_control
    return STABLE_CACHE_CONTROL + (STABLE_CDN_SUFFIX if cdn else "")


def check_keys(files: tuple[OutputFile, ...], prefix: str) -> None:
    """Refuse keys S3 cannot store or a browser cannot ask for, before anything is written."""
    for f in files:
        full = prefix + f.key
        if len(full.encode("utf-8")) > 1024:
            raise DeployInputError(f"{f.key}: the object key is {len(full.encode())} bytes, over S3's 1,024; "
                                   "shorten the path")
        if any(ord(c) < 32 or ord(c) == 127 for c in full):
            raise DeployInputError(f"{f.key!r}: the name holds control characters; rename the file")


def read_live(backend: Backend) -> tuple[DeployRecord | None, str | None]:
    """The live deploy's record and its tag (for an If-Match commit): one GET."""
    found = backend.read_record_tag(CURRENT)
    if found is None:
        return None, None
    return from_bytes(found[0], f"{backend.name}.hashdeploy/{CURRENT}"), found[1]


def commit(backend: Backend, record: DeployRecord, live_tag: str | None, previous: DeployRecord | None) -> str:
    """Make `record` the live deploy: archive it, swap current.json (If-Match), append to history."""
    blob = to_bytes(record)
    backend.write_record(f"deploys/{record.id}.json", blob)
    tag = backend.write_record(CURRENT, blob, if_match=live_tag, if_absent=live_tag is None)
    record_history(backend, [r for r in (previous, record) if r is not None])
    return tag


def record_history(backend: Backend, records: list[DeployRecord]) -> None:
    """Append the records' lines to history.json; one missing because a run died after its commit comes first."""
    found = backend.read_record_tag(HISTORY)
    entries = history_from_bytes(found[0] if found else None, f"{backend.name}.hashdeploy/{HISTORY}")
    known = {e.get("id") for e in entries}
    missing = [history_entry(r) for r in records if r.id not in known]
    if not missing:
        return
    backend.write_record(HISTORY, history_to_bytes(entries + missing), if_match=found[1] if found else None,
                         if_absent=found is None)


def mark_dirty(backend: Backend, live: DeployRecord | None, tag: str | None, keys: list[str]) -> str | None:
    """Before stable files are overwritten, note them in current.json: if the run dies, the next one knows
    that their bytes may no longer be what the record says."""
    if live is None or not keys:
        return tag
    dirty = tuple(sorted(set(live.dirty) | set(keys)))
    return backend.write_record(CURRENT, to_bytes(replace(live, dirty=dirty)), if_match=tag)


def _uploads(actions: list[Action], root: Path) -> list[Upload]:
    return [Upload(a.key, root / a.key, a.file.content_type, a.cache_control, a.file.sha256, a.file.size)
            for a in actions]


def new_deploy_id(when: datetime, objects: dict[str, RemoteObject]) -> str:
    """Sortable by time, naming the content, unique even for the same content within one second."""
    return f"{when:%Y%m%dT%H%M%SZ}-{content_hash(objects)[:8]}-{os.urandom(2).hex()}"


def stable_copy(sha256: str) -> str:
    """Where the body of a stable file is kept for rollback."""
    return STABLE_STORE + sha256


def _plan(result: BuildResult, backend: Backend, cfg: Settings, live: DeployRecord | None, cdn: bool,
          distributions: Sequence[Distribution]) -> tuple[DeployPlan, list[tuple[Distribution, Invalidation]], list[str]]:
    missing: frozenset[str] = frozenset()
    if cfg.verify and live is not None:
        present = set(backend.list_objects())
        missing = frozenset(k for k in live.objects if k not in present)
    ccs = {f.key: cache_control_for(f, cfg, cdn) for f in result.files}
    plan = plan_deploy(result.files, ccs, live, missing)
    # every distribution is owed the changed stable keys, on top of what the live record still owes it
    owed = sorted((set(live.pending_invalidation) if live else set()) | set(plan.changed_stable))
    invs = plan_all(live, distributions, plan.changed_stable, [f.key for f in result.files], cfg.invalidation_budget)
    return plan, invs, owed


def preserve(backend: Backend, keys: list[str], live: DeployRecord | None, tick: Callable[[int], None]) -> None:
    """Before stable files are overwritten, copy their live bodies to .hashdeploy/stable/<sha256> for rollback.

    Bodies are kept lazily, when replaced, so a first deploy costs no extra request.
    """
    if live is None:
        return
    pairs = []
    for key in keys:
        old = live.objects.get(key)
        # a key an interrupted run may have overwritten holds unknown bytes: its body was kept back then
        if old is not None and old.cls == FileClass.STABLE.value and key not in live.dirty:
            pairs.append((key, Upload(stable_copy(old.sha256), Path(), "application/octet-stream", "no-store",
                                      old.sha256, old.size)))
    unique = list({dest.key: (src, dest) for src, dest in pairs}.values())
    backend.copy_objects(unique, tick)


def _upload_phases(plan: DeployPlan, root: Path, backend: Backend, live: DeployRecord | None, tag: str | None,
                   progress: Progress, keep_copies: bool = True) -> str | None:
    """Hashed/fingerprinted objects first, then (after keeping the bodies they replace, unless keep_copies is
    off, and noting the keys as dirty, always) stable files, HTML last. Returns the tag of current.json."""
    changes = [a for a in plan.actions if a.action != "skip"]
    stable = [a.key for a in changes if a.phase != PHASE_ASSETS]
    # bodies about to be replaced, and those of stable files leaving the record, are kept for rollback
    replaced = [a.key for a in changes if a.phase != PHASE_ASSETS and a.action == "upload"] + list(plan.removed)
    for phase, label in ((PHASE_ASSETS, "assets"), (PHASE_STABLE, "stable"), (PHASE_HTML, "pages")):
        todo = [a for a in changes if a.phase == phase]
        progress.start(f"uploading {label}", len(todo) + (len(replaced) if phase == PHASE_STABLE else 0))
        if phase == PHASE_STABLE:
            if keep_copies:
                preserve(backend, replaced, live, progress.advance)
            else:
                progress.advance(len(replaced))
            # crash recovery, not a rollback copy: --no-rollback-copies must not turn it off
            tag = mark_dirty(backend, live, tag, stable)
        interrupt.enter(interrupt.ASSETS if phase == PHASE_ASSETS else interrupt.PAGES)
        backend.upload(_uploads([a for a in todo if a.action == "upload"], root), progress.advance)
        backend.set_headers(_uploads([a for a in todo if a.action == "headers"], root), progress.advance)
        progress.finish()
    return tag


def deploy(result: BuildResult, root: Path, backend: Backend, cfg: Settings, *, served_prefix: str = "/",
           cdn: bool = False, distributions: Sequence[Distribution] = (), dry_run: bool = False,
           progress: Progress | None = None, invalidate: bool = True, break_lock: bool = False,
           warn: Callable[[str], None] = lambda message: None,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> DeployReport:
    """Run stages diff → upload → commit → invalidate against `backend`; a failure stops before the next stage.

    Every distribution in `distributions` gets its own invalidation (none: the target itself, `served_prefix`).
    With invalidate=False the URLs to invalidate stay recorded as owed (watch mode coalesces bursts this way).
    Nothing is written, not even the lock, when nothing changed.
    """
    started = time.monotonic()
    progress = progress or Quiet()
    dists = or_none(distributions, served_prefix)
    check_keys(result.files, getattr(backend, "prefix", ""))
    # 1. the live deploy: one GET of its record (plus a listing only with --verify)
    live, tag = read_live(backend)
    # 2. the plan: an action and a reason for every object, and each distribution's URLs to invalidate
    plan, invs, owed = _plan(result, backend, cfg, live, cdn, dists)
    changes = [a for a in plan.actions if a.action != "skip"]
    report: dict[str, Any] = dict(target=backend.name, dry_run=dry_run, plan=plan, invalidation=invs[0][1],
                                  deploy_id=None, uploaded=0, headers=0, skipped=plan.count("skip"), bytes_uploaded=0,
                                  invalidation_id=None, warnings=(),
                                  distributions=tuple(Sent(d.id, inv) for d, inv in invs))
    owes = any(inv.paths for _, inv in invs)
    if dry_run or (not changes and not plan.removed and live is not None and (not owes or not invalidate)):
        return DeployReport(**report, seconds=time.monotonic() - started)
    warnings: list[str] = []
    with locked(backend, "deploy", break_lock=break_lock, warn=warnings.append, clock=clock):
        again, tag = read_live(backend)
        if (again.id if again else None) != (live.id if live else None):  # another run deployed meanwhile
            live = again
            plan, invs, owed = _plan(result, backend, cfg, live, cdn, dists)
            changes = [a for a in plan.actions if a.action != "skip"]
            report |= dict(plan=plan, invalidation=invs[0][1])
        record = live
        if changes or plan.removed or live is None:
            # 3. upload: hashed/fingerprinted first, then stable files, HTML last
            tag = _upload_phases(plan, root, backend, live, tag, progress, cfg.rollback_copies)
            # 4. commit: the record names this deploy live and the URLs still to invalidate
            uploaded = [a for a in changes if a.action == "upload"]
            record = DeployRecord(id=new_deploy_id(clock(), plan.objects),
                                  created=clock().isoformat(timespec="seconds"), objects=plan.objects,
                                  pending_invalidation=tuple(owed), base=live.id if live else None,
                                  uploaded=len(uploaded), bytes_uploaded=sum(a.file.size for a in uploaded),
                                  pending_by_distribution=dict(live.pending_by_distribution) if live else {})
            interrupt.checkpoint()
            tag = commit(backend, record, tag, live)
            report |= dict(deploy_id=record.id, uploaded=len(uploaded),
                           headers=sum(1 for a in changes if a.action == "headers"),
                           bytes_uploaded=record.bytes_uploaded)
        else:
            record_history(backend, [live])  # a run that died after its commit left no history line
        assert record is not None
        interrupt.reached(interrupt.COMMITTED if owes else interrupt.DONE)
        # 5. invalidate each distribution, then clear what was sent from the record's debt
        report |= finish_invalidation(backend, cfg, record, tag, dists, [f.key for f in result.files], invalidate,
                                      warnings)
    report["warnings"] = tuple(warnings)
    return DeployReport(**report, seconds=time.monotonic() - started)
