"""Print a deploy's report: the plan on a dry run, warnings, and one summary line (or the --json document)."""

from __future__ import annotations

import json
import sys

from hashdeploy.publish.report import DeployReport, check_error, check_lines, report_json, summary_line


def print_deploy(report: DeployReport, *, dry_run: bool, as_json: bool, quiet: bool) -> int:
    """Print what a deploy did (or would do); 0, or CheckFailed once printed when --check-url found failures."""
    failed = check_error(report)
    if as_json:
        doc = report_json(report) | {"build_warnings": list(report.build_warnings)}
        print(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False))
        if failed:
            raise failed
        return 0
    for w in (*report.build_warnings, *report.warnings):
        print(f"warning: {w}", file=sys.stderr)
    if dry_run:
        for a in report.plan.actions:
            print(f"{a.action:<8} {a.key}  ({a.reason}; {a.file.cls.value}; {a.cache_control})")
        for k in report.plan.removed:
            print(f"{'keep':<8} {k}  (no longer in the site; deploys never delete)")
        named = [s for s in report.distributions if s.distribution]
        for inv, dist in [(s.invalidation, s.distribution) for s in named] or [(report.invalidation, None)]:
            for path in inv.paths:
                print(f"{'invalidate':<8} {path}" + (f"  ({dist})" if len(named) > 1 else ""))
    if not quiet or dry_run:
        print(summary_line(report))
    if report.check is not None:
        lines = check_lines(report.check)
        for line in lines[:-1] if quiet else lines:  # failures even with --quiet
            print(line)
    if failed:
        raise failed
    return 0
