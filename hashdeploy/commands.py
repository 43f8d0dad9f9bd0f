"""The deploy command: build into a temporary directory, then deploy it to the configured target."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .backend import Backend, LocalBackend
from .config import Config, deploy_target
from .deploy import DeployReport, deploy
from .pipeline import Progress, build


def make_backend(cfg: Config) -> tuple[Backend, str, bool]:
    """(backend, viewer path of the prefix, whether a CDN sits in front) for the configured target."""
    target = deploy_target(cfg)
    assert target is not None
    kind, where, prefix = target
    if kind == "file":
        return LocalBackend(Path(where)), "/", False
    from .aws import S3CloudFrontBackend, make_clients

    s3, cf = make_clients(profile=cfg.profile, region=cfg.region, endpoint_url=cfg.endpoint_url,
                          workers=cfg.workers, max_attempts=cfg.max_attempts,
                          with_cloudfront=bool(cfg.distribution_id))
    backend = S3CloudFrontBackend(s3, where, prefix, cloudfront=cf, distribution_id=cfg.distribution_id,
                                  workers=cfg.workers, acl=cfg.acl, invalidation_patience=cfg.invalidation_patience)
    backend.check()
    return backend, backend.served_prefix(cfg.origin_path), bool(cfg.distribution_id)


def build_dir(cfg: Config) -> Path | None:
    """Where a deploy without --out keeps the processed site: a folder per site in the cache, so a redeploy
    of an unchanged site skips the build (None without a cache: a temporary directory then)."""
    from .cache import cache_dir_for

    root = cache_dir_for(cfg)
    if root is None:
        return None
    digest = hashlib.sha256(str(cfg.site.resolve()).encode()).hexdigest()[:24]
    return root / "sites" / digest / "site"


def report_json(report: DeployReport) -> dict[str, Any]:
    """The --json document of a deploy."""
    return {
        "target": report.target,
        "dry_run": report.dry_run,
        "deploy_id": report.deploy_id,
        "uploaded": report.uploaded,
        "headers_updated": report.headers,
        "skipped": report.skipped,
        "bytes_uploaded": report.bytes_uploaded,
        "invalidation": {"paths": list(report.invalidation.paths), "billed_paths": report.invalidation.billed,
                         "changed_urls": report.invalidation.changed_urls,
                         "flushed_unchanged": report.invalidation.flushed_unchanged, "id": report.invalidation_id},
        "invalidation_pending": report.pending,
        "removed_kept": list(report.plan.removed),
        "warnings": list(report.warnings),
        "seconds": round(report.seconds, 3),
        "plan": [{"key": a.key, "action": a.action, "reason": a.reason, "class": a.file.cls.value,
                  "cache_control": a.cache_control} for a in report.plan.actions],
    }


def summary_line(report: DeployReport) -> str:
    """The one line printed at the end of a deploy."""
    inv = report.invalidation
    if report.dry_run:
        up = report.plan.count("upload")
        return (f"dry run for {report.target}: would upload {up}, update headers of {report.plan.count('headers')}, "
                f"skip {report.skipped}; would invalidate {len(inv.paths)} path(s) ({inv.billed} billed)")
    if not inv.paths:
        inv_text = "nothing to invalidate"
    elif report.pending:
        inv_text = f"{len(inv.paths)} invalidation path(s) owed to the next run"
    elif report.invalidation_id:
        inv_text = f"invalidated {len(inv.paths)} path(s) ({report.invalidation_id})"
    else:
        inv_text = f"{inv.changed_urls} changed URL(s), no CDN to invalidate"
    return (f"deployed {report.target}: {report.uploaded} uploaded ({report.bytes_uploaded / 1e6:.1f} MB), "
            f"{report.headers} headers updated, {report.skipped} skipped; {inv_text}; {report.seconds:.2f} s")


def run_deploy(cfg: Config, *, dry_run: bool, as_json: bool, quiet: bool, progress: Progress,
               break_lock: bool = False) -> int:
    """Build (into --out or a temporary directory) and deploy; print the plan/report."""
    tmp = None
    try:
        out = cfg.out or build_dir(cfg)
        if out is None:
            tmp = Path(tempfile.mkdtemp(prefix="hashdeploy-build-"))
            out = tmp / "site"
        from dataclasses import replace

        # the cache's build directory is only read by this deploy: update it in place
        result = build(replace(cfg, out=out), dry_run=dry_run, progress=progress, update=cfg.out is None)
        backend, served, cdn = make_backend(cfg)
        report = deploy(result, out, backend, cfg, served_prefix=served, cdn=cdn, dry_run=dry_run, progress=progress,
                        break_lock=break_lock)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if as_json:
        doc = report_json(report) | {"build_warnings": list(result.warnings)}
        print(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False))
        return 0
    for w in (*result.warnings, *report.warnings):
        print(f"warning: {w}", file=sys.stderr)
    if dry_run:
        for a in report.plan.actions:
            print(f"{a.action:<8} {a.key}  ({a.reason}; {a.file.cls.value}; {a.cache_control})")
        for k in report.plan.removed:
            print(f"{'keep':<8} {k}  (no longer in the site; deploys never delete)")
        for path in report.invalidation.paths:
            print(f"{'invalidate':<8} {path}")
    if not quiet or dry_run:
        print(summary_line(report))
    return 0
