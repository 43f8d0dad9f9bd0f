"""The hashes recorded in the cache between runs: used only for files provably unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import MakeSite

from hashdeploy.engine import build, hashcache, inventory
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@pytest.fixture
def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each build starts as a new process would (no in-process memo); files are not 'racily clean' here."""
    monkeypatch.setattr(hashcache, "_RACY_NS", 0)
    monkeypatch.setattr(hashcache, "_HASHED", {})


def _files(root: Path) -> dict[str, str | bytes]:
    return {"index.html": '<link rel="stylesheet" href="a.css"><img src="b.png">', "a.css": "a{}", "b.png": PNG}


def test_a_second_run_reads_no_unchanged_file(site: MakeSite, tmp_path: Path, new_process: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = site(_files(tmp_path))
    cache = tmp_path / "cache"
    first = build(Settings(site=root, out=tmp_path / "o", cache_dir=cache))
    hashcache._HASHED.clear()
    hashed: list[Path] = []
    real = inventory.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(hashcache, "sha256_file", counting)
    (root / "a.css").write_text("b{}")  # same size, other bytes: its stat record changed
    second = build(Settings(site=root, out=tmp_path / "o2", cache_dir=cache))
    assert [p.name for p in hashed] == ["a.css"]
    assert first.assets["a.css"] != second.assets["a.css"] and first.assets["b.png"] == second.assets["b.png"]


def test_a_file_replaced_with_the_same_stat_times_is_hashed_again(site: MakeSite, tmp_path: Path,
                                                                  new_process: None) -> None:
    root = site(_files(tmp_path))
    cache = tmp_path / "cache"
    first = build(Settings(site=root, out=tmp_path / "o", cache_dir=cache))
    hashcache._HASHED.clear()
    st = os.stat(root / "a.css")
    (root / "new.css").write_text("c{}")
    os.replace(root / "new.css", root / "a.css")  # a new inode and ctime; mtime set back as `cp -p` would
    os.utime(root / "a.css", ns=(st.st_atime_ns, st.st_mtime_ns))
    second = build(Settings(site=root, out=tmp_path / "o2", cache_dir=cache))
    assert first.assets["a.css"] != second.assets["a.css"]


def test_a_damaged_record_is_ignored_and_no_cache_writes_none(site: MakeSite, tmp_path: Path,
                                                              new_process: None) -> None:
    root = site(_files(tmp_path))
    cache = tmp_path / "cache"
    expected = build(Settings(site=root, out=tmp_path / "o", cache_dir=cache)).assets
    record = next((cache / "hashes").iterdir())
    for damage in (b"{", b'{"format": 1, "files": [["x", 1]]}', b"[]", record.read_bytes().replace(b'"', b"'")):
        record.write_bytes(damage)
        hashcache._HASHED.clear()
        assert build(Settings(site=root, out=tmp_path / "o", cache_dir=cache)).assets == expected
    assert hashcache.load(None, root, {}) == 0
    build(Settings(site=root, out=tmp_path / "o3", cache_dir=tmp_path / "none", use_cache=False))
    assert not (tmp_path / "none").exists()


def test_hashes_taken_within_the_racy_window_are_not_recorded(site: MakeSite, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(hashcache, "_HASHED", {})
    root = site(_files(tmp_path))  # just written: every hash taken now is within 2 s of its file's change
    cache = tmp_path / "cache"
    build(Settings(site=root, out=tmp_path / "o", cache_dir=cache))
    assert not (cache / "hashes").exists(), "a record no later run may use is not written"
    later = time.time_ns() + 3_000_000_000
    monkeypatch.setattr(time, "time_ns", lambda: later)  # the same files, hashed 3 s after they changed
    monkeypatch.setattr(hashcache, "_HASHED", {})
    build(Settings(site=root, out=tmp_path / "o2", cache_dir=cache))
    assert hashcache.load(cache, root, {}) == 3
