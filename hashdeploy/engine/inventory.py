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


def _walk(root: Path, real_root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (key, path) for every file under root, refusing symlinks that leave real_root.

    Each file is listed once, under its real path: a symlink to a directory inside the site (a/loop -> ..,
    two links pointing at each other, an alias of a folder) adds nothing, as that directory is walked anyway
    (or is hashdeploy's own folder, never published). A symlink to a file is a second name for it, read through.
    """
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames.sort()
        if not rel_dir:
            dirnames[:] = [d for d in dirnames if d != RESERVED_DIR]
        kept = []
        for d in dirnames:
            full = Path(dirpath, d)
            if full.is_symlink():
                _check_link(full, real_root, rel_dir + d)
            else:
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_symlink():
                _check_link(full, real_root, rel_dir + name)
                if not full.is_file():
                    continue
            elif not full.is_file():
                continue  # sockets, fifos: nothing to publish
            yield rel_dir + name, full


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
    for key, path in _walk(root, root.resolve()):
        st = path.stat()
        assets.append(Asset(key=key, path=path, size=st.st_size, sha256="", mtime_ns=st.st_mtime_ns, ino=st.st_ino,
                            dev=st.st_dev, ctime_ns=st.st_ctime_ns))
    if not assets:
        raise SiteError(f"{root}: the directory holds no files; build the site first")
    return sorted(assets, key=lambda a: a.key)
