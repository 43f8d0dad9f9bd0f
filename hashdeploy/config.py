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


HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Browsers revalidate stable files on every use (a cheap 304 thanks to the ETag); CloudFront may keep them
# a day because hashdeploy invalidates exactly the ones that change.
STABLE_CACHE_CONTROL = "public, max-age=0, must-revalidate"
STABLE_CDN_SUFFIX = ", s-maxage=86400"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


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
    # deploy target: an S3 bucket (+ prefix, CloudFront distribution) or a local directory
    target: str | None = None  # s3://bucket/prefix or file:///srv/www
    bucket: str | None = None
    prefix: str = ""
    distribution_id: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None
    workers: int = 16  # concurrent requests; network-bound, so well above the core count
    max_attempts: int = 5  # botocore standard retry mode, total attempts per request
    hashed_cache_control: str = HASHED_CACHE_CONTROL
    stable_cache_control: str | None = None  # None: STABLE_CACHE_CONTROL (+ s-maxage behind CloudFront)
    cache_control: tuple[str, ...] = ()  # "GLOB=VALUE" overrides, first match wins
    invalidation_budget: int = 100  # paths per deploy before collapsing to wildcards
    invalidation_patience: float = 60.0  # seconds of backoff on TooManyInvalidationsInProgress
    wait: bool = False
    wait_timeout: float = 900.0
    verify: bool = False
    acl: str | None = None
    origin_path: str | None = None  # CloudFront origin path; None: read from the distribution
    rollback_copies: bool = True  # keep replaced stable bodies under .hashdeploy/stable/ for rollback
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
    if cfg.target is not None and not re.match(r"^(s3://[^/]+(/.*)?|file://.+)$", cfg.target):
        errors.append(f"Config value 'target': {cfg.target!r} is not s3://BUCKET[/PREFIX] or file:///PATH")
    if cfg.bucket is not None and not _BUCKET.match(cfg.bucket):
        errors.append(f"Config value 'bucket': {cfg.bucket!r} is not a valid S3 bucket name")
    if cfg.prefix.startswith("/"):
        errors.append(f"Config value 'prefix': {cfg.prefix!r} must not start with '/'")
    if not 1 <= cfg.workers <= 256:
        errors.append(f"Config value 'workers': {cfg.workers} is not between 1 and 256")
    if not 1 <= cfg.max_attempts <= 20:
        errors.append(f"Config value 'max_attempts': {cfg.max_attempts} is not between 1 and 20")
    if not 1 <= cfg.invalidation_budget <= 3000:
        errors.append(f"Config value 'invalidation_budget': {cfg.invalidation_budget} is not between 1 and 3000")
    headers: list[tuple[str, str | None]] = [
        ("hashed_cache_control", cfg.hashed_cache_control),
        ("stable_cache_control", cfg.stable_cache_control),
    ]
    for rule in cfg.cache_control:
        glob, sep, value = rule.partition("=")
        if not sep or not glob.strip() or not value.strip():
            errors.append(f"Config value 'cache_control': {rule!r} is not GLOB=VALUE")
        headers.append(("cache_control", value))
    for name, header in headers:
        if header is not None and (not header.isprintable() or any(c in header for c in "\r\n")):
            errors.append(f"Config value '{name}': {header!r} contains control characters (CR/LF are not allowed)")
    return errors


def deploy_target(cfg: Config) -> tuple[str, str, str] | None:
    """('s3', bucket, prefix) or ('file', path, '') from --target/--bucket, or None for the offline step."""
    if cfg.target and cfg.target.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return "file", unquote(urlsplit(cfg.target).path), ""
    if cfg.target:
        bucket, _, prefix = cfg.target[len("s3://"):].partition("/")
        return "s3", bucket, _norm_prefix(prefix or cfg.prefix)
    if cfg.bucket:
        return "s3", cfg.bucket, _norm_prefix(cfg.prefix)
    return None


def _norm_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


_KINDS: dict[str, type] = {
    "out": Path, "hash_length": int, "base_path": str, "site_url": str, "stable": tuple, "hashed": tuple,
    "fingerprint_patterns": tuple, "sri": bool, "strict": bool, "jobs": int, "cache_dir": Path,
    "use_cache": bool, "target": str, "bucket": str, "prefix": str, "distribution_id": str, "endpoint_url": str,
    "profile": str, "region": str, "workers": int, "max_attempts": int, "hashed_cache_control": str,
    "stable_cache_control": str, "cache_control": tuple, "invalidation_budget": int,
    "invalidation_patience": float, "wait": bool, "wait_timeout": float, "verify": bool, "acl": str,
    "origin_path": str, "rollback_copies": bool,
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
        if kind is int or kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return kind(value)
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
    known = {f.name for f in fields(Config)}
    try:
        cfg = Config(site=site, **{k: v for k, v in merged.items() if k in known and v is not None})
    except ConfigError as exc:
        errors.append(str(exc))
    if errors:
        raise ConfigError("; ".join(errors))
    return cfg
