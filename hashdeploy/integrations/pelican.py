"""The Pelican plugin: `PLUGINS = ["hashdeploy.pelican"]` hashes the output once Pelican has written everything.

It turns the `HASHDEPLOY = {...}` setting into Settings and calls the library API, nothing more. Deploying is
opt-in (`"deploy": True` in HASHDEPLOY, or HASHDEPLOY_DEPLOY=1). `pelican --autoreload` and `--listen` keep
working: each regeneration is processed again, and a processed output processed again is the same.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pelican import signals

from hashdeploy.errors import ConfigError, one_line
from hashdeploy.integrations import hook
from hashdeploy.settings import PELICAN, Settings

log = logging.getLogger(__name__)


class HashdeployFailure(Exception):
    """hashdeploy's one line, raised out of Pelican's build (the command then exits non-zero)."""


def register() -> None:
    """Pelican's plugin entry point."""
    signals.initialized.connect(_check)
    signals.finalized.connect(_finalized)


def _options(pelican: Any) -> dict[str, Any]:
    raw = pelican.settings.get("HASHDEPLOY") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"HASHDEPLOY in pelicanconf.py is {type(raw).__name__}; it must be a dict of settings")
    return dict(raw)


def settings_for(pelican: Any) -> tuple[Settings, bool]:
    """hashdeploy's Settings for OUTPUT_PATH, and whether to deploy: defaults < toml files beside the
    settings file < HASHDEPLOY < HASHDEPLOY_* variables; site_url/base_path from SITEURL unless given."""
    given = _options(pelican)
    deploy = hook.wants_deploy(given.pop("deploy", None), os.environ)
    project = Path(pelican.settings.get("PATH", ".")).resolve().parent
    urls = {} if pelican.settings.get("RELATIVE_URLS") else hook.url_settings(pelican.settings.get("SITEURL"))
    settings = hook.host_settings(Path(pelican.output_path), PELICAN, given, project=project, env=os.environ,
                                  fixed={k: v for k, v in urls.items() if given.get(k) is None})
    return settings, deploy


def _check(pelican: Any) -> None:
    """Every setting is checked before Pelican reads any content."""
    try:
        settings, deploy = settings_for(pelican)
        hook.check_target(settings, deploy, "HASHDEPLOY's")
    except ConfigError as exc:
        raise HashdeployFailure(f"hashdeploy: ConfigError: {exc}") from None


def _finalized(pelican: Any) -> None:
    """Process the output in place; then deploy it when asked to."""
    try:
        settings, deploy = settings_for(pelican)
        hook.run(settings, deploy=deploy, warn=log.warning, info=lambda line: log.info("hashdeploy: %s", line))
    except Exception as exc:
        failure = one_line(exc)
        if failure is None:
            raise
        log.error("hashdeploy: %s", failure[0])
        raise HashdeployFailure(f"hashdeploy: {failure[0]}") from None
