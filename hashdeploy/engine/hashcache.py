"""The SHA-256 of a site's files kept in the cache between runs, keyed by what proves a file is unchanged.

A file whose path, size, modification time, inode, device and change time are those recorded, and which had not
changed for 2 s when it was hashed (git's "racily clean" rule, the one `_HASHED` applies within a process),
is not read again. Nothing can set a ctime back, and a file renamed over has a new inode, so a file with the
same record has the same bytes. Entries from another machine (a cache restored in CI) never match its inodes and
change times, so they are never used; a damaged file is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hashdeploy.engine.inventory import sha256_file
from hashdeploy.model import Asset

Memo = dict[tuple[str, int, int, int, int, int], tuple[str, int]]
_FORMAT = 1
_MAX_BYTES = 256 << 20
_BIG_FILE = 1 << 20


def _path(cache_dir: Path, site: Path) -> Path:
    return cache_dir / "hashes" / (hashlib.sha256(str(site.resolve()).encode()).hexdigest()[:32] + ".json")


def load(cache_dir: Path | None, site: Path, into: Memo) -> int:
    """Add the site's recorded hashes to `into`; return how many entries were read."""
    if cache_dir is None:
        return 0
    try:
        with open(_path(cache_dir, site), "rb") as f:
            data = f.read(_MAX_BYTES + 1)
        doc: Any = json.loads(data) if len(data) <= _MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return 0
    if type(doc) is not dict or doc.get("format") != _FORMAT or type(doc.get("files")) is not list:
        return 0
    n = 0
    for e in doc["files"]:
        if (type(e) is list and len(e) == 8 and type(e[0]) is str and all(type(x) is int for x in e[1:6])
                and type(e[6]) is str and len(e[6]) == 64 and type(e[7]) is int):
            into.setdefault((e[0], e[1], e[2], e[3], e[4], e[5]), (e[6], e[7]))
            n += 1
    return n


def save(cache_dir: Path | None, site: Path, memo: Memo) -> None:
    """Record these hashes (those of the site's files now); failures are ignored (the record only saves time)."""
    if cache_dir is None:
        return
    files = [[*key, sha, at] for key, (sha, at) in memo.items()]
    try:
        path = _path(cache_dir, site)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": _FORMAT, "files": files}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


# Within one process (watch mode, the MkDocs plugin under serve), a file seen before with the same path, size,
# modification time, inode, device and change time is not read again, if it had not changed for 2 s when it was
# hashed (git's "racily clean" rule). mtime alone proves nothing: `cp -p`, `rsync -t` and builds pinning
# SOURCE_DATE_EPOCH set it back, but nothing can set back the ctime, and a file renamed over has a new inode.
_HASHED: dict[tuple[str, int, int, int, int, int], tuple[str, int]] = {}
_MEMO_LIMIT = 100_000
_RACY_NS = 2_000_000_000


def hash_all(assets: list[Asset], jobs: int, tick: Callable[[int], None]) -> list[Asset]:
    """Return the assets with their SHA-256 filled in (threads: hashlib releases the GIL)."""
    def one(a: Asset) -> Asset:
        memo_key = (str(a.path), a.size, a.mtime_ns, a.ino, a.dev, a.ctime_ns)
        known = _HASHED.get(memo_key)
        if known is not None and a.ctime_ns and max(a.mtime_ns, a.ctime_ns) + _RACY_NS < known[1]:
            return _with_sha(a, known[0])
        started = time.time_ns()
        sha = sha256_file(a.path)
        if len(_HASHED) < _MEMO_LIMIT:
            _HASHED[memo_key] = (sha, started)
        return _with_sha(a, sha)

    # small files are quicker to hash here than to hand to a thread; big ones go to threads
    big = [a for a in assets if a.size >= _BIG_FILE]
    if not big:
        done = []
        for a in assets:
            done.append(one(a))
            tick(1)
        return done
    from concurrent.futures import ThreadPoolExecutor  # (a site of small files never starts a thread)

    by_key: dict[str, Asset] = {}
    with ThreadPoolExecutor(max_workers=max(2, jobs)) as pool:
        futures = [pool.submit(one, a) for a in big]
        for a in assets:
            if a.size < _BIG_FILE:
                by_key[a.key] = one(a)
                tick(1)
        for f in futures:
            r = f.result()
            by_key[r.key] = r
            tick(1)
    return [by_key[a.key] for a in assets]


def _with_sha(a: Asset, sha256: str) -> Asset:
    """dataclasses.replace(a, sha256=sha256), without its field-by-field introspection (once per file)."""
    return Asset(a.key, a.path, a.size, sha256, a.mtime_ns, a.ino, a.dev, a.ctime_ns)


def hash_site(listed: list[Asset], jobs: int, tick: Callable[[int], None], cache_dir: Path | None,
              site: Path) -> list[Asset]:
    """`hash_all`, starting from the hashes recorded by earlier runs, and recording the new ones."""
    load(cache_dir, site, _HASHED)
    keys = [(str(a.path), a.size, a.mtime_ns, a.ino, a.dev, a.ctime_ns) for a in listed]
    before = [_HASHED.get(k) for k in keys]
    assets = hash_all(listed, jobs, tick)
    # a hash taken within 2 s of its file's last change is never trusted later: recording it alone saves nothing
    if any(v != b and v is not None and max(k[2], k[5]) + _RACY_NS < v[1]
           for k, b, v in zip(keys, before, (_HASHED.get(k) for k in keys), strict=True)):
        save(cache_dir, site, {k: v for k in keys if (v := _HASHED.get(k)) is not None})
    return assets
