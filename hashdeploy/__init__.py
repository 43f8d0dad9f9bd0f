"""hashdeploy's library API: build(), deploy(), history(), rollback(), prune(), doctor() and the Settings they take.

The command line, watch mode and every site-generator hook call only these. Each imports its stages when
called, so `import hashdeploy` stays cheap (no bs4, no boto3).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashdeploy.errors import ConfigError, HashdeployError, one_line
from hashdeploy.settings import Settings
from hashdeploy.sources import load_settings

if TYPE_CHECKING:
    from hashdeploy.backends import Target
    from hashdeploy.model import BuildResult, Progress
    from hashdeploy.publish.doctor import Finding
    from hashdeploy.publish.prune import PruneReport
    from hashdeploy.publish.report import DeployReport
    from hashdeploy.publish.rollback import RollbackReport

__version__ = "0.1.0"
__all__ = ["ConfigError", "HashdeployError", "Settings", "build", "deploy", "doctor", "history", "load_settings", "one_line",
           "open_target", "prune", "rollback"]


def build(settings: Settings, *, dry_run: bool = False, progress: Progress | None = None,
          update: bool = False) -> BuildResult:
    """Process settings.site into settings.out (or in place, atomically); nothing touches the network.

    update=True rewrites an earlier output directly where bytes differ (for folders nobody serves while
    they change, such as a deploy's or a watch's build folder).
    """
    from hashdeploy.engine import build as run

    return run(settings, dry_run=dry_run, progress=progress, update=update)


def open_target(settings: Settings, command: str = "deploy") -> Target:
    """Open the configured deploy target (S3 + CloudFront or a local directory), checking it is reachable."""
    from hashdeploy.backends import open_target as run

    return run(settings, command)


def deploy(settings: Settings, *, built: BuildResult | None = None, target: Target | None = None,
           dry_run: bool = False, progress: Progress | None = None, break_lock: bool = False,
           invalidate: bool = True) -> DeployReport:
    """Process the site (unless `built` is its result, in settings.out or in place) and publish it to the target.

    Without settings.out the processed site is kept in a folder per site in the cache, so a redeploy of an
    unchanged site skips processing. invalidate=False leaves the changed URLs owed in the deploy record.
    With settings.check_url (not on a dry run, nor with invalidate=False) the deploy waits for the invalidation,
    then fetches the changed pages and what they load through the CDN: report.check says what is not served as
    deployed (`publish.report.check_error(report)` is the failure to raise for it).
    """
    import dataclasses
    import shutil
    import tempfile

    from hashdeploy.engine.cache import build_dir, build_folder_lock
    from hashdeploy.publish.cdncheck import check_count, check_deploy
    from hashdeploy.publish.run import deploy as publish

    check = bool(settings.check_url) and not dry_run and invalidate
    if check:
        check_count(settings)  # before anything is processed or written
        settings = dataclasses.replace(settings, wait=True)  # the check runs once the invalidation completed
    tmp = None
    try:
        out = settings.out or (build_dir(settings) if built is None else settings.site)
        if out is None:
            tmp = Path(tempfile.mkdtemp(prefix="hashdeploy-build-"))
            out = tmp / "site"
        # the cache's build folder is shared by the deploys of this site: locked from its update to the commit
        with build_folder_lock(settings, out):
            if built is None:
                # the cache's build folder is only read by deploys: update it in place
                built = build(dataclasses.replace(settings, out=out), dry_run=dry_run, progress=progress,
                              update=settings.out is None)
            target = target or open_target(settings)
            report = publish(built, out, target.backend, settings, served_prefix=target.served_prefix, cdn=target.cdn,
                             distributions=target.distributions, dry_run=dry_run, progress=progress,
                             break_lock=break_lock, invalidate=invalidate)
            if check:  # while the processed folder holds the deployed bytes; check_url[i] goes with distribution i
                prefixes = [d.served_prefix for d in target.distributions] or [target.served_prefix]
                report = dataclasses.replace(report, check=check_deploy(report, out, prefixes, settings))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return dataclasses.replace(report, build_warnings=built.warnings)


def history(settings: Settings, *, target: Target | None = None) -> list[dict[str, Any]]:
    """The target's deploys, newest first, each with `live` true for the one being served."""
    from hashdeploy.publish.history import history as run

    return run((target or open_target(settings, "history")).backend)


def rollback(settings: Settings, deploy_id: str | None = None, *, target: Target | None = None,
             dry_run: bool = False, break_lock: bool = False) -> RollbackReport:
    """Put a recorded deploy back live (default: the one before the live one); no rebuild, no local files."""
    from hashdeploy.publish.rollback import rollback as run

    t = target or open_target(settings, "rollback")
    return run(t.backend, settings, deploy_id, served_prefix=t.served_prefix, distributions=t.distributions,
               dry_run=dry_run, break_lock=break_lock)


def prune(settings: Settings, *, target: Target | None = None, dry_run: bool = False,
          break_lock: bool = False) -> PruneReport:
    """Delete what no retained deploy needs (settings keep, older_than, max_deletes, delete_removed)."""
    from hashdeploy.checks import parse_age
    from hashdeploy.publish.prune import prune as run

    t = target or open_target(settings, "prune")
    return run(t.backend, settings, keep=settings.keep, older_than=parse_age(settings.older_than),
               max_deletes=settings.max_deletes, delete_removed=settings.delete_removed, served_prefix=t.served_prefix,
               cdn=t.cdn, distributions=t.distributions, dry_run=dry_run, break_lock=break_lock)


def doctor(settings: Settings) -> list[Finding]:
    """Read the bucket and every distribution in settings.distribution_id (never writing) and judge their setup."""
    from hashdeploy.settings import deploy_target

    target = deploy_target(settings)
    if target is None or target[0] != "s3":
        raise ConfigError("Config value 'target': `hashdeploy doctor` checks an S3 bucket and the CloudFront "
                          "distributions in front of it; pass --bucket or --target s3://BUCKET[/PREFIX]")
    from hashdeploy.backends.s3_config import read_facts
    from hashdeploy.publish.doctor import diagnose

    return diagnose(read_facts(settings, target[1], target[2]))
