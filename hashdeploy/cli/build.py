"""`hashdeploy SITE [--out DIR | --target URL] [--watch]`: argv -> Settings -> the library API, printed for people or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hashdeploy import __version__
from hashdeploy.cli.options import add_settings, flags_from
from hashdeploy.model import BuildResult, FileClass
from hashdeploy.settings import BUILD, DEPLOY, WATCH


def parser() -> argparse.ArgumentParser:
    """The argument parser of the main command (its setting flags come from the schema)."""
    p = argparse.ArgumentParser(
        prog="hashdeploy",
        description="Give every asset of a built static site a content-hashed name and rewrite its references; "
                    "with a target, deploy it. Also: hashdeploy history | rollback [ID] | prune | doctor.",
    )
    p.add_argument("site", type=Path, help="the built site directory (dist/, site/, public/, _build/html)")
    p.add_argument("--dry-run", action="store_true", help="show what would be renamed, rewritten, uploaded; write nothing")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("--watch", action="store_true", help="deploy, then redeploy after every change (needs --out or a target)")
    p.add_argument("--break-lock", action="store_true", help="remove a lock left by a deploy that died elsewhere")
    p.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    p.add_argument("--version", action="version", version=f"hashdeploy {__version__}")
    add_settings(p, BUILD, also=(DEPLOY, WATCH))
    return p


def summary(result: BuildResult, seconds: float, dry_run: bool) -> dict[str, Any]:
    """The --json document of a build."""
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


def run(argv: list[str]) -> int:
    """Parse argv and build, deploy or watch; errors propagate to main()."""
    import hashdeploy
    from hashdeploy.cli.progress import Bar
    from hashdeploy.settings import deploy_target

    args = parser().parse_args(argv)
    # watch takes every setting that build and deploy take, so its flags are all of this command's
    settings = hashdeploy.load_settings(args.site, flags_from(args, WATCH))
    bar = Bar(enabled=None if not (args.json or args.quiet) else False)
    if deploy_target(settings) is not None and not args.dry_run:
        from hashdeploy.publish import interrupt

        interrupt.begin("deploy")  # from here an interrupt's line says what state the live site is in
    if args.watch:
        from hashdeploy.watch.session import run_watch

        return run_watch(settings)
    if deploy_target(settings) is not None:
        from hashdeploy.cli.deploy import print_deploy

        report = hashdeploy.deploy(settings, dry_run=args.dry_run, progress=bar, break_lock=args.break_lock)
        return print_deploy(report, dry_run=args.dry_run, as_json=args.json, quiet=args.quiet)
    started = time.monotonic()
    result = hashdeploy.build(settings, dry_run=args.dry_run, progress=bar)
    seconds = time.monotonic() - started
    if args.json:
        print(json.dumps(summary(result, seconds, args.dry_run), indent=1, sort_keys=True, ensure_ascii=False))
        return 0
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.dry_run:
        for f in result.files:
            arrow = f"{f.source} -> {f.key}" if f.source != f.key else f.key
            print(f"{f.cls.value:<13} {arrow}  ({f.reason})")
        for key in result.rewritten:
            print(f"{'rewrite':<13} {key}")
    if not args.quiet:
        where = "nothing written (dry run)" if args.dry_run else f"wrote {settings.out or settings.site}"
        print(f"hashdeploy: {result.summary_line()}; {where} in {seconds:.2f} s")
    return 0
