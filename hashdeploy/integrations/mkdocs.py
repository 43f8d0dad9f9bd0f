"""The MkDocs plugin: `plugins: [search, hashdeploy]` hashes `site_dir` in place after every other plugin ran.

It turns mkdocs.yml into `Settings` and calls the library API, nothing more (STYLE.md 3.1). Deploying is opt-in
(`deploy: true` or HASHDEPLOY_DEPLOY=1), and `mkdocs serve` is left alone unless `enabled_on_serve: true`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import Field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.base import ValidationError
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.utils import CountHandler

import hashdeploy
from hashdeploy.errors import ConfigError, one_line
from hashdeploy.integrations import hook
from hashdeploy.model import BuildResult
from hashdeploy.settings import MKDOCS, Settings, deploy_target, options

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

log = get_plugin_logger(__name__)


class _Int(c.Type[int]):
    """An integer; YAML's `true` is not one (Python's bool is an int subclass)."""

    def __init__(self) -> None:
        super().__init__(int)

    def run_validation(self, value: object) -> int:
        if isinstance(value, bool):
            raise ValidationError(f"Expected an integer but received: {value!r}")
        return super().run_validation(value)


class _Number(c.Type[float]):
    """Seconds: an integer or a float, not a bool."""

    def __init__(self) -> None:
        super().__init__((int, float))

    def run_validation(self, value: object) -> float:
        if isinstance(value, bool):
            raise ValidationError(f"Expected a number but received: {value!r}")
        return float(super().run_validation(value))


class _List(c.ListOfItems[str]):
    """A list of strings; one string is a list of one (`distribution_id: E2QWRUHAPOMQZL`)."""

    def __init__(self) -> None:
        super().__init__(c.Type(str))

    def run_validation(self, value: object) -> list[str]:
        return super().run_validation([value] if isinstance(value, str) else value)


def _option(f: Field[Any]) -> base.BaseConfigOption[Any]:
    """The mkdocs.yml option of one setting; None means "not set" (the toml file or the default applies)."""
    kind = f.metadata["kind"]
    inner: base.BaseConfigOption[Any]
    if kind is tuple:
        inner = _List()
    elif kind is int:
        inner = _Int()
    elif kind is float:
        inner = _Number()
    else:
        inner = c.Type(bool if kind is bool else str)
    return c.Optional(inner)


if TYPE_CHECKING:
    _SchemaOptions = base.Config
else:  # one option per setting the schema gives to MkDocs: never a hand-written copy
    _SchemaOptions = type("_SchemaOptions", (base.Config,), {f.name: _option(f) for f in options(MKDOCS)})


class HashdeployPluginConfig(_SchemaOptions):  # type: ignore[no-untyped-call]
    """Options under `- hashdeploy:` in mkdocs.yml: the plugin's own two, then every setting MkDocs accepts.

    HASHDEPLOY_* environment variables override them; unset ones come from hashdeploy.toml or pyproject.toml
    beside mkdocs.yml, then from hashdeploy's defaults.
    """

    enabled_on_serve = c.Type(bool, default=False)
    deploy = c.Optional(c.Type(bool))


_PLUGIN_ONLY = ("enabled_on_serve", "deploy")


def engine_config(config: MkDocsConfig, options: HashdeployPluginConfig, env: Mapping[str, str]) -> Settings:
    """hashdeploy's Settings for site_dir: defaults < hashdeploy.toml/pyproject.toml beside mkdocs.yml <
    mkdocs.yml options < HASHDEPLOY_* env, with base_path and site_url always taken from MkDocs' site_url."""
    project = Path(config.config_file_path or ".").resolve().parent
    given = {name: value for name, value in options.items() if name not in _PLUGIN_ONLY}
    site_url = config.site_url or None
    # MkDocs writes root-relative URLs under site_url's path (404.html, served at any depth)
    base_path = (urlsplit(site_url).path or "/") if site_url else "/"
    try:
        return hook.host_settings(Path(config.site_dir), MKDOCS, given, project=project, env=env,
                                  fixed={"site_url": site_url, "base_path": base_path})
    except ConfigError as exc:
        raise PluginError(f"hashdeploy: ConfigError: {exc}") from None


def _fatal(exc: Exception) -> PluginError:
    """The CLI's one-line `ClassName: message`, as the error MkDocs prints before aborting (bugs propagate)."""
    failure = one_line(exc)
    if failure is None:
        raise exc
    return PluginError(f"hashdeploy: {failure[0]}")


class HashdeployPlugin(BasePlugin[HashdeployPluginConfig]):  # type: ignore[no-untyped-call]
    """Give every asset of the built site a content-hashed name; optionally deploy it."""

    def __init__(self) -> None:
        self.command: str = "build"
        self._warnings: CountHandler | None = None

    def on_startup(self, *, command: Literal["build", "gh-deploy", "serve"], dirty: bool) -> None:
        """Remember the command: `serve` is skipped unless enabled_on_serve, and never deploys."""
        self.command = command
        if command == "serve" and not self.config.enabled_on_serve:
            log.info("mkdocs serve: assets keep their names (set enabled_on_serve: true to hash them)")

    @property
    def active(self) -> bool:
        """Whether this run processes site_dir."""
        return self.command != "serve" or self.config.enabled_on_serve

    def wants_deploy(self) -> bool:
        """HASHDEPLOY_DEPLOY overrides `deploy:`; `mkdocs serve` never deploys."""
        if self.command == "serve":
            return False
        try:
            return hook.wants_deploy(self.config.deploy, os.environ)
        except ConfigError as exc:
            raise PluginError(f"hashdeploy: ConfigError: {exc}") from None

    @event_priority(100)
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        """Validate every setting before anything is built, and count warnings for a strict-mode deploy."""
        cfg = engine_config(config, self.config, os.environ)
        if self.wants_deploy() and deploy_target(cfg) is None:
            raise PluginError("hashdeploy: ConfigError: deploying is enabled (deploy: true or HASHDEPLOY_DEPLOY=1) "
                              "but there is no target; set `target: s3://BUCKET/PREFIX`, `bucket:` or "
                              "`target: file:///PATH` under the hashdeploy plugin (or HASHDEPLOY_TARGET)")
        self._stop_counting()
        if config.strict and self.active and self.wants_deploy():
            # MkDocs aborts a --strict build with warnings only after post_build: count them to deploy nothing
            self._warnings = CountHandler(level=logging.WARNING)
            logging.getLogger("mkdocs").addHandler(self._warnings)
        return config

    def _stop_counting(self) -> int:
        counter, self._warnings = self._warnings, None
        if counter is None:
            return 0
        logging.getLogger("mkdocs").removeHandler(counter)
        return sum(n for _level, n in counter.get_counts())

    def on_build_error(self, *, error: Exception) -> None:
        """Drop the strict-mode warning counter."""
        self._stop_counting()

    @event_priority(-100)  # last: hash what every other plugin wrote
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Process site_dir in place; then deploy it when asked to."""
        if not self.active:
            return
        cfg = engine_config(config, self.config, os.environ)
        if self.command == "serve" and cfg.jobs == 0:
            cfg = replace(cfg, jobs=1)  # serve runs threads, and fork() in a threaded process can deadlock
        try:
            result = hashdeploy.build(cfg)
        except Exception as exc:
            self._stop_counting()
            raise _fatal(exc) from exc
        for warning in result.warnings:
            log.warning(warning)
        log.info(result.summary_line())
        warned = self._stop_counting()
        if not self.wants_deploy():
            return
        if warned:
            raise PluginError(f"hashdeploy: not deploying: {warned} warning(s) in strict mode; fix them first")
        self._deploy(cfg, result)

    def _deploy(self, cfg: Settings, result: BuildResult) -> None:
        try:
            report = hashdeploy.deploy(cfg, built=result)
        except Exception as exc:
            raise _fatal(exc) from exc
        try:
            hook.report_deploy(report, warn=log.warning, info=log.info)
        except Exception as exc:  # --check-url found URLs not served as deployed
            raise _fatal(exc) from exc

