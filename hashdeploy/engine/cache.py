"""A parse cache keyed by content hash, so a re-run only parses files whose bytes changed."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
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


_HELD: dict[str, int] = {}  # build-folder locks this process holds, and how deep
_THREADS: dict[str, threading.RLock] = {}
_GUARD = threading.Lock()


def build_folder_lock(cfg: Settings, folder: Path) -> AbstractContextManager[None]:
    """Hold the lock of the cache's build folder while it is updated and deployed from (nothing if folder is
    another directory): two deploys of one site must not rewrite it under each other."""
    shared = build_dir(cfg)
    if shared is None or shared.resolve() != folder.resolve():
        return nullcontext()
    return _flock(shared)


@contextmanager
def _flock(folder: Path) -> Iterator[None]:
    """An exclusive flock on a file beside folder, re-entrant within this process; a second process waits (saying so)."""
    lock_file = folder.parent / "lock"
    key = str(lock_file)
    with _GUARD:
        threads = _THREADS.setdefault(key, threading.RLock())
    with threads:
        if _HELD.get(key):
            _HELD[key] += 1
            try:
                yield
            finally:
                _HELD[key] -= 1
            return
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                print(f"hashdeploy: waiting for another run (pid {holder}) using the build folder {folder}; "
                      "Ctrl-C stops", file=sys.stderr, flush=True)
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _HELD[key] = 1
            try:
                yield
            finally:
                _HELD[key] = 0
        finally:
            os.close(fd)  # releases the flock


# An entry is JSON (data only: nothing in it can run) with every field's type checked on load; a cache restored
# from a shared CI cache may hold anything, and whatever does not check out is parsed again and replaced.
ENTRY_FORMAT = 1
_MAX_BLOB = 64 << 20  # larger entries are never read out of sqlite
_FIELDS = {"format", "encoding", "refs", "mentions", "base_href", "warnings"}
_KINDS = {k.value: k for k in RefKind}
_SRI_ALGOS = ("", "sha256", "sha384", "sha512")
_SCHEMA = "CREATE TABLE parsed (sha TEXT, kind TEXT, blob BLOB, PRIMARY KEY (sha, kind))"
_OWN = {("table", "parsed"), ("index", "sqlite_autoindex_parsed_1")}


def db_path(directory: Path) -> Path:
    """The sqlite file of the parse cache in directory."""
    return directory / f"parse-v{PARSER_VERSION}.f{ENTRY_FORMAT}.sqlite"


def dump(p: Parsed) -> bytes:
    """A parse result as the cache stores it (JSON: a cache restored from elsewhere is read, never executed)."""
    refs = [[r.start, r.end, r.raw, r.kind.value, r.context, r.line, list(r.sri) if r.sri else None] for r in p.refs]
    doc = {"format": ENTRY_FORMAT, "encoding": p.encoding, "refs": refs, "mentions": list(p.mentions),
           "base_href": p.base_href, "warnings": list(p.warnings)}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _count(v: object) -> bool:
    return type(v) is int and 0 <= v  # not bool, not negative


def _strings(v: object) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


def _ref(item: object) -> RawRef | None:
    if type(item) is not list or len(item) != 7:
        return None
    start, end, raw, kind, context, line, sri = item
    if not (_count(start) and _count(end) and type(raw) is str and end - start == len(raw) and type(kind) is str
            and kind in _KINDS and type(context) is str and _count(line)):
        return None
    if sri is not None:
        if type(sri) is not list or len(sri) != 3:
            return None
        s, e, algo = sri
        if not (_count(s) and _count(e) and s <= e and type(algo) is str and algo in _SRI_ALGOS):
            return None
        sri = (s, e, algo)
    return RawRef(start, end, raw, _KINDS[kind], context, line, sri)


def _load(blob: object) -> Parsed | None:
    """The Parsed an entry holds, or None unless every field has the type and range a parse gives."""
    if type(blob) is not bytes or len(blob) > _MAX_BLOB:
        return None
    try:
        doc = json.loads(blob)
    except (ValueError, RecursionError):
        return None
    if type(doc) is not dict or doc.keys() != _FIELDS or doc["format"] != ENTRY_FORMAT:
        return None
    enc, base = doc["encoding"], doc["base_href"]
    if not (enc is None or type(enc) is str) or not (base is None or type(base) is str):
        return None
    if type(doc["refs"]) is not list or not _strings(doc["mentions"]) or not _strings(doc["warnings"]):
        return None
    refs: list[RawRef] = []
    for item in doc["refs"]:
        ref = _ref(item)
        if ref is None or (refs and ref.start < refs[-1].start):
            return None
        refs.append(ref)
    return Parsed(encoding=enc, refs=tuple(refs), mentions=tuple(doc["mentions"]), base_href=base,
                  warnings=tuple(doc["warnings"]))


class ParseCache:
    """sqlite table (sha256, kind) -> a JSON Parsed; a damaged file is replaced, any other failure disables the cache."""

    def __init__(self, directory: Path | None) -> None:
        self.db: sqlite3.Connection | None = None
        self.path: Path | None = None
        if directory is None:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        self.path = db_path(directory)
        if not self._open():
            self._replace()

    def _open(self) -> bool:
        """Connect and check the schema is exactly ours (no other table, view or trigger); False if damaged."""
        assert self.path is not None
        try:
            self.db = sqlite3.connect(self.path, timeout=5)
            self.db.execute("PRAGMA trusted_schema = OFF")
            rows = self.db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
            if not rows:
                self.db.execute(_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
                return True
            if {(t, n) for t, n, _ in rows} == _OWN and _SCHEMA in {sql for _, _, sql in rows}:
                return True
        except sqlite3.OperationalError:  # locked, read-only, unreachable: go on without the cache
            self.close()
            return True
        except sqlite3.DatabaseError:  # not a database, or a malformed one
            pass
        self.close()
        return False

    def _replace(self) -> None:
        """Drop a damaged cache file and start an empty one."""
        if self.path is None:
            return
        self.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError:
                return
        if not self._open():
            self.close()

    def get_many(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Parsed]:
        """Look up (sha, kind) pairs; return those found whose entries check out."""
        found: dict[tuple[str, str], Parsed] = {}
        if self.db is None:
            return found
        wanted = list(wanted)
        try:
            for i in range(0, len(wanted), 400):
                chunk = wanted[i : i + 400]
                q = " OR ".join("(sha=? AND kind=?)" for _ in chunk)
                args = [_MAX_BLOB, *(x for pair in chunk for x in pair)]
                rows = self.db.execute(f"SELECT sha, kind, CASE WHEN length(CAST(blob AS BLOB)) <= ? "
                                       f"THEN CAST(blob AS BLOB) END FROM parsed WHERE {q}", args)
                for sha, kind, blob in rows:
                    parsed = _load(blob)
                    if parsed is not None and (sha, kind) in chunk:
                        found[(sha, kind)] = parsed
        except sqlite3.OperationalError:
            return {}
        except sqlite3.DatabaseError:
            self._replace()
            return {}
        return found

    def add(self, sha: str, kind: str, parsed: Parsed | bytes) -> None:
        """Store one parse result (or its dump()) in the open transaction; commit() ends it. Errors disable the
        cache for the rest of the run (it is only an accelerator)."""
        if self.db is None:
            return
        try:
            self.db.execute("INSERT OR REPLACE INTO parsed VALUES (?, ?, ?)",
                            (sha, kind, parsed if isinstance(parsed, bytes) else dump(parsed)))
        except sqlite3.OperationalError:
            self.close()
        except sqlite3.DatabaseError:
            self._replace()

    def commit(self) -> None:
        """End the transaction add() began."""
        if self.db is None:
            return
        try:
            self.db.commit()
        except sqlite3.OperationalError:
            self.close()
        except sqlite3.DatabaseError:
            self._replace()

    def close(self) -> None:
        """Close the database."""
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None
