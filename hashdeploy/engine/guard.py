"""Checks before a build writes anything: the output may not lose data, a file:// target may not overlap it."""

from __future__ import annotations

import os
from pathlib import Path

from hashdeploy.engine.manifest import MANIFEST_PATH
from hashdeploy.errors import OutputError


def check_target(site: Path, out: Path | None, deploy_dir: Path | None = None) -> Path:
    """Return the directory to replace, refusing outputs that would lose data.

    deploy_dir is the directory of a file:// deploy target: it may neither overlap the site nor the output.
    """
    if deploy_dir is not None:
        _check_apart(site, out, deploy_dir)
    if out is None or out.resolve() == site.resolve():
        _refuse_deploy_records(site, "processing it in place")
        return site
    site_r, out_r = site.resolve(), out.resolve()
    if site_r in out_r.parents:
        raise OutputError(f"{out}: the output directory is inside the site {site}; choose a directory outside it")
    if out_r in site_r.parents:
        raise OutputError(f"{out}: the output directory contains the site {site}; choose another directory")
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"{out}: exists and is not a directory; choose another output path")
        _refuse_deploy_records(out, "--out")
        # hashdeploy's own folder marks an earlier output, also one whose update was interrupted (its manifest
        # is removed while it is updated in place)
        if any(out.iterdir()) and not (out / MANIFEST_PATH).parent.is_dir():
            raise OutputError(
                f"{out}: exists, is not empty and is not an earlier hashdeploy output; "
                "choose a new or empty directory"
            )
    return out


def _refuse_deploy_records(directory: Path, what: str) -> None:
    """A directory holding deploy records is a live file:// target: replacing it would lose the site and its history."""
    from hashdeploy.publish.records import CURRENT, HISTORY, LOCK, RESERVED

    records = directory / RESERVED
    for name in (CURRENT, "deploys", HISTORY, LOCK):
        if os.path.lexists(records / name):
            raise OutputError(
                f"{directory}: holds deploy records ({RESERVED}{name}), it is a deploy target; {what} would replace "
                f"the live site and its history: deploy to it with --target {_uri(directory)}, or choose another directory"
            )


def _check_apart(site: Path, out: Path | None, deploy_dir: Path) -> None:
    """A file:// target must not be, hold or sit inside the site or the output directory."""
    target = deploy_dir.resolve()
    for role, path in (("site", site), ("output directory", out)):
        if path is None:
            continue
        other = path.resolve()
        if target == other or other in target.parents or target in other.parents:
            relation = "is" if target == other else ("is inside" if other in target.parents else "contains")
            raise OutputError(
                f"{_uri(deploy_dir)}: the deploy target {relation} the {role} {path}; "
                f"choose a target directory outside the {role}"
            )


def _uri(path: Path) -> str:
    return path.resolve().as_uri()
