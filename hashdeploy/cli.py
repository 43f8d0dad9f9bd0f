"""The `hashdeploy` command: argv → Config → pipeline; the one place that turns errors into exit codes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, HashdeployError
from .model import BuildResult, FileClass


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the options)."""
    p = argparse.ArgumentParser(
        prog="hashdeploy",
        description="Give every asset of a built static site a content-hashed name and rewrite its references.",
    )
    p.add_argument("site", type=Path, help="the built site directory (dist/, site/, public/, _build/html)")
    p.add_argument("--out", type=Path, help="write the processed site here; without it SITE is processed in place")
    p.add_argument("--dry-run", action="store_true", help="show what would be renamed and rewritten; write nothing")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("--hash-length", type=int, help="hex digits of SHA-256 in hashed names (8-64, default 12)")
    p.add_argument("--base-path", help="URL path the site is served under, e.g. /docs/ (default /)")
    p.add_argument("--site-url", help="the site's public URL; absolute URLs on it are rewritten too")
    p.add_argument("--stable", action="append", metavar="GLOB", help="keep files matching GLOB at their names")
    p.add_argument("--hash", dest="hashed", action="append", metavar="GLOB", help="always hash files matching GLOB")
    p.add_argument("--fingerprint-pattern", dest="fingerprint_patterns", action="append", metavar="REGEX",
                   help="regex on file names that already carry a build tool's hash (replaces the defaults)")
    p.add_argument("--sri", action="store_true", default=None, help="add integrity= to scripts and stylesheets")
    p.add_argument("--strict", action="store_true", default=None, help="treat warnings as errors")
    p.add_argument("--jobs", type=int, help="worker processes (default: one per core)")
    p.add_argument("--no-cache", dest="use_cache", action="store_false", default=None, help="do not use the parse cache")
    p.add_argument("--cache-dir", type=Path, help="parse cache directory (default ~/.cache/hashdeploy)")
    d = p.add_argument_group("deploy (without a target, hashdeploy only processes the site)")
    d.add_argument("--target", help="s3://BUCKET[/PREFIX] or file:///PATH (a directory a web server serves)")
    d.add_argument("--bucket", help="S3 bucket to deploy to")
    d.add_argument("--prefix", help="key prefix inside the bucket")
    d.add_argument("--distribution-id", help="CloudFront distribution to invalidate")
    d.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, R2, a local moto server)")
    d.add_argument("--profile", help="AWS profile (credentials come only from boto3's standard chain)")
    d.add_argument("--region", help="AWS region of the bucket")
    d.add_argument("--workers", type=int, help="concurrent requests (default 16)")
    d.add_argument("--cache-control", action="append", metavar="GLOB=VALUE", help="Cache-Control for matching files")
    d.add_argument("--invalidation-budget", type=int, help="paths per deploy before collapsing to wildcards (100)")
    d.add_argument("--verify", action="store_true", default=None, help="list the bucket and repair missing objects")
    d.add_argument("--wait", action="store_true", default=None, help="wait until the invalidation completes")
    d.add_argument("--wait-timeout", type=float, help="seconds --wait waits at most (900)")
    d.add_argument("--acl", help="canned ACL for every object (default: none; ACL-disabled buckets reject ACLs)")
    d.add_argument("--origin-path", help="the distribution's origin path (default: read from the distribution)")
    d.add_argument("--break-lock", action="store_true", help="remove a lock left by a deploy that died elsewhere")
    d.add_argument("--no-rollback-copies", dest="rollback_copies", action="store_false", default=None,
                   help="do not keep replaced stable files for rollback (halves requests per changed page)")
    w = p.add_argument_group("watch")
    w.add_argument("--watch", action="store_true", help="deploy, then redeploy after every change (needs --out or a target)")
    w.add_argument("--quiet-period", type=float, default=1.0, metavar="S",
                   help="seconds without file events before a cycle starts (default 1)")
    w.add_argument("--invalidation-interval", type=float, default=10.0, metavar="S",
                   help="at most one invalidation per this many seconds; bursts are coalesced (default 10)")
    p.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    p.add_argument("--version", action="version", version=f"hashdeploy {__version__}")
    return p


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    names = ("out", "hash_length", "base_path", "site_url", "stable", "hashed", "fingerprint_patterns", "sri",
             "strict", "jobs", "use_cache", "cache_dir", "target", "bucket", "prefix", "distribution_id",
             "endpoint_url", "profile", "region", "workers", "cache_control", "invalidation_budget", "verify", "wait",
             "wait_timeout", "acl", "origin_path", "rollback_copies")
    flags = {n: getattr(args, n) for n in names}
    for n in ("stable", "hashed", "fingerprint_patterns", "cache_control"):
        if flags[n] is not None:
            flags[n] = tuple(flags[n])
    return flags


def summary(result: BuildResult, seconds: float, dry_run: bool) -> dict[str, Any]:
    """The --json document."""
    classes = Counter(f.cls.value for f in result.files)
    return {
        "dry_run": dry_run,
        "files": len(result.files),
        "classes": {c.value: classes.get(c.value, 0) for c in FileClass},
        "renamed": dict(sorted(result.assets.items())),
        "rewritten": list(result.rewritten),
        "warnings": list(result.warnings),
        "seconds": round(seconds, 3),
        "details": {f.key: {"source": f.source, "class": f.cls.value, "reason": f.reason} for f in result.files},
    }


def _print_dry_run(result: BuildResult) -> None:
    for f in result.files:
        arrow = f"{f.source} -> {f.key}" if f.source != f.key else f.key
        print(f"{f.cls.value:<13} {arrow}  ({f.reason})")
    for key in result.rewritten:
        print(f"{'rewrite':<13} {key}")


def run(argv: list[str] | None) -> int:
    """Parse argv and run the build; errors propagate to main()."""
    from .config import load_config
    from .pipeline import build
    from .progress import Bar

    args = parser().parse_args(argv)
    cfg = load_config(args.site, _flags(args))
    started = time.monotonic()
    bar = Bar(enabled=None if not (args.json or args.quiet) else False)
    from .config import deploy_target

    if args.watch:
        if not (0 < args.quiet_period <= 600) or args.invalidation_interval < 0:
            raise ConfigError("Config value 'quiet_period': must be between 0 and 600 seconds; "
                              "'invalidation_interval' must not be negative")
        from .watchloop import run_watch

        return run_watch(cfg, quiet_period=args.quiet_period, invalidation_interval=args.invalidation_interval)
    if deploy_target(cfg) is not None:
        from .commands import run_deploy

        return run_deploy(cfg, dry_run=args.dry_run, as_json=args.json, quiet=args.quiet, progress=bar,
                          break_lock=args.break_lock)
    result = build(cfg, dry_run=args.dry_run, progress=bar)
    seconds = time.monotonic() - started
    if args.json:
        print(json.dumps(summary(result, seconds, args.dry_run), indent=1, sort_keys=True, ensure_ascii=False))
        return 0
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.dry_run:
        _print_dry_run(result)
    if not args.quiet:
        c = Counter(f.cls for f in result.files)
        where = "nothing written (dry run)" if args.dry_run else f"wrote {cfg.out or cfg.site}"
        print(f"hashdeploy: {len(result.files)} files: {c[FileClass.HASHED]} hashed, "
              f"{c[FileClass.FINGERPRINTED]} fingerprinted, {c[FileClass.STABLE]} stable; "
              f"{len(result.rewritten)} rewritten; {where} in {seconds:.2f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: run, and report expected failures as one line `ClassName: message`."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        if args and args[0] in ("history", "rollback", "prune"):
            from .lifecycle_cli import run as run_lifecycle

            return run_lifecycle(list(args))
        return run(argv)
    except HashdeployError as exc:
        if debug:
            raise
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if debug:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{type(exc).__name__}:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130
    except Exception as exc:
        # botocore/s3transfer failures that escaped the backend's translation: still one line
        if debug or not type(exc).__module__.startswith(("botocore", "boto3", "s3transfer", "urllib3")):
            raise
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
