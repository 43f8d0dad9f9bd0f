"""`hashdeploy doctor`: argv -> Settings -> hashdeploy.doctor(), one line per finding or JSON; exit 1 on an error."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hashdeploy.cli.options import add_settings, flags_from
from hashdeploy.settings import DOCTOR


def parser() -> argparse.ArgumentParser:
    """The doctor command's parser (its setting flags come from the schema)."""
    p = argparse.ArgumentParser(prog="hashdeploy doctor", description=(
        "Check, read-only, the bucket and every CloudFront distribution in front of it for settings that make "
        "users see an old or broken site; one line per finding with the fix. Exit 0: no error, 1: an error."))
    p.add_argument("--json", action="store_true", help='machine-readable output: {"findings": [...]}')
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    add_settings(p, DOCTOR)
    return p


def run(argv: list[str]) -> int:
    """Run doctor (argv without the word `doctor`)."""
    import hashdeploy

    args = parser().parse_args(argv)
    settings = hashdeploy.load_settings(Path("."), flags_from(args, DOCTOR))
    findings = hashdeploy.doctor(settings)
    if args.json:
        print(json.dumps({"findings": [{"check": f.check, "severity": f.severity, "message": f.message, "fix": f.fix}
                                       for f in findings]}, indent=1))
    else:
        for f in findings:
            print(f.line())
    return 1 if any(f.severity == "error" for f in findings) else 0
