"""Up-to-date check: a build whose input, settings and output are exactly as the last build left them is skipped."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from hashdeploy import __version__
from hashdeploy.engine.cache import PARSER_VERSION
from hashdeploy.engine.manifest import MANIFEST_PATH
from hashdeploy.model import Asset, BuildResult, FileClass, OutputFile
from hashdeploy.settings import Settings

STAMP_VERSION = 2


def input_digest(assets: list[Asset], cfg: Settings) -> str:
    """Digest of everything that decides the output: hashdeploy's version, the settings, every input file."""
    h = hashlib.sha256(f"{STAMP_VERSION}\0{__version__}\0{PARSER_VERSION}\0".encode())
    settings = (cfg.hash_length, cfg.base_path, cfg.site_url, cfg.stable, cfg.hashed, cfg.fingerprint_patterns,
                cfg.sri, cfg.default_stable, str(cfg.site.resolve()))
    h.update(repr(settings).encode())
    for a in assets:
        h.update(f"{a.key}\0{a.sha256}\0{a.size}\n".encode())
    return h.hexdigest()


def _path(cache_dir: Path, target: Path) -> Path:
    return cache_dir / "builds" / (hashlib.sha256(str(target).encode()).hexdigest()[:32] + ".json")


def _stat(path: Path) -> list[int] | None:
    """What tells a file is still the one written: size, mtime, and the inode and ctime nothing can set back."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def load_fresh(cache_dir: Path, target: Path, digest: str) -> BuildResult | None:
    """The previous result if target still holds exactly what the build with this digest wrote, else None."""
    try:
        stamp = json.loads(_path(cache_dir, target).read_text(encoding="utf-8"))
        if stamp.get("version") != STAMP_VERSION or stamp.get("input") != digest:
            return None
        manifest_bytes = (target / MANIFEST_PATH).read_bytes()
        if hashlib.sha256(manifest_bytes).hexdigest() != stamp["manifest"]:
            return None
        for key, st in stamp["files"].items():
            if _stat(target / key) != st:
                return None
        manifest = json.loads(manifest_bytes)
        files = tuple(
            OutputFile(key, e["source"], FileClass(e["class"]), e["sha256"], e["size"], e["content_type"], e["reason"],
                       e.get("integrity"))
            for key, e in sorted(manifest["files"].items())
        )
        return BuildResult(files=files, assets=dict(manifest["assets"]), rewritten=tuple(stamp["rewritten"]),
                           warnings=tuple(stamp["warnings"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(cache_dir: Path, target: Path) -> None:
    """Drop the stamp of target (before it is changed in place)."""
    try:
        _path(cache_dir, target).unlink()
    except OSError:
        pass


def save(cache_dir: Path, target: Path, digest: str, result: BuildResult) -> None:
    """Record what this build wrote; failures are ignored (the stamp only saves time)."""
    try:
        files: dict[str, Any] = {}
        for f in result.files:
            st = _stat(target / f.key)
            if st is None:
                return
            files[f.key] = st
        manifest = hashlib.sha256((target / MANIFEST_PATH).read_bytes()).hexdigest()
        path = _path(cache_dir, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": STAMP_VERSION, "input": digest, "manifest": manifest, "files": files,
               "rewritten": list(result.rewritten), "warnings": list(result.warnings)}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
