"""The Sphinx extension: `extensions = [..., "hashdeploy.sphinx"]` hashes the HTML output after every other extension.

It turns conf.py's `hashdeploy_*` values into Settings and calls the library API, nothing more. Deploying is
opt-in (`hashdeploy_deploy = True` or HASHDEPLOY_DEPLOY=1). A hashdeploy warning is a Sphinx warning, so
`sphinx-build -W` fails on it, and a build with warnings under -W deploys nothing.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.errors import ConfigError as SphinxConfigError
from sphinx.errors import SphinxError
from sphinx.util import logging

from hashdeploy import __version__
from hashdeploy.errors import ConfigError, one_line
from hashdeploy.integrations import hook
from hashdeploy.settings import SPHINX, Settings, options

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

log = logging.getLogger(__name__)
PREFIX = "hashdeploy_"
# Builders whose output is a web site; the packaging ones (epub, htmlhelp, qthelp…) are left alone.
WEB_BUILDERS = frozenset({"html", "dirhtml", "singlehtml"})
READ_BACK = ("/searchindex.js",)  # files Sphinx reads from its own output: they keep their names


class HashdeployError(SphinxError):
    """Shown by Sphinx as `hashdeploy error:` followed by hashdeploy's one line."""

    category = "hashdeploy error"


def _types(kind: type) -> tuple[type, ...]:
    return {tuple: (list, tuple, str), float: (int, float), Path: (str, Path)}.get(kind, (kind,))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register one `hashdeploy_<setting>` config value per setting the schema gives to Sphinx."""
    for f in options(SPHINX):
        app.add_config_value(PREFIX + f.name, None, "", types=frozenset({*_types(f.metadata["kind"]), type(None)}))
    app.add_config_value(PREFIX + "deploy", None, "", types=frozenset({bool, type(None)}))
    app.connect("config-inited", _check, priority=900)
    app.connect("build-finished", _finished, priority=900)  # late: after every other extension wrote its files
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}


def settings_for(app: Sphinx, config: Config) -> Settings:
    """hashdeploy's Settings for the output dir: defaults < toml files beside conf.py < conf.py < HASHDEPLOY_*."""
    given = {f.name: getattr(config, PREFIX + f.name) for f in options(SPHINX)}
    fixed = {} if given.get("site_url") else hook.url_settings(getattr(config, "html_baseurl", "") or None)
    settings = hook.host_settings(Path(app.outdir), SPHINX, given, project=Path(app.confdir), env=os.environ,
                                  fixed={k: v for k, v in fixed.items() if given.get(k) is None})
    # an incremental build reads the last searchindex.js back to keep the entries of unchanged pages
    return dataclasses.replace(settings, stable=(*settings.stable, *READ_BACK))


def _check(app: Sphinx, config: Config) -> None:
    """Every setting is checked before anything is built."""
    try:
        settings = settings_for(app, config)
        hook.check_target(settings, _deploying(app, config), "conf.py's hashdeploy_")
    except ConfigError as exc:
        raise SphinxConfigError(f"hashdeploy: {exc}") from None


def _deploying(app: Sphinx, config: Config) -> bool:
    return hook.wants_deploy(getattr(config, PREFIX + "deploy"), os.environ)


def _finished(app: Sphinx, exception: BaseException | None) -> None:
    """Process the HTML output in place; then deploy it when asked to."""
    if exception is not None:
        return
    if app.builder.name not in WEB_BUILDERS:
        log.debug("hashdeploy: the %s builder's output is not a web site; left alone", app.builder.name)
        return
    def may_deploy() -> str | None:
        warned = _warnings(app)
        if getattr(app, "_fail_on_warnings", False) and warned:
            return f"{warned} warning(s) with -W; fix them first"
        return None

    try:
        hook.run(settings_for(app, app.config), deploy=_deploying(app, app.config), warn=log.warning,
                 info=lambda line: log.info("hashdeploy: %s", line), may_deploy=may_deploy)
    except Exception as exc:
        failure = one_line(exc)
        if failure is None:
            raise
        raise HashdeployError(failure[0]) from None


def _warnings(app: Sphinx) -> int:
    return int(getattr(app, "_warncount", 0))
