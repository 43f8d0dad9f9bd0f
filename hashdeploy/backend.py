"""The Backend protocol that deploys run against, and the local-directory target (`file:///srv/www`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import RemoteError
from .records import RESERVED


@dataclass(frozen=True, slots=True)
class Upload:
    """One object to write: site key, local file and headers."""

    key: str
    path: Path
    content_type: str
    cache_control: str
    sha256: str
    size: int


Tick = Callable[[int], None]


class Backend(Protocol):
    """Where a deploy goes. Keys are site keys; the backend adds its own prefix."""

    name: str  # for messages: "s3://bucket/prefix" or "file:///srv/www"

    def read_record(self, name: str) -> bytes | None:
        """Read a record under the reserved prefix, or None if it does not exist."""
        ...

    def write_record(self, name: str, data: bytes) -> None:
        """Write a record under the reserved prefix."""
        ...

    def list_keys(self) -> set[str]:
        """Every site key present (for --verify)."""
        ...

    def upload(self, items: Sequence[Upload], tick: Tick) -> None:
        """Write objects concurrently; raise on the first failure once in-flight work has ended."""
        ...

    def set_headers(self, items: Sequence[Upload], tick: Tick) -> None:
        """Change the headers of objects that already hold the right bytes."""
        ...

    def invalidate(self, paths: Sequence[str], caller_reference: str) -> str | None:
        """Ask the CDN to drop cached copies; return an id, or None when there is no CDN."""
        ...

    def wait_invalidation(self, invalidation_id: str, timeout: float) -> bool:
        """Poll until the invalidation completes; False at the deadline."""
        ...


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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".hashdeploy-", dir=path.parent)
        try:
            write(fd)
            os.fsync(fd)
            os.close(fd)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def read_record(self, name: str) -> bytes | None:
        """Read .hashdeploy/<name>."""
        try:
            return self._path(RESERVED + name).read_bytes()
        except FileNotFoundError:
            return None

    def write_record(self, name: str, data: bytes) -> None:
        """Write .hashdeploy/<name> atomically."""
        self._atomic_write(self._path(RESERVED + name), lambda fd: _write_all(fd, data))

    def list_keys(self) -> set[str]:
        """Every file under the root except hashdeploy's records and temporary files."""
        if not self.root.exists():
            return set()
        keys = set()
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if not key.startswith(RESERVED) and not name.startswith(".hashdeploy-"):
                    keys.add(key)
        return keys

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

    def invalidate(self, paths: Sequence[str], caller_reference: str) -> str | None:
        """No CDN in front of a directory."""
        return None

    def wait_invalidation(self, invalidation_id: str, timeout: float) -> bool:
        """Nothing to wait for."""
        return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
