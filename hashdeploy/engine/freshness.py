"""Up-to-date check: a build whose input, settings and output are exactly as the last build left them is skipped."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from hashdeploy import __version__
from hashdeploy.engine.cache import PARSER_VERSION
from hashdeploy.engine.manifest import MANIFEST_PATH
from hashdeploy.model import Asset, BuildResult, FileClass, OutputFile
from hashdeploy.settings import Settings

STAMP_VERSION = 2


def settings_digest(cfg: Settings) -> str:
    """Digest of what decides the output besides the files: hashdeploy's version and the settings."""
    h = hashlib.sha256(f"{STAMP_VERSION}\0{__version__}\0{PARSER_VERSION}\0".encode())
    settings = (cfg.hash_length, cfg.base_path, cfg.site_url, cfg.stable, cfg.hashed, cfg.fingerprint_patterns,
                cfg.sri, cfg.default_stable, str(cfg.site.resolve()))
    h.update(repr(settings).encode())
    return h.hexdigest()


def input_digest(assets: list[Asset], cfg: Settings) -> str:
    """Digest of everything that decides the output: the settings' digest and every input file."""
    h = hashlib.sha256(settings_digest(cfg).encode())
    for a in assets:
        h.update(f"{a.key}\0{a.sha256}\0{a.size}\n".encode())
    return h.hexdigest()


def _path(cache_dir: Path, target: Path) -> Path:
    return cache_dir / "builds" / (hashlib.sha256(str(target).encode()).hexdigest()[:32] + ".json")


def _stat(path: Path | str) -> list[int] | None:
    """What tells a file is still the one written: size, mtime, and the inode and ctime nothing can set back."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


_MAX_STAMP = 256 << 20  # a stamp is ~100 bytes a file; anything larger is not ours
_CLASSES = {c.value: c for c in FileClass}


def _read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        data = f.read(_MAX_STAMP + 1)
    if len(data) > _MAX_STAMP:
        raise ValueError("too large")
    return json.loads(data)


def _strings(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


def _output_file(key: Any, e: Any) -> OutputFile | None:
    """A manifest entry as an OutputFile, or None unless every field has the type a build writes."""
    if type(key) is not str or type(e) is not dict:
        return None
    strings = [e.get(k) for k in ("source", "class", "sha256", "content_type", "reason")]
    integrity = e.get("integrity")
    if not all(type(x) is str for x in strings) or e["class"] not in _CLASSES or not _is_sha(e["sha256"]):
        return None
    if type(e.get("size")) is not int or e["size"] < 0 or not (integrity is None or type(integrity) is str):
        return None
    return OutputFile(key, e["source"], _CLASSES[e["class"]], e["sha256"], e["size"], e["content_type"], e["reason"],
                      integrity)


def _is_sha(v: str) -> bool:
    return len(v) == 64 and not v.strip("0123456789abcdef")  # (strip runs in C: one call per file, not 64)


class Stamped(NamedTuple):
    """The last build into a target, proved to be what the target still holds."""

    digest: str  # its input digest
    result: BuildResult
    stats: dict[str, list[int]]  # output key -> what tells the file is still the one written
    manifest: bytes  # the text of its manifest


def load_stamped(cache_dir: Path, target: Path) -> Stamped | None:
    """The input digest and result of the last build into target, if target still holds exactly what it wrote.

    The stamp lives in the cache (which CI may restore from anywhere): anything damaged or of the wrong shape
    means "not fresh", never a failure.
    """
    try:
        stamp = _read_json(_path(cache_dir, target))
        if type(stamp) is not dict or stamp.get("version") != STAMP_VERSION or type(stamp.get("input")) is not str:
            return None
        files: Any = stamp.get("files")
        rewritten: Any = stamp.get("rewritten")
        warnings: Any = stamp.get("warnings")
        if type(files) is not dict or not _strings(rewritten) or not _strings(warnings):
            return None
        manifest_bytes = (target / MANIFEST_PATH).read_bytes()
        if hashlib.sha256(manifest_bytes).hexdigest() != stamp.get("manifest"):
            return None
        root = f"{target}{os.sep}"  # string paths: a Path per file costs more than its stat
        for key, st in files.items():
            if _stat(root + key) != st:
                return None
        manifest = json.loads(manifest_bytes)
        if type(manifest) is not dict or type(manifest.get("files")) is not dict:
            return None
        assets = manifest.get("assets")
        if type(assets) is not dict or not all(type(k) is str and type(v) is str for k, v in assets.items()):
            return None
        out = [_output_file(key, e) for key, e in sorted(manifest["files"].items())]
        checked = [f for f in out if f is not None]
        if len(checked) != len(out) or {f.key for f in checked} != set(files):
            return None
        return Stamped(stamp["input"], BuildResult(files=tuple(checked), assets=dict(assets),
                                                   rewritten=tuple(rewritten), warnings=tuple(warnings)), files,
                       manifest_bytes)
    except (OSError, ValueError, RecursionError):
        return None


def forget(cache_dir: Path, target: Path) -> None:
    """Drop the stamp of target (before it is changed in place)."""
    try:
        _path(cache_dir, target).unlink()
    except OSError:
        pass


def save(cache_dir: Path, target: Path, digest: str, result: BuildResult,
         known: dict[str, list[int]] | None = None) -> None:
    """Record what this build wrote; failures are ignored (the stamp only saves time).

    `known` holds stats just checked of files this build did not write again.
    """
    known = known or {}
    root = f"{target}{os.sep}"
    try:
        files: dict[str, Any] = {}
        for f in result.files:
            st = known.get(f.key) or _stat(root + f.key)
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
