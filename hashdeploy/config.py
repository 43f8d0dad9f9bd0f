"""Settings: a frozen keyword-only Config, loaded from defaults < toml file < environment < flags."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

# Files whose URL must not change, whatever references them.
DEFAULT_STABLE = (
    "*.html", "*.htm", "*.xhtml", "/robots.txt", "sitemap*.xml", "sitemap*.xml.gz", "/favicon.ico",
    "/.well-known/**", "*.rss", "*.atom", "feed.xml", "atom.xml", "rss.xml", "index.xml", "feed.json",
    "sw.js", "service-worker.js", "serviceworker.js", "/CNAME", "/_redirects", "/_headers",
    "/browserconfig.xml", "/crossdomain.xml", "/humans.txt", "/ads.txt", "/security.txt", "/.nojekyll",
)
# Build tools' content hashes in file names: webpack/Angular/Material/Hugo hex, Vite base64url.
DEFAULT_FINGERPRINTS = (
    r"[.\-_][0-9a-f]{8,64}(?=\.)",
    r"-(?=[A-Za-z0-9_\-]{8}\.)(?=[^.]*?[0-9_\-]|(?:[^.]*?[A-Z]){2})[A-Za-z0-9_\-]{8}(?=\.)",
)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything that decides what hashdeploy does to a site."""

    site: Path
    out: Path | None = None  # None: process the site in place
    hash_length: int = 12  # hex digits of SHA-256 put in names
    base_path: str = "/"  # URL path the site is served under, for root-relative references
    site_url: str | None = None  # absolute URLs on this origin are resolved too
    stable: tuple[str, ...] = ()  # globs forced to keep their names
    hashed: tuple[str, ...] = ()  # globs forced to be hashed
    fingerprint_patterns: tuple[str, ...] = DEFAULT_FINGERPRINTS
    sri: bool = False
    strict: bool = False
    jobs: int = 0  # worker processes; 0 = one per core
    cache_dir: Path | None = None  # parse cache; None = default user cache dir
    use_cache: bool = True
    default_stable: tuple[str, ...] = field(default=DEFAULT_STABLE, repr=False)

    def __post_init__(self) -> None:
        errors = validate(self)
        if errors:
            raise ConfigError("; ".join(errors))


def validate(cfg: Config) -> list[str]:
    """Return one message per invalid setting."""
    errors = []
    if not 8 <= cfg.hash_length <= 64:
        errors.append(f"Config value 'hash_length': {cfg.hash_length} is not between 8 and 64")
    if not cfg.base_path.startswith("/") or not cfg.base_path.endswith("/"):
        errors.append(f"Config value 'base_path': {cfg.base_path!r} must start and end with '/' (e.g. '/docs/')")
    if cfg.site_url is not None and not re.match(r"^https?://[^/?#]+(/[^?#]*)?$", cfg.site_url):
        errors.append(f"Config value 'site_url': {cfg.site_url!r} is not an http(s) URL like https://example.com/docs/")
    for p in cfg.fingerprint_patterns:
        try:
            re.compile(p)
        except re.error as exc:
            errors.append(f"Config value 'fingerprint_patterns': {p!r} is not a valid regular expression ({exc})")
    if cfg.jobs < 0:
        errors.append(f"Config value 'jobs': {cfg.jobs} must be 0 (auto) or more")
    return errors


_KINDS: dict[str, type] = {
    "out": Path, "hash_length": int, "base_path": str, "site_url": str, "stable": tuple, "hashed": tuple,
    "fingerprint_patterns": tuple, "sri": bool, "strict": bool, "jobs": int, "cache_dir": Path,
    "use_cache": bool,
}


def _coerce(name: str, value: Any, errors: list[str], source: str) -> Any:
    kind = _KINDS[name]
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return low in ("1", "true", "yes", "on")
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind is tuple:
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(value)
            return tuple(value)
        if kind is Path:
            return Path(str(value))
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError):
        errors.append(f"Config value '{name}' from {source}: {value!r} is not a valid {kind.__name__}")
        return None


def file_settings(directory: Path) -> tuple[dict[str, Any], str]:
    """Read [tool.hashdeploy] from pyproject.toml or the top level of hashdeploy.toml in directory."""
    for name, table in (("hashdeploy.toml", None), ("pyproject.toml", ("tool", "hashdeploy"))):
        path = directory / name
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file") from None
        for part in table or ():
            data = data.get(part, {}) if isinstance(data, dict) else {}
        if data:
            return dict(data), str(path)
    return {}, ""


def load_config(site: Path, flags: Mapping[str, Any], env: Mapping[str, str] | None = None,
                directory: Path | None = None) -> Config:
    """Merge defaults < toml file < HASHDEPLOY_* environment < flags (None = unset) and validate all at once."""
    env = os.environ if env is None else env
    errors: list[str] = []
    merged: dict[str, Any] = {}
    from_file, file_name = file_settings(directory or Path.cwd())
    for key, value in from_file.items():
        name = key.replace("-", "_")
        if name not in _KINDS:
            errors.append(f"Config value '{key}' in {file_name}: unknown setting (known: {', '.join(sorted(_KINDS))})")
            continue
        merged[name] = _coerce(name, value, errors, file_name)
    for name in _KINDS:
        value = env.get("HASHDEPLOY_" + name.upper())
        if value is not None and value != "":
            merged[name] = _coerce(name, value, errors, "HASHDEPLOY_" + name.upper())
    for name, value in flags.items():
        if value is not None and name in _KINDS:
            merged[name] = value
    if errors:
        raise ConfigError("; ".join(errors))
    known = {f.name for f in fields(Config)}
    return Config(site=site, **{k: v for k, v in merged.items() if k in known and v is not None})
