"""`hashdeploy history | rollback [ID] | prune`: argv -> Settings -> the library API, printed for people or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hashdeploy.cli.options import add_settings, flags_from
from hashdeploy.publish.report import distributions_json
from hashdeploy.settings import HISTORY, PRUNE, ROLLBACK


def parser() -> argparse.ArgumentParser:
    """The parser of the lifecycle commands (their setting flags come from the schema)."""
    p = argparse.ArgumentParser(prog="hashdeploy", description="Deploy history, rollback and pruning.")
    sub = p.add_subparsers(dest="command", required=True)
    commands = {
        HISTORY: sub.add_parser(HISTORY, help="the deploys recorded in the target, newest first"),
        ROLLBACK: sub.add_parser(ROLLBACK, help="put a recorded deploy back live (default: the one before the live one)"),
        PRUNE: sub.add_parser(PRUNE, help="delete assets no recent deploy needs"),
    }
    commands[ROLLBACK].add_argument("deploy_id", nargs="?", help="the deploy to restore (see `hashdeploy history`)")
    for name, sp in commands.items():
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.add_argument("--debug", action="store_true", help="show tracebacks for errors")
        if name != HISTORY:
            sp.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
            sp.add_argument("--break-lock", action="store_true", help="remove a lock left by a run that died")
        add_settings(sp, name)
    return p


def run(argv: list[str]) -> int:
    """Run one lifecycle command."""
    import hashdeploy

    args = parser().parse_args(argv)
    settings = hashdeploy.load_settings(Path("."), flags_from(args, args.command))
    if args.command != HISTORY and not args.dry_run:
        from hashdeploy.publish import interrupt

        interrupt.begin(args.command)  # from here an interrupt's line says what state the live site is in
    target = hashdeploy.open_target(settings, args.command)
    name = target.backend.name
    if args.command == HISTORY:
        return _print_history(hashdeploy.history(settings, target=target), name, args.json)
    if args.command == ROLLBACK:
        rep = hashdeploy.rollback(settings, args.deploy_id, target=target, dry_run=args.dry_run,
                                  break_lock=args.break_lock)
        doc: dict[str, Any] = {"target": name, "rolled_back_to": rep.target_id, "deploy_id": rep.deploy_id,
                               "restored": list(rep.restored), "invalidation": list(rep.invalidation.paths),
                               "invalidation_id": rep.invalidation_id, "warnings": rep.warnings,
                               "dry_run": rep.dry_run, "distributions": distributions_json(rep.distributions)}
        verb = "would restore" if rep.dry_run else "restored"
        line = (f"{'dry run: ' if rep.dry_run else ''}rollback of {name} to {rep.target_id}: {verb} "
                f"{len(rep.restored)} stable file(s); " + (f"invalidation {len(rep.invalidation.paths)} path(s)"
                if rep.invalidation.paths else "nothing to invalidate") +
                (f"; now live as deploy {rep.deploy_id}" if rep.deploy_id else ""))
        return _out(doc, line, args.json, rep.warnings)
    pr = hashdeploy.prune(settings, target=target, dry_run=args.dry_run, break_lock=args.break_lock)
    doc = {"target": name, "dry_run": pr.dry_run, "deleted": [{"key": k, "reason": r} for k, r in pr.deletions],
           "removed_stable": pr.removed_stable, "unknown_kept": pr.unknown_kept,
           "invalidation": list(pr.invalidation.paths) if pr.invalidation else [], "warnings": pr.warnings}
    n = len(pr.deletions) + len(pr.removed_stable)
    line = (f"{'dry run: would delete' if pr.dry_run else 'deleted'} {n} object(s) from {name}; "
            f"{pr.unknown_kept} object(s) no deploy record knows were left alone")
    if pr.dry_run and not args.json:
        for key, reason in pr.deletions:
            print(f"delete   {key}  ({reason})")
        for key in pr.removed_stable:
            print(f"delete   {key}  (stable file no longer in the site)")
    return _out(doc, line, args.json, tuple(pr.warnings))


def _out(doc: dict[str, Any], line: str, as_json: bool, warnings: tuple[str, ...] | list[str]) -> int:
    if as_json:
        print(json.dumps(doc, indent=1, sort_keys=True))
        return 0
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(line)
    return 0


def _print_history(entries: list[dict[str, Any]], name: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps(entries, indent=1, sort_keys=True))
        return 0
    if not entries:
        print(f"no deploys recorded in {name}")
        return 0
    for e in entries:
        what = e.get("kind", "deploy") + (f" to {e['rollback_of']}" if e.get("rollback_of") else "")
        mark = "  (live)" if e["live"] else "  (a plain rollback restores it)" if e.get("rollback_target") else ""
        print(f"{'*' if e['live'] else ' '} {e['id']}  {e['created']}  {what:<30} {e.get('uploaded', 0):>6} uploaded  "
              f"{e.get('invalidated', 0):>4} path(s) invalidated" + mark)
    target = next((e["id"] for e in entries if e.get("rollback_target")), None)
    if target is not None:
        print(f"a plain `hashdeploy rollback` restores {target}")
    elif any(e["live"] for e in entries):
        print("a plain `hashdeploy rollback` has nothing to restore: no deploy came before the live version")
    return 0
