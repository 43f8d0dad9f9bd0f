"""The local-directory deploy target (`file:///srv/www`): a directory any web server can serve."""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from hashdeploy.backends.base import Tick, Upload
from hashdeploy.errors import ConflictError, RemoteError
from hashdeploy.publish.records import RESERVED, STABLE_STORE


class LocalBackend:
    """A directory served by a web server: same plan and order, each write a temporary file and a rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.as_uri() if root.is_absolute() else str(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        root = self.root.resolve()
        if root not in path.parents:
            raise RemoteError(f"{self.name}: key {key!r} would leave the target directory")
        return path

    def _atomic_write(self, path: Path, write: Callable[[int], None]) -> None:
        self._make_parent(path)
        fd, tmp = _new_temp(path.parent)
        try:
            write(fd)
            os.fsync(fd)
            os.close(fd)
            if path.is_dir() and not path.is_symlink():
                _replace_folder(Path(tmp), path)
            else:
                os.replace(tmp, path)
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _make_parent(self, path: Path) -> None:
        """Create path's folder; a file standing where a folder must go (the site replaced `api` with
        `api/index.html`) moves to the store of replaced stable bodies, where rollback finds it."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return
        except (FileExistsError, NotADirectoryError):
            pass
        root = self.root.resolve()
        rel = path.parent.relative_to(root).parts
        for i in range(1, len(rel) + 1):
            ancestor = root.joinpath(*rel[:i])
            if ancestor.is_symlink():
                ancestor.unlink()
            elif ancestor.exists() and not ancestor.is_dir():
                kept = self._path(STABLE_STORE + _sha256(ancestor))
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(ancestor, kept)  # the same bytes if it exists: its name is their hash
        path.parent.mkdir(parents=True, exist_ok=True)

    def read_record(self, name: str) -> bytes | None:
        """Read .hashdeploy/<name>."""
        try:
            return self._path(RESERVED + name).read_bytes()
        except FileNotFoundError:
            return None

    def read_record_tag(self, name: str) -> tuple[bytes, str] | None:
        """The record and the SHA-256 of its bytes as its tag."""
        data = self.read_record(name)
        return None if data is None else (data, hashlib.sha256(data).hexdigest())

    def write_record(self, name: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str:
        """Write .hashdeploy/<name> atomically; conditions are checked under a directory lock."""
        path = self._path(RESERVED + name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _dir_lock(path.parent):
            if if_match is not None:
                current = self.read_record_tag(name)
                if current is None or current[1] != if_match:
                    raise ConflictError(f"{self.name}: .hashdeploy/{name} changed since it was read; "
                                        "another run moved the live deploy; rerun")
            if if_absent and path.exists():
                raise ConflictError(f"{self.name}: .hashdeploy/{name} already exists")
            self._atomic_write(path, lambda fd: _write_all(fd, data))
        return hashlib.sha256(data).hexdigest()

    def delete_record(self, name: str) -> None:
        """Delete .hashdeploy/<name>."""
        try:
            self._path(RESERVED + name).unlink()
        except FileNotFoundError:
            pass

    def list_objects(self) -> dict[str, float]:
        """Every file but the records, with its modification time."""
        out: dict[str, float] = {}
        if not self.root.exists():
            return out
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                p = Path(dirpath, name)
                key = p.relative_to(self.root).as_posix()
                if name.startswith(".hashdeploy-") or (key.startswith(RESERVED) and not key.startswith(STABLE_STORE)):
                    continue
                out[key] = p.stat().st_mtime
        return out

    def copy_objects(self, pairs: Sequence[tuple[str, Upload]], tick: Tick) -> None:
        """Copy files within the target, each through a temporary file and a rename.

        A source already moved to the stable store (a file a folder of the same name replaced) is there.
        """
        items = []
        for src, dest in pairs:
            path = self._path(src)
            if not path.is_file() and dest.key.startswith(STABLE_STORE) and self._path(dest.key).is_file():
                tick(1)
                continue
            items.append(replace(dest, path=path))
        self.upload(items, tick)

    def delete_objects(self, keys: Sequence[str]) -> list[tuple[str, str]]:
        """Remove files; collect failures."""
        errors = []
        for key in keys:
            path = self._path(key)
            try:
                if not path.is_dir() or path.is_symlink():  # a folder now stands there: the file is gone
                    path.unlink()
            except (FileNotFoundError, NotADirectoryError):  # gone, or its folder is now a file
                pass
            except OSError as exc:
                errors.append((key, exc.strerror or str(exc)))
        return errors

    def upload(self, items: Sequence[Upload], tick: Tick) -> None:
        """Copy each file in through a temporary file and a rename."""
        for item in items:
            def copy(fd: int, src: Path = item.path) -> None:
                with open(src, "rb") as f:
                    while chunk := f.read(1 << 20):
                        _write_all(fd, chunk)

            self._atomic_write(self._path(item.key), copy)
            tick(1)

    def set_headers(self, items: Sequence[Upload], tick: Tick) -> None:
        """Files carry no headers here: the web server decides them; nothing to do."""
        tick(len(items))

    def invalidate(self, paths: Sequence[str], caller_reference: str, distribution_id: str | None = None) -> str | None:
        """No CDN in front of a directory."""
        return None

    def wait_invalidation(self, invalidation_id: str, timeout: float, distribution_id: str | None = None) -> bool:
        """Nothing to wait for."""
        return True


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _replace_folder(tmp: Path, path: Path) -> None:
    """Put the file tmp where a folder is (the site replaced `api/index.html` with `api`), in one step where the
    kernel can swap them; the folder's files left the site with it."""
    from hashdeploy.engine.write import exchange

    if exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = path.with_name(tmp.name + ".old")
    os.rename(path, old)
    try:
        os.replace(tmp, path)
    except OSError:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _new_temp(directory: Path) -> tuple[int, str]:
    """A new temporary file in directory, its mode what open(path, "w") gives under the umask (mkstemp's is 0600:
    a web server running as another user could not read it)."""
    while True:
        tmp = str(directory / f".hashdeploy-{secrets.token_hex(6)}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """An advisory lock that makes a check-then-write of a record atomic among local runs."""
    fd = os.open(directory / "records.lock", os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
