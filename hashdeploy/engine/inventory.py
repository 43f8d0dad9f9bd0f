"""Walk a built site and list its files in a stable order (reads the disk, never follows links out)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from hashdeploy.errors import SiteError, UnsafePathError
from hashdeploy.model import Asset

RESERVED_DIR = ".hashdeploy"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Stream a file through SHA-256 in bounded memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _walk(root: str, real_root: Path, rel_dir: str = "") -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield (key, path, stat) for every file under root, refusing symlinks that leave real_root.

    Each file is listed once, under its real path: a symlink to a directory inside the site (a/loop -> ..,
    two links pointing at each other, an alias of a folder) adds nothing, as that directory is walked anyway
    (or is hashdeploy's own folder, never published). A symlink to a file is a second name for it, read through.
    (os.walk's order and rules, top-down, with the types scandir already knows instead of a stat per name;
    paths stay strings until scan() has them all.)
    """
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=_name)
    except OSError:
        return  # as os.walk: a folder that cannot be listed is skipped
    kept = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            continue
        if not rel_dir and entry.name == RESERVED_DIR:
            continue
        if entry.is_symlink():
            _check_link(Path(entry.path), real_root, rel_dir + entry.name)
        else:
            kept.append(entry)
    for entry in entries:
        try:
            if entry.is_dir():
                continue
        except OSError:
            pass
        if entry.is_symlink():
            full = Path(entry.path)
            _check_link(full, real_root, rel_dir + entry.name)
            if not full.is_file():
                continue
        elif not entry.is_file():
            continue  # sockets, fifos: nothing to publish
        yield rel_dir + entry.name, entry.path, entry.stat()
    for entry in kept:
        yield from _walk(entry.path, real_root, rel_dir + entry.name + "/")


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _check_link(path: Path, real_root: Path, key: str) -> None:
    target = path.resolve()
    if target != real_root and real_root not in target.parents:
        raise UnsafePathError(
            f"{key} is a symlink to {os.readlink(path)}, outside the site; "
            "hashdeploy never follows it: replace it with a copy or remove it"
        )


def scan(root: Path) -> list[Asset]:
    """List the site's files as Assets with size and SHA-256, sorted by key."""
    if not root.exists():
        raise SiteError(f"{root}: no such directory; build the site first or check the path")
    if not root.is_dir():
        raise SiteError(f"{root}: not a directory; pass the site's output directory")
    assets = []
    for key, path, st in _walk(str(root), root.resolve()):
        assets.append(Asset(key, Path(path), st.st_size, "", st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns))
    if not assets:
        raise SiteError(f"{root}: the directory holds no files; build the site first")
    return sorted(assets, key=lambda a: a.key)
