"""The settings schema: every setting declared once (type, default, help, check, the commands that take it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from hashdeploy.checks import (
    Check,
    age_check,
    at_least_check,
    between,
    distribution_ids_check,
    header_check,
    matches_check,
    regexes_check,
    rules_check,
    target_check,
    urls_check,
)
from hashdeploy.errors import ConfigError

# Files whose URL must not change, whatever references them.
DEFAULT_STABLE = (
    "*.html", "*.htm", "*.xhtml", "/robots.txt", "sitemap*.xml", "sitemap*.xml.gz", "/favicon.ico",
    "/.well-known/**", "*.rss", "*.atom", "feed.xml", "atom.xml", "rss.xml", "index.xml", "feed.json",
    "sw.js", "service-worker.js", "serviceworker.js", "/CNAME", "/_redirects", "/_headers",
    "/browserconfig.xml", "/crossdomain.xml", "/humans.txt", "/ads.txt", "/security.txt", "/.nojekyll",
    # web app manifests: an installed app follows its manifest's URL (any file <link rel="manifest"> names is
    # kept too; these also cover a manifest linked by script)
    "*.webmanifest", "manifest.json",
)
# Build tools' content hashes in file names. A pattern is searched in the file name, or in the site path when it
# contains "/". The token must look random, because a name that only looks like one (a date, a counter, a camera's
# IMG_00012345) would be cached forever and never invalidated when the file is edited in place:
# - hex (webpack, Docusaurus, Next.js, Angular, Material, Hugo): 8-64 of [0-9a-f] between separators, mixing digits
#   and a-f letters. A decimal-only run is a hash only from 21 digits: every date/time format fits in 20
#   (YYYYMMDDhhmmss + microseconds; epoch nanoseconds are 19), and a counter never gets that long. An 8-hex hash
#   is all digits 2.3% of the time (and all letters 0.04%): those are missed, which is safe (hashed or stable).
# - base64url (Rollup/Vite `-XXXXXXXX.`, VitePress and Astro `.XXXXXXXX.`): an upper- and a lower-case letter,
#   a letter that no word has there (an upper-case letter not starting a lower-case word, or a digit before a
#   letter), and at least three runs of one character class: "Summer24", "HomePage", "IMG_0001", "iPhone12"
#   are words; "BeeRWYWd", "Bj-uP2-C", "D7XMDTI1" are not. About 6% of real Vite hashes are missed (safe).
# - Next.js's build id directory, `_next/static/<build id>/`, by the same tests.
_B64 = "[A-Za-z0-9_-]"
_B64_RUN_BREAK = r"(?:[-_]|[a-z](?=[A-Z0-9])|[A-Z](?=[0-9]|[A-Z][a-z])|[0-9](?=[A-Za-z]))"
_B64_RANDOM = (rf"(?={_B64}*?[A-Z])(?={_B64}*?[a-z])(?={_B64}*?(?:[A-Z](?![a-z])|[0-9](?=[A-Za-z])))"
               rf"(?={_B64}*?{_B64_RUN_BREAK}{_B64}*?{_B64_RUN_BREAK})")
_HEX_RANDOM = r"(?:[0-9a-f]{21,64}|(?=[0-9a-f]*?[a-f])(?=[0-9a-f]*?[0-9])[0-9a-f]{8,20})"
DEFAULT_FINGERPRINTS = (
    rf"(?:^|[.\-_~])(?=[0-9a-f]{{8,64}}[.\-_]){_HEX_RANDOM}[.\-_]",
    rf"(?:-(?={_B64}{{8}}\.)|\.(?={_B64}{{8,32}}\.)){_B64_RANDOM}",
    rf"(?:^|/)_next/static/(?:(?=[0-9a-f]{{8,64}}/){_HEX_RANDOM}|(?={_B64}{{8,64}}/){_B64_RANDOM}{_B64}+)/",
    # VitePress page chunks, `<page>.md.<8 base64url>.js` and `.lean.js`: the `.md.` before the token says what it
    # is, so any 8 characters count (`api-examples.md.DEXtoiyi.lean.js` has too few case changes for the rule above)
    rf"\.md\.{_B64}{{8}}\.(?:lean\.)?js$",
)
HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Browsers revalidate stable files on every use (a cheap 304 thanks to the ETag); CloudFront may keep them
# a day because hashdeploy invalidates exactly the ones that change.
STABLE_CACHE_CONTROL = "public, max-age=0, must-revalidate"
STABLE_CDN_SUFFIX = ", s-maxage=86400"

# Who accepts a setting: the commands, plus "mkdocs" for the MkDocs plugin's options.
BUILD, DEPLOY, WATCH, HISTORY, ROLLBACK, PRUNE = "build", "deploy", "watch", "history", "rollback", "prune"
DOCTOR = "doctor"
MKDOCS, SPHINX, PELICAN = "mkdocs", "sphinx", "pelican"
SCOPES = (BUILD, DEPLOY, WATCH, HISTORY, ROLLBACK, PRUNE, DOCTOR, MKDOCS, SPHINX, PELICAN)
HOOKS = frozenset({MKDOCS, SPHINX, PELICAN})  # site generators' hooks: they process their output, may deploy it
ENGINE = frozenset({BUILD, DEPLOY, WATCH}) | HOOKS  # what processing a site reads
TARGET = frozenset({DEPLOY, WATCH, HISTORY, ROLLBACK, PRUNE, DOCTOR}) | HOOKS  # where the live site is
WRITES = frozenset({DEPLOY, WATCH, ROLLBACK, PRUNE}) | HOOKS  # what changes the live site reads
UPLOADS = frozenset({DEPLOY, WATCH, ROLLBACK}) | HOOKS  # what putting objects and waiting for invalidations reads
PUBLISHES = frozenset({DEPLOY, WATCH}) | HOOKS  # what only a deploy of a processed site reads
CACHING = frozenset({DEPLOY, WATCH, PRUNE}) | HOOKS  # stable files' caching: deploys set it, prune waits it out


def setting(default: Any, help: str, *, scope: frozenset[str], kind: type | None = None, check: Check | None = None,
            flag: str | None = None, metavar: str | None = None, show: str | None = None) -> Any:
    """Declare one setting: a dataclass field whose metadata the flag, env, file and plugin loaders read."""
    kind = kind or type(default)
    meta = {"help": help, "scope": scope, "kind": kind, "check": check, "flag": flag, "metavar": metavar,
            "show": show}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything that decides what hashdeploy does: one declaration per setting, read by every loader."""

    site: Path
    out: Path | None = setting(None, "write the processed site here; without it SITE is processed in place",
                               scope=frozenset({BUILD, DEPLOY, WATCH}), kind=Path, metavar="DIR",
                               show="process SITE in place")
    hash_length: int = setting(12, "hex digits of SHA-256 in hashed names", scope=ENGINE, check=between(8, 64),
                               metavar="N")
    base_path: str = setting("/", "URL path the site is served under, for root-relative references (e.g. /docs/)",
                             scope=ENGINE - {MKDOCS}, metavar="PATH",
                             check=matches_check(r"^/(.*/)?$", "a path that starts and ends with '/' (e.g. '/docs/')"))
    site_url: str | None = setting(None, "the site's public URL; absolute URLs on it are rewritten too",
                                   scope=ENGINE - {MKDOCS}, kind=str, metavar="URL",
                                   check=matches_check(r"^https?://[^/?#]+(/[^?#]*)?$", "an http(s) URL like https://example.com/docs/"))
    stable: tuple[str, ...] = setting((), "keep files matching GLOB at their names (repeatable)", scope=ENGINE,
                                      metavar="GLOB")
    hashed: tuple[str, ...] = setting((), "always hash files matching GLOB (repeatable)", scope=ENGINE, flag="--hash",
                                      metavar="GLOB")
    fingerprint_patterns: tuple[str, ...] = setting(
        DEFAULT_FINGERPRINTS, "regex on file names that already carry a build tool's hash (replaces the defaults)",
        scope=ENGINE, flag="--fingerprint-pattern", metavar="REGEX", check=regexes_check,
        show="hex and base64url tokens that look random (never dates or counters), VitePress `.md.<hash>.js`, Next.js build ids")
    sri: bool = setting(False, "add integrity= to scripts and stylesheets", scope=ENGINE)
    strict: bool = setting(False, "treat warnings (missing files, references outside the site) as errors",
                           scope=ENGINE)
    jobs: int = setting(0, "worker processes; 0 = one per core", scope=ENGINE, check=at_least_check(0), metavar="N",
                        show="0 (one per core)")
    use_cache: bool = setting(True, "keep parse results by content hash (--no-cache turns it off)", scope=ENGINE,
                              flag="--no-cache")
    cache_dir: Path | None = setting(None, "parse cache directory", scope=ENGINE, kind=Path, metavar="DIR",
                                     show="`~/.cache/hashdeploy`")
    target: str | None = setting(None, "s3://BUCKET[/PREFIX] or file:///PATH (a directory a web server serves)",
                                 scope=TARGET, kind=str, metavar="URL",
                                 check=target_check)
    bucket: str | None = setting(None, "S3 bucket to deploy to", scope=TARGET, kind=str, metavar="NAME",
                                 check=matches_check(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", "a valid S3 bucket name"))
    prefix: str = setting("", "key prefix inside the bucket", scope=TARGET, show="none",
                          check=lambda v: "must not start with '/'" if v.startswith("/") else None)
    distribution_id: tuple[str, ...] = setting(
        (), "CloudFront distribution to invalidate (repeatable: each gets its own invalidation)", scope=TARGET,
        metavar="ID", check=distribution_ids_check)
    endpoint_url: str | None = setting(None, "S3-compatible endpoint (MinIO, R2, a local moto server)", scope=TARGET,
                                       kind=str, metavar="URL")
    profile: str | None = setting(None, "AWS profile (credentials come only from boto3's standard chain)",
                                  scope=TARGET, kind=str, metavar="NAME")
    region: str | None = setting(None, "AWS region of the bucket", scope=TARGET, kind=str, metavar="NAME")
    origin_path: str | None = setting(None, "the distribution's origin path (default: read from the distribution)",
                                      scope=TARGET, kind=str, metavar="PATH",
                                      show="read from the distribution")
    max_attempts: int = setting(5, "attempts per request (botocore standard retries)", scope=TARGET,
                                check=between(1, 20), metavar="N")
    workers: int = setting(16, "concurrent requests", scope=WRITES, check=between(1, 256), metavar="N")
    acl: str | None = setting(None, "canned ACL for every object (ACL-disabled buckets reject ACLs)",
                              scope=UPLOADS | {DOCTOR},
                              kind=str, show="none")
    hashed_cache_control: str = setting(HASHED_CACHE_CONTROL, "Cache-Control of hashed and fingerprinted files",
                                        scope=PUBLISHES, check=header_check, metavar="VALUE")
    stable_cache_control: str | None = setting(
        None, "Cache-Control of stable files", scope=CACHING, kind=str, check=header_check, metavar="VALUE",
        show=f"`{STABLE_CACHE_CONTROL}` (+ `{STABLE_CDN_SUFFIX.lstrip(', ')}` behind CloudFront)")
    cache_control: tuple[str, ...] = setting((), "Cache-Control for files matching GLOB, first match wins (repeatable)",
                                             scope=CACHING, check=rules_check, metavar="GLOB=VALUE")
    invalidation_budget: int = setting(100, "paths per invalidation before collapsing to wildcards", scope=WRITES,
                                       check=between(1, 3000), metavar="N")
    invalidation_patience: float = setting(60.0, "seconds of backoff on TooManyInvalidationsInProgress",
                                           scope=WRITES, check=at_least_check(0), metavar="S")
    wait: bool = setting(False, "wait until the invalidation completes", scope=UPLOADS)
    wait_timeout: float = setting(900.0, "seconds --wait waits at most", scope=UPLOADS, check=at_least_check(0), metavar="S")
    rollback_copies: bool = setting(True, "keep replaced stable files for rollback (--no-rollback-copies halves "
                                    "requests per changed page)", scope=PUBLISHES, flag="--no-rollback-copies")
    verify: bool = setting(False, "list the bucket and repair missing or drifted objects", scope=PUBLISHES)
    check_url: tuple[str, ...] = setting(
        (), "after the invalidation completes (implies --wait), fetch the changed pages and what they load through "
        "this URL (repeatable, one per distribution, in --distribution-id order)", scope=PUBLISHES, metavar="URL",
        check=urls_check)
    check_max_pages: int = setting(50, "--check-url fetches at most this many changed pages (and what they load)",
                                   scope=PUBLISHES, check=between(1, 100000), metavar="N")
    check_timeout: float = setting(300.0, "seconds --check-url may take in all", scope=PUBLISHES, check=at_least_check(1),
                                   metavar="S")
    check_concurrency: int = setting(8, "requests --check-url makes at once", scope=PUBLISHES, check=between(1, 64),
                                     metavar="N")
    quiet_period: float = setting(1.0, "seconds without file events before a watch cycle starts", scope=frozenset({WATCH}),
                                  check=lambda v: None if 0 < v <= 600 else f"{v} is not between 0 and 600 seconds",
                                  metavar="S")
    invalidation_interval: float = setting(10.0, "at most one invalidation per this many seconds while watching",
                                           scope=frozenset({WATCH}), check=at_least_check(0), metavar="S")
    keep: int = setting(5, "deploys whose objects prune always keeps", scope=frozenset({PRUNE}), check=at_least_check(1),
                        metavar="N")
    older_than: str = setting("7d", "prune keeps what left the live site less than this ago", scope=frozenset({PRUNE}),
                              check=age_check, metavar="AGE")
    max_deletes: int = setting(1000, "prune aborts before deleting more than this", scope=frozenset({PRUNE}),
                               check=at_least_check(0), metavar="N")
    delete_removed: bool = setting(False, "prune also deletes stable files no longer in the site",
                                   scope=frozenset({PRUNE}))
    default_stable: tuple[str, ...] = field(default=DEFAULT_STABLE, repr=False)

    def __post_init__(self) -> None:
        # a list setting given as one string is a list of one (`distribution_id="E1…"` from the API or a hook)
        for f in options():
            if f.metadata["kind"] is tuple and isinstance(getattr(self, f.name), str):
                object.__setattr__(self, f.name, (getattr(self, f.name),))
        errors = [f"Config value '{f.name}': {msg}" for f, msg in _failed_checks(self)]
        if errors:
            raise ConfigError("; ".join(errors))


def options(scope: str | None = None) -> Iterator[Field[Any]]:
    """The declared settings (fields with schema metadata), optionally only those `scope` accepts."""
    for f in fields(Settings):
        if "help" in f.metadata and (scope is None or scope in f.metadata["scope"]):
            yield f


def default_of(f: Field[Any]) -> Any:
    """A setting's default value."""
    return f.default if f.default is not MISSING else None


def _failed_checks(s: Settings) -> Iterator[tuple[Field[Any], str]]:
    for f in options():
        check = f.metadata["check"]
        value = getattr(s, f.name)
        if check is not None and value is not None:
            msg = check(value)
            if msg:
                yield f, msg


def deploy_target(s: Settings) -> tuple[str, str, str] | None:
    """('s3', bucket, prefix) or ('file', path, '') from --target/--bucket, or None for the offline step."""
    if s.target and s.target.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return "file", unquote(urlsplit(s.target).path), ""
    if s.target:
        bucket, _, prefix = s.target[len("s3://"):].partition("/")
        return "s3", bucket, _norm_prefix(prefix or s.prefix)
    if s.bucket:
        return "s3", s.bucket, _norm_prefix(s.prefix)
    return None


def _norm_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""
