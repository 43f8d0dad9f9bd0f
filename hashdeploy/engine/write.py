"""Write the processed site to a staging directory, then put it in place with one atomic swap."""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from hashdeploy.errors import OutputError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class NullSink:
    """Discards everything: used by --dry-run, which writes nothing."""

    def write(self, key: str, data: bytes, sha256: str | None = None) -> None:
        """Discard data."""

    def copy(self, key: str, src: Path, sha256: str | None = None) -> None:
        """Discard the copy."""

    def close(self) -> None:
        """Nothing to wait for."""


class StagingSink:
    """Writes output files under a staging directory, creating parents as needed.

    Small files are written at once: handing them to a thread costs more (the writer waits for the GIL while
    the caller rewrites). Big copies run on a few threads, at most `pending` queued; close() waits and
    re-raises the first failure.
    """

    BIG = 1 << 20

    def __init__(self, root: Path, threads: int = 4, pending: int = 64) -> None:
        self.root = root
        self._dirs: set[str] = set()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(pending)
        self._pool = ThreadPoolExecutor(max_workers=threads)
        self._futures: list[Future[None]] = []
        self._mkdirs: threading.Thread | None = None

    def make_dirs(self, parents: Iterable[str]) -> None:
        """Create these folders on a thread while the caller computes what goes in them: mkdir waits on the
        file system, not on the interpreter (a page per folder makes this one mkdir per page)."""
        todo = sorted(set(parents) - {""})

        def run() -> None:
            for parent in todo:
                try:
                    os.makedirs(self.root / parent, exist_ok=True)
                except OSError:
                    return  # _path() makes it again, and reports what stops it
                with self._lock:
                    self._dirs.add(parent)

        self._mkdirs = threading.Thread(target=run, daemon=True)
        self._mkdirs.start()

    def _path(self, key: str) -> Path:
        parent = key.rpartition("/")[0]
        with self._lock:
            known = parent in self._dirs
        if not known:
            os.makedirs(self.root / parent, exist_ok=True)
            with self._lock:
                self._dirs.add(parent)
        return self.root / key

    def _submit(self, job: Callable[[], None], size: int = 0) -> None:
        if size < self.BIG:
            job()
            return
        self._slots.acquire()

        def run() -> None:
            try:
                job()
            finally:
                self._slots.release()

        self._futures.append(self._pool.submit(run))
        if len(self._futures) > 256:
            self._reap()

    def _reap(self) -> None:
        done = [f for f in self._futures if f.done()]
        for f in done:
            f.result()
        self._futures = [f for f in self._futures if not f.done()]

    def write(self, key: str, data: bytes, sha256: str | None = None) -> None:
        """Write bytes to key."""
        def job() -> None:
            with open(self._path(key), "wb") as f:
                f.write(data)

        self._submit(job, len(data))

    def copy(self, key: str, src: Path, sha256: str | None = None) -> None:
        """Copy a file unchanged (streamed by the kernel where it can)."""
        def job() -> None:
            shutil.copyfile(src, self._path(key))

        self._submit(job, _size(src))

    def close(self) -> None:
        """Wait for every write; raise the first failure."""
        if self._mkdirs is not None:
            self._mkdirs.join()
        try:
            for f in self._futures:
                f.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


class UpdateSink(StagingSink):
    """Updates an earlier output directory in place: a file whose bytes are already there is not rewritten.

    Used where nobody reads the directory while it changes (a deploy's or watch's own build directory), so
    an unchanged redeploy or a one-file change touches only what changed. Files are overwritten in place; the
    manifest is removed first and written last, so an interrupted update is redone in full next time.
    remove_stale() deletes what the new build no longer has.
    """

    def __init__(self, root: Path, prior: dict[str, str]) -> None:
        super().__init__(root)
        self.prior = prior
        self.kept: set[str] = set()

    def _same(self, key: str, sha256: str | None) -> bool:
        self.kept.add(key)
        return sha256 is not None and self.prior.get(key) == sha256 and (self.root / key).is_file()

    def _path(self, key: str) -> Path:
        """The path to write key at, making room where the previous build had a file for a folder or back
        (`api` -> `api/index.html`): what stands in the way is stale, as no build has both."""
        try:
            path = super()._path(key)
        except (FileExistsError, NotADirectoryError):
            parts = key.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                ancestor = self.root.joinpath(*parts[:i])
                if ancestor.is_symlink() or (ancestor.exists() and not ancestor.is_dir()):
                    ancestor.unlink()
            path = super()._path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        return path

    def write(self, key: str, data: bytes, sha256: str | None = None) -> None:
        """Write bytes to key unless they are already there."""
        if self._same(key, sha256):
            return

        self._submit(lambda: _overwrite(self._path(key), data), len(data))

    def copy(self, key: str, src: Path, sha256: str | None = None) -> None:
        """Copy a file unless its bytes are already there."""
        if self._same(key, sha256):
            return

        size = _size(src)
        if size < self.BIG:
            _overwrite(self._path(key), src.read_bytes())
            return

        def job() -> None:
            path = self._path(key)
            tmp = path.with_name(f".{path.name}.hashdeploy-tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, path)

        self._submit(job, size)

    def remove_stale(self) -> None:
        """Delete files of the previous build that this one did not produce."""
        for key in sorted(set(self.prior) - self.kept):
            path = self.root / key
            try:
                if path.is_dir() and not path.is_symlink():
                    continue  # a file the new build replaced with a folder of the same name
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):  # gone, or its folder became a file
                continue
            for parent in path.parents:  # folders the new build no longer has
                if parent == self.root or not parent.is_relative_to(self.root):
                    break
                try:
                    parent.rmdir()
                except OSError:
                    break


def _overwrite(path: Path, data: bytes) -> None:
    """Write over a file's own blocks: replacing or truncating it frees them, which costs a discard per file
    on file systems mounted with `discard` (hundreds of times slower than the write)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)  # the umask decides, as for open(path, "w")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def new_staging(target: Path) -> Path:
    """Create a staging directory beside target, on the same filesystem so the swap is a rename.

    Made as mkdir(1) would, under the umask (not mkdtemp's 0700): once swapped in, a web server must read it.
    """
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        while True:
            staging = parent / f".{target.name}.hashdeploy-{secrets.token_hex(6)}"
            try:
                os.mkdir(staging)
                return staging
            except FileExistsError:
                continue
    except OSError as exc:
        raise OutputError(f"{parent}: cannot create a staging directory ({exc.strerror}); check permissions") from None


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


def commit(staging: Path, target: Path) -> None:
    """Put staging at target in one step; the old tree is removed only once the new one is live."""
    if not target.exists():
        os.rename(staging, target)
        return
    if exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)
        return
    backup = Path(str(staging) + ".old")
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def discard(staging: Path) -> None:
    """Remove a staging directory after a failure."""
    shutil.rmtree(staging, ignore_errors=True)
