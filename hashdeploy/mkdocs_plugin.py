"""The MkDocs plugin: `plugins: [search, hashdeploy]` hashes `site_dir` in place after every other plugin ran.

It turns mkdocs.yml into a `Config` and calls the pipeline, nothing more (STYLE.md 3.1). Deploying is opt-in
(`deploy: true` or HASHDEPLOY_DEPLOY=1), and `mkdocs serve` is left alone unless `enabled_on_serve: true`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.base import ValidationError
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.utils import CountHandler

from .config import Config, deploy_target, load_config
from .errors import ConfigError, HashdeployError
from .model import BuildResult, FileClass

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

log = get_plugin_logger(__name__)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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


def _opt_str() -> c.Optional[str]:
    return c.Optional(c.Type(str))


def _opt_bool() -> c.Optional[bool]:
    return c.Optional(c.Type(bool))


def _opt_list() -> c.Optional[list[str]]:
    return c.Optional(c.ListOfItems(c.Type(str)))


class HashdeployPluginConfig(base.Config):  # type: ignore[no-untyped-call]
    """Options under `- hashdeploy:` in mkdocs.yml.

    HASHDEPLOY_* environment variables override them; unset ones come from hashdeploy.toml or pyproject.toml
    beside mkdocs.yml, then from hashdeploy's defaults (so None here means "not set").
    """

    enabled_on_serve = c.Type(bool, default=False)
    deploy = _opt_bool()
    # what the build does (hashdeploy's own settings; base_path and site_url come from MkDocs' site_url)
    hash_length = c.Optional(_Int())
    stable = _opt_list()
    hashed = _opt_list()
    fingerprint_patterns = _opt_list()
    sri = _opt_bool()
    strict = _opt_bool()
    jobs = c.Optional(_Int())
    use_cache = _opt_bool()
    cache_dir = _opt_str()
    # where a deploy goes
    target = _opt_str()
    bucket = _opt_str()
    prefix = _opt_str()
    distribution_id = _opt_str()
    endpoint_url = _opt_str()
    profile = _opt_str()
    region = _opt_str()
    workers = c.Optional(_Int())
    max_attempts = c.Optional(_Int())
    hashed_cache_control = _opt_str()
    stable_cache_control = _opt_str()
    cache_control = _opt_list()
    invalidation_budget = c.Optional(_Int())
    invalidation_patience = c.Optional(_Number())
    wait = _opt_bool()
    wait_timeout = c.Optional(_Number())
    verify = _opt_bool()
    acl = _opt_str()
    origin_path = _opt_str()


_PLUGIN_ONLY = ("enabled_on_serve", "deploy")


def _bool_env(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw not in _TRUE + _FALSE:
        raise PluginError(f"hashdeploy: ConfigError: {name}={env[name]!r} is not one of {', '.join(_TRUE + _FALSE)}")
    return raw in _TRUE


def engine_config(config: MkDocsConfig, options: HashdeployPluginConfig, env: Mapping[str, str]) -> Config:
    """hashdeploy's Config for site_dir: defaults < hashdeploy.toml/pyproject.toml beside mkdocs.yml <
    mkdocs.yml options < HASHDEPLOY_* env, with base_path and site_url always taken from MkDocs' site_url."""
    project = Path(config.config_file_path or ".").resolve().parent
    flags: dict[str, Any] = {}
    for name, value in options.items():
        if name in _PLUGIN_ONLY or value is None or env.get(f"HASHDEPLOY_{name.upper()}", "") != "":
            continue  # an environment variable overrides mkdocs.yml, as it overrides the toml file
        if isinstance(value, list):
            value = tuple(value)
        elif name == "cache_dir":
            value = project / value
        flags[name] = value
    site_url = config.site_url or None
    # MkDocs writes root-relative URLs under site_url's path (404.html, served at any depth)
    base_path = (urlsplit(site_url).path or "/") if site_url else "/"
    try:
        cfg = load_config(Path(config.site_dir), flags, env=env, directory=project)
        return replace(cfg, out=None, site_url=site_url, base_path=base_path)
    except ConfigError as exc:
        raise PluginError(f"hashdeploy: ConfigError: {exc}") from None


def _fatal(exc: Exception) -> PluginError:
    """The CLI's one-line `ClassName: message`, as the error MkDocs prints before aborting."""
    if isinstance(exc, OSError) and exc.filename:
        return PluginError(f"hashdeploy: {type(exc).__name__}: {exc.filename} {exc.strerror or exc}")
    return PluginError(f"hashdeploy: {type(exc).__name__}: {exc}")


def _is_remote_failure(exc: Exception) -> bool:
    # botocore/s3transfer failures that escaped the backend's translation (as in cli.main)
    return type(exc).__module__.startswith(("botocore", "boto3", "s3transfer", "urllib3"))


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
        from_env = _bool_env(os.environ, "HASHDEPLOY_DEPLOY")
        return from_env if from_env is not None else bool(self.config.deploy)

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
        from .pipeline import build  # here, not at import: `mkdocs serve` without hashing never pays for bs4

        try:
            result = build(cfg)
        except (HashdeployError, OSError) as exc:
            self._stop_counting()
            raise _fatal(exc) from exc
        for warning in result.warnings:
            log.warning(warning)
        log.info(_summary(result))
        warned = self._stop_counting()
        if not self.wants_deploy():
            return
        if warned:
            raise PluginError(f"hashdeploy: not deploying: {warned} warning(s) in strict mode; fix them first")
        self._deploy(cfg, result)

    def _deploy(self, cfg: Config, result: BuildResult) -> None:
        from .commands import make_backend, summary_line
        from .deploy import deploy

        try:
            backend, served, cdn = make_backend(cfg)
            report = deploy(result, cfg.site, backend, cfg, served_prefix=served, cdn=cdn)
        except (HashdeployError, OSError) as exc:
            raise _fatal(exc) from exc
        except Exception as exc:
            if not _is_remote_failure(exc):
                raise
            raise _fatal(exc) from exc
        for warning in report.warnings:
            log.warning(warning)
        log.info(summary_line(report))


def _summary(result: BuildResult) -> str:
    counts = {cls: sum(1 for f in result.files if f.cls is cls) for cls in FileClass}
    return (f"{len(result.files)} files: {counts[FileClass.HASHED]} hashed, {counts[FileClass.FINGERPRINTED]} "
            f"fingerprinted, {counts[FileClass.STABLE]} stable; {len(result.rewritten)} rewritten")
