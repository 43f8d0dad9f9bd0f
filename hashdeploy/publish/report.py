"""What a deploy did: the DeployReport, its --json document and its one summary line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hashdeploy.errors import CheckFailed
from hashdeploy.publish.distributions import Sent
from hashdeploy.publish.invalidation import Invalidation
from hashdeploy.publish.plan import DeployPlan


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """One URL the check through the CDN found wrong: its HTTP status (None without an answer) and the problem."""

    url: str
    status: int | None
    problem: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What --check-url found: how many URLs answered, which failed, and what the bounds left out."""

    base_urls: tuple[str, ...]
    urls_checked: int  # URLs that answered (whatever the answer)
    pages_checked: int  # changed stable files fetched, per base URL
    pages_skipped: int  # changed stable files left out by --check-max-pages
    not_checked: int  # URLs without an answer before --check-timeout (each also a failure)
    failures: tuple[CheckFailure, ...]
    seconds: float
    skipped: str | None = None  # why the check did not run at all

    @property
    def ok(self) -> bool:
        """No failure (a check that did not run is not a failure: the deploy said why)."""
        return not self.failures


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
    build_warnings: tuple[str, ...] = ()  # from processing the site, when the deploy processed it
    distributions: tuple[Sent, ...] = ()  # each distribution's invalidation (`invalidation` is the first one's)
    check: CheckResult | None = None  # --check-url's result, when it was asked for


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
        "distributions": distributions_json(report.distributions),
        "removed_kept": list(report.plan.removed),
        "warnings": list(report.warnings),
        "seconds": round(report.seconds, 3),
        "check": None if report.check is None else check_json(report.check),
        "plan": [{"key": a.key, "action": a.action, "reason": a.reason, "class": a.file.cls.value,
                  "cache_control": a.cache_control} for a in report.plan.actions],
    }


def distributions_json(sent: tuple[Sent, ...]) -> list[dict[str, Any]]:
    """Each distribution's invalidation in a --json document."""
    return [{"id": s.distribution, "paths": list(s.invalidation.paths), "invalidation_id": s.invalidation_id,
             "pending": s.pending, "error": s.error} for s in sent if s.distribution]


def _per_distribution(sent: tuple[Sent, ...]) -> str:
    parts = []
    for s in sent:
        state = (s.invalidation_id or "nothing to invalidate") if not s.pending else "owed to the next run"
        parts.append(f"{s.distribution}: {len(s.invalidation.paths)} path(s), {state}")
    return "; ".join(parts)


def summary_line(report: DeployReport) -> str:
    """The one line printed at the end of a deploy."""
    inv = report.invalidation
    if len([s for s in report.distributions if s.distribution]) > 1 and not report.dry_run:
        return (f"deployed {report.target}: {report.uploaded} uploaded ({report.bytes_uploaded / 1e6:.1f} MB), "
                f"{report.headers} headers updated, {report.skipped} skipped; {_per_distribution(report.distributions)}; "
                f"{report.seconds:.2f} s")
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


def check_json(check: CheckResult) -> dict[str, Any]:
    """The "check" object of the --json document."""
    return {"base_urls": list(check.base_urls), "urls_checked": check.urls_checked,
            "pages_checked": check.pages_checked, "pages_skipped": check.pages_skipped,
            "not_checked": check.not_checked, "skipped": check.skipped, "seconds": round(check.seconds, 3),
            "failures": [{"url": f.url, "status": f.status, "problem": f.problem} for f in check.failures]}


def check_lines(check: CheckResult) -> list[str]:
    """One line per failed URL, then the check's summary line."""
    if check.skipped:
        return [f"check: skipped: {check.skipped}"]
    lines = [f"check: {f.url}: {f.problem}" for f in check.failures]
    bases = ", ".join(check.base_urls)
    skipped = (f"; {check.pages_skipped} more changed page(s) not checked (--check-max-pages)"
               if check.pages_skipped else "")
    late = f"; {check.not_checked} URL(s) not checked before --check-timeout" if check.not_checked else ""
    verdict = f"{len(check.failures)} failed" if check.failures else "all served as deployed"
    lines.append(f"check: {check.urls_checked} URL(s) of {check.pages_checked} page(s) and what they load fetched "
                 f"through {bases}: {verdict}{late}{skipped}; {check.seconds:.2f} s")
    return lines


def check_error(report: DeployReport) -> CheckFailed | None:
    """The failure to raise when the check found wrong URLs (the deploy itself stays committed)."""
    check = report.check
    if check is None or check.ok:
        return None
    first = check.failures[0]
    return CheckFailed(
        f"{len(check.failures)} URL(s) not served as deployed through {', '.join(check.base_urls)} "
        f"(first: {first.url}: {first.problem}); the deploy itself is committed and live"
        f"{f' ({report.deploy_id})' if report.deploy_id else ''}: look at the CDN's behaviours and the origin, "
        "or invalidate the listed URLs, then deploy again with --check-url")
