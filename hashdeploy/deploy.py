"""Deploy a processed site: plan against the live record, upload in a safe order, commit, invalidate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .backend import Backend, Upload
from .config import STABLE_CACHE_CONTROL, STABLE_CDN_SUFFIX, Config
from .diff import PHASE_ASSETS, PHASE_HTML, PHASE_STABLE, Action, DeployPlan, plan_deploy
from .errors import DeployInputError, InvalidationDeferred
from .globs import matches
from .invalidate import Invalidation, caller_reference, plan_invalidation
from .model import BuildResult, FileClass, OutputFile
from .pipeline import Progress
from .records import CURRENT, DeployRecord, content_hash, from_bytes, to_bytes


class _Quiet:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class DeployReport:
    """What a deploy did (or, dry run, would do)."""

    target: str
    dry_run: bool
    plan: DeployPlan
    invalidation: Invalidation
    deploy_id: str | None
    uploaded: int
    headers: int
    skipped: int
    bytes_uploaded: int
    invalidation_id: str | None
    warnings: tuple[str, ...]
    seconds: float
    pending: bool = False  # the invalidation is owed to the next run


def cache_control_for(f: OutputFile, cfg: Config, cdn: bool) -> str:
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


def _read_live(backend: Backend) -> DeployRecord | None:
    data = backend.read_record(CURRENT)
    return None if data is None else from_bytes(data, f"{backend.name}.hashdeploy/{CURRENT}")


def _uploads(actions: list[Action], root: Path) -> list[Upload]:
    return [Upload(a.key, root / a.key, a.file.content_type, a.cache_control, a.file.sha256, a.file.size)
            for a in actions]


def deploy(result: BuildResult, root: Path, backend: Backend, cfg: Config, *, served_prefix: str = "/",
           cdn: bool = False, dry_run: bool = False, progress: Progress | None = None, invalidate: bool = True,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> DeployReport:
    """Run stages diff → upload → commit → invalidate against `backend`; a failure stops before the next stage.

    With invalidate=False the URLs to invalidate stay recorded as owed (watch mode coalesces bursts this way).
    """
    started = time.monotonic()
    progress = progress or _Quiet()
    check_keys(result.files, getattr(backend, "prefix", ""))
    # 1. the live deploy: one GET of its record (plus a listing only with --verify)
    live = _read_live(backend)
    missing: frozenset[str] = frozenset()
    if cfg.verify and live is not None:
        present = backend.list_keys()
        missing = frozenset(k for k in live.objects if k not in present)
    # 2. the plan: an action and a reason for every object, and the URLs to invalidate
    ccs = {f.key: cache_control_for(f, cfg, cdn) for f in result.files}
    plan = plan_deploy(result.files, ccs, live, missing)
    pending = set(live.pending_invalidation) if live else set()
    owed = sorted(pending | set(plan.changed_stable))
    inv = plan_invalidation(owed, [f.key for f in result.files], served_prefix, cfg.invalidation_budget)
    changes = [a for a in plan.actions if a.action != "skip"]
    report = dict(target=backend.name, dry_run=dry_run, plan=plan, invalidation=inv, deploy_id=None, uploaded=0,
                  headers=0, skipped=plan.count("skip"), bytes_uploaded=0, invalidation_id=None, warnings=())
    if dry_run or (not changes and not plan.removed and (not owed or not invalidate)):
        return DeployReport(**report, seconds=time.monotonic() - started)  # type: ignore[arg-type]
    record = live
    if changes or plan.removed or live is None:
        # 3. upload: hashed/fingerprinted first, then stable files, HTML last
        for phase, label in ((PHASE_ASSETS, "assets"), (PHASE_STABLE, "stable"), (PHASE_HTML, "pages")):
            todo = [a for a in changes if a.phase == phase]
            progress.start(f"uploading {label}", len(todo))
            backend.upload(_uploads([a for a in todo if a.action == "upload"], root), progress.advance)
            backend.set_headers(_uploads([a for a in todo if a.action == "headers"], root), progress.advance)
            progress.finish()
        # 4. commit: the record names this deploy live and the URLs still to invalidate
        digest = content_hash(plan.objects)
        record = DeployRecord(id=f"{clock():%Y%m%dT%H%M%SZ}-{digest[:8]}", created=clock().isoformat(),
                              objects=plan.objects, pending_invalidation=tuple(owed),
                              base=live.id if live else None)
        blob = to_bytes(record)
        backend.write_record(f"deploys/{record.id}.json", blob)
        backend.write_record(CURRENT, blob)
        report |= dict(deploy_id=record.id, uploaded=sum(1 for a in changes if a.action == "upload"),
                       headers=sum(1 for a in changes if a.action == "headers"),
                       bytes_uploaded=sum(a.file.size for a in changes if a.action == "upload"))
    assert record is not None
    # 5. invalidate, then clear the debt in the record
    warnings: list[str] = []
    if not invalidate and inv.paths:
        report |= dict(pending=True)
    elif inv.paths:
        ref = caller_reference(record.base, content_hash(record.objects), inv.paths)
        try:
            inv_id = backend.invalidate(inv.paths, ref)
        except InvalidationDeferred as exc:  # the deploy is committed; the debt stays recorded for the next run
            warnings.append(str(exc))
            report |= dict(warnings=tuple(warnings), pending=True)
            return DeployReport(**report, seconds=time.monotonic() - started)  # type: ignore[arg-type]
        record = replace(record, pending_invalidation=(), invalidation_id=inv_id)
        backend.write_record(CURRENT, to_bytes(record))
        report |= dict(invalidation_id=inv_id)
        if inv_id and cfg.wait and not backend.wait_invalidation(inv_id, cfg.wait_timeout):
            warnings.append(f"invalidation {inv_id} not complete after {cfg.wait_timeout:.0f} s; it goes on")
    report |= dict(warnings=tuple(warnings))
    return DeployReport(**report, seconds=time.monotonic() - started)  # type: ignore[arg-type]
