"""A parse cache keyed by content hash, so a re-run only parses files whose bytes changed."""

from __future__ import annotations

import hashlib
import marshal
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from hashdeploy.model import Parsed, RawRef, RefKind
from hashdeploy.settings import Settings

PARSER_VERSION = 7  # 6: stylesheets through tinycss2; 7: scripts through tree-sitter


def default_dir() -> Path:
    """$HASHDEPLOY_CACHE_DIR, else $XDG_CACHE_HOME/hashdeploy, else ~/.cache/hashdeploy."""
    env = os.environ.get("HASHDEPLOY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hashdeploy"


def cache_dir_for(cfg: Settings) -> Path | None:
    """The cache directory a build with these settings uses, or None when caching is off."""
    if not cfg.use_cache:
        return None
    return cfg.cache_dir if cfg.cache_dir is not None else default_dir()


def build_dir(cfg: Settings) -> Path | None:
    """Where a deploy without --out keeps the processed site: a folder per site in the cache, so a redeploy
    of an unchanged site skips the build (None without a cache: a temporary directory then)."""
    root = cache_dir_for(cfg)
    if root is None:
        return None
    digest = hashlib.sha256(str(cfg.site.resolve()).encode()).hexdigest()[:24]
    return root / "sites" / digest / "site"


def _dump(p: Parsed) -> bytes:
    refs = tuple((r.start, r.end, r.raw, r.kind.value, r.context, r.line, r.sri) for r in p.refs)
    return marshal.dumps((p.encoding, refs, p.mentions, p.base_href, p.warnings))


def _load(blob: bytes) -> Parsed:
    enc, refs, mentions, base, warnings = marshal.loads(blob)
    return Parsed(
        encoding=enc,
        refs=tuple(RawRef(s, e, raw, RefKind(k), ctx, line, sri) for s, e, raw, k, ctx, line, sri in refs),
        mentions=tuple(mentions), base_href=base, warnings=tuple(warnings),
    )


class ParseCache:
    """sqlite table (sha256, kind) -> marshalled Parsed; any failure just disables the cache."""

    def __init__(self, directory: Path | None) -> None:
        self.db: sqlite3.Connection | None = None
        if directory is None:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(directory / f"parse-v{PARSER_VERSION}.sqlite", timeout=5)
            self.db.execute("CREATE TABLE IF NOT EXISTS parsed (sha TEXT, kind TEXT, blob BLOB, PRIMARY KEY (sha, kind))")
        except (OSError, sqlite3.Error):
            self.db = None

    def get_many(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Parsed]:
        """Look up (sha, kind) pairs; return those found."""
        found: dict[tuple[str, str], Parsed] = {}
        if self.db is None:
            return found
        wanted = list(wanted)
        try:
            for i in range(0, len(wanted), 400):
                chunk = wanted[i : i + 400]
                q = " OR ".join("(sha=? AND kind=?)" for _ in chunk)
                args = [x for pair in chunk for x in pair]
                for sha, kind, blob in self.db.execute(f"SELECT sha, kind, blob FROM parsed WHERE {q}", args):
                    found[(sha, kind)] = _load(blob)
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return {}
        return found

    def put_many(self, items: Iterable[tuple[str, str, Parsed]]) -> None:
        """Store parse results; errors are ignored (the cache is only an accelerator)."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO parsed VALUES (?, ?, ?)",
                                    ((sha, kind, _dump(p)) for sha, kind, p in items))
        except sqlite3.Error:
            pass

    def close(self) -> None:
        """Close the database."""
        if self.db is not None:
            self.db.close()
