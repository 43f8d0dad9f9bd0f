from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hashdeploy.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo-site"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create files from a {relative path: content} dict."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root as {POSIX relative path: bytes}."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def load_manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / ".hashdeploy" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own parse cache and runs outside any project config file."""
    monkeypatch.setenv("HASHDEPLOY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for name in list(os.environ):
        if name.startswith("HASHDEPLOY_") and name != "HASHDEPLOY_CACHE_DIR":
            monkeypatch.delenv(name)


@pytest.fixture
def site(tmp_path: Path):
    """Factory: site({...}) writes a site tree and returns its path."""
    def make(files: dict[str, str | bytes], name: str = "site") -> Path:
        root = tmp_path / name
        root.mkdir()
        return write_tree(root, files)

    return make


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    def call(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call
