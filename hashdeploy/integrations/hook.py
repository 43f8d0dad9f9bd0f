"""What every site-generator hook shares: host options -> Settings, the deploy switch, one run of build + deploy."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import hashdeploy
from hashdeploy.errors import ConfigError, StrictModeError
from hashdeploy.settings import Settings, deploy_target, options
from hashdeploy.sources import FALSE_WORDS, TRUE_WORDS, load_settings

if TYPE_CHECKING:
    from hashdeploy.publish.report import DeployReport


def env_switch(env: Mapping[str, str], name: str) -> bool | None:
    """A boolean environment variable (HASHDEPLOY_DEPLOY): None when unset; ConfigError when not a boolean."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name}={env[name]!r} is not one of {', '.join(TRUE_WORDS + FALSE_WORDS)}")
    return raw in TRUE_WORDS


def wants_deploy(option: object, env: Mapping[str, str]) -> bool:
    """HASHDEPLOY_DEPLOY overrides the host's `deploy` option; off by default (deploy from CI, not laptops)."""
    from_env = env_switch(env, "HASHDEPLOY_DEPLOY")
    return from_env if from_env is not None else bool(option)


def url_settings(site_url: str | None) -> dict[str, Any]:
    """site_url and the base path of root-relative URLs, from the host's public URL (only an http(s) one)."""
    if not site_url or not site_url.startswith(("http://", "https://")):
        return {}
    path = urlsplit(site_url).path or "/"
    return {"site_url": site_url, "base_path": path if path.endswith("/") else path + "/"}


def host_settings(site: Path, scope: str, given: Mapping[str, Any], *, project: Path, env: Mapping[str, str],
                  fixed: Mapping[str, Any] | None = None) -> Settings:
    """Settings for a hook: defaults < hashdeploy.toml/pyproject.toml in `project` < the host's options (`given`,
    None = unset) < HASHDEPLOY_* variables; `fixed` (what the host decides, like its output dir's URL) wins."""
    known = {f.name for f in options(scope)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"Config value '{unknown[0]}': not a hashdeploy setting here (known: {', '.join(sorted(known))})")
    flags: dict[str, Any] = {}
    for name, value in given.items():
        if value is None or env.get(f"HASHDEPLOY_{name.upper()}", "") != "":
            continue  # an environment variable overrides the host's configuration, as it overrides the toml file
        if isinstance(value, list):
            value = tuple(value)
        elif name == "cache_dir":
            value = project / str(value)
        flags[name] = value
    settings = load_settings(site, flags, env=env, directory=project)
    return dataclasses.replace(settings, out=None, **(fixed or {}))


def check_target(settings: Settings, deploy: bool, where: str) -> None:
    """A hook asked to deploy needs a target; say where to set one."""
    if deploy and deploy_target(settings) is None:
        raise ConfigError(f"deploying is enabled (HASHDEPLOY_DEPLOY=1 or {where} deploy) but there is no target; "
                          f"set {where} target (s3://BUCKET/PREFIX or file:///PATH) or bucket, or HASHDEPLOY_TARGET")


def run(settings: Settings, *, deploy: bool, warn: Callable[[str], None], info: Callable[[str], None],
        may_deploy: Callable[[], str | None] = lambda: None) -> None:
    """Process the output in place; then, when asked and `may_deploy` has no objection, deploy it."""
    result = hashdeploy.build(settings)
    for warning in result.warnings:
        warn(warning)
    info(result.summary_line())
    if not deploy:
        return
    objection = may_deploy()
    if objection:
        raise StrictModeError(f"not deploying: {objection}")
    report_deploy(hashdeploy.deploy(settings, built=result), warn=warn, info=info)


def report_deploy(report: DeployReport, *, warn: Callable[[str], None], info: Callable[[str], None]) -> None:
    """Log a deploy's warnings, its summary and --check-url's lines; raise CheckFailed when the check found URLs
    not served as deployed (the deploy itself stays committed)."""
    from hashdeploy.publish.report import check_error, check_lines, summary_line

    for warning in report.warnings:
        warn(warning)
    info(summary_line(report))
    for line in check_lines(report.check) if report.check else ():
        info(line)
    failed = check_error(report)
    if failed:
        raise failed
