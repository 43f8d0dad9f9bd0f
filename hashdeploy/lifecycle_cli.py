"""`hashdeploy history | rollback [ID] | prune`: argv → Config → lifecycle, printed for people or as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .config import deploy_target, load_config
from .errors import ConfigError

COMMANDS = ("history", "rollback", "prune")


def parser() -> argparse.ArgumentParser:
    """The parser of the lifecycle commands."""
    p = argparse.ArgumentParser(prog="hashdeploy", description="Deploy history, rollback and pruning.")
    sub = p.add_subparsers(dest="command", required=True)
    h = sub.add_parser("history", help="the deploys recorded in the target, newest first")
    r = sub.add_parser("rollback", help="put a recorded deploy back live (default: the previous one)")
    r.add_argument("deploy_id", nargs="?", help="the deploy to restore (see `hashdeploy history`)")
    pr = sub.add_parser("prune", help="delete assets no recent deploy needs")
    pr.add_argument("--keep", type=int, default=5, help="deploys whose objects are always kept (default 5)")
    pr.add_argument("--older-than", default="7d", help="keep what left the live site less than this ago (7d)")
    pr.add_argument("--max-deletes", type=int, default=1000, help="abort before deleting more than this (1000)")
    pr.add_argument("--delete-removed", action="store_true", help="also delete stable files no longer in the site")
    for sp in (h, r, pr):
        sp.add_argument("--target", help="s3://BUCKET[/PREFIX] or file:///PATH")
        sp.add_argument("--bucket")
        sp.add_argument("--prefix")
        sp.add_argument("--distribution-id")
        sp.add_argument("--endpoint-url")
        sp.add_argument("--profile")
        sp.add_argument("--region")
        sp.add_argument("--origin-path")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    for sp in (r, pr):
        sp.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
        sp.add_argument("--break-lock", action="store_true", help="remove a lock left by a run that died")
    r.add_argument("--wait", action="store_true", default=None, help="wait until the invalidation completes")
    return p


def run(argv: list[str]) -> int:
    """Run one lifecycle command."""
    from .commands import make_backend

    args = parser().parse_args(argv)
    names = ("target", "bucket", "prefix", "distribution_id", "endpoint_url", "profile", "region", "origin_path",
             "wait")
    cfg = load_config(Path("."), {n: getattr(args, n, None) for n in names})
    if deploy_target(cfg) is None:
        raise ConfigError(f"Config value 'target': `hashdeploy {args.command}` needs --bucket or --target")
    backend, served, cdn = make_backend(cfg)
    if args.command == "history":
        return _print_history(backend, args.json)
    if args.command == "rollback":
        from .lifecycle import rollback

        rep = rollback(backend, cfg, args.deploy_id, served_prefix=served, dry_run=args.dry_run,
                       break_lock=args.break_lock)
        doc: dict[str, Any] = {"target": backend.name, "rolled_back_to": rep.target_id, "deploy_id": rep.deploy_id,
                               "restored": list(rep.restored), "invalidation": list(rep.invalidation.paths),
                               "invalidation_id": rep.invalidation_id, "warnings": rep.warnings,
                               "dry_run": rep.dry_run}
        verb = "would restore" if rep.dry_run else "restored"
        line = (f"{'dry run: ' if rep.dry_run else ''}rollback of {backend.name} to {rep.target_id}: {verb} "
                f"{len(rep.restored)} stable file(s); " + (f"invalidation {len(rep.invalidation.paths)} path(s)"
                if rep.invalidation.paths else "nothing to invalidate") +
                (f"; now live as deploy {rep.deploy_id}" if rep.deploy_id else ""))
        return _out(doc, line, args.json, rep.warnings)
    from .lifecycle import parse_age, prune

    pr = prune(backend, cfg, keep=args.keep, older_than=parse_age(args.older_than), max_deletes=args.max_deletes,
               delete_removed=args.delete_removed, served_prefix=served, cdn=cdn, dry_run=args.dry_run,
               break_lock=args.break_lock)
    doc = {"target": backend.name, "dry_run": pr.dry_run, "deleted": [{"key": k, "reason": r} for k, r in pr.deletions],
           "removed_stable": pr.removed_stable, "unknown_kept": pr.unknown_kept,
           "invalidation": list(pr.invalidation.paths) if pr.invalidation else [], "warnings": pr.warnings}
    n = len(pr.deletions) + len(pr.removed_stable)
    line = (f"{'dry run: would delete' if pr.dry_run else 'deleted'} {n} object(s) from {backend.name}; "
            f"{pr.unknown_kept} object(s) no deploy record knows were left alone")
    if pr.dry_run and not args.json:
        for key, reason in pr.deletions:
            print(f"delete   {key}  ({reason})")
        for key in pr.removed_stable:
            print(f"delete   {key}  (stable file no longer in the site)")
    return _out(doc, line, args.json, tuple(pr.warnings))


def _out(doc: dict[str, Any], line: str, as_json: bool, warnings: tuple[str, ...] | list[str]) -> int:
    import sys

    if as_json:
        print(json.dumps(doc, indent=1, sort_keys=True))
        return 0
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(line)
    return 0


def _print_history(backend: Any, as_json: bool) -> int:
    from .lifecycle import history

    entries = history(backend)
    if as_json:
        print(json.dumps(entries, indent=1, sort_keys=True))
        return 0
    if not entries:
        print(f"no deploys recorded in {backend.name}")
        return 0
    for e in entries:
        what = e.get("kind", "deploy") + (f" to {e['rollback_of']}" if e.get("rollback_of") else "")
        print(f"{'*' if e['live'] else ' '} {e['id']}  {e['created']}  {what:<30} {e.get('uploaded', 0):>6} uploaded  "
              f"{e.get('invalidated', 0):>4} path(s) invalidated" + ("  (live)" if e["live"] else ""))
    return 0
