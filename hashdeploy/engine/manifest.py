"""The versioned manifest: renamed assets plus every output file's hash, size, type and class."""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _string
from pathlib import Path
from typing import Any

from hashdeploy.model import BuildResult, OutputFile

VERSION = 1
MANIFEST_PATH = ".hashdeploy/manifest.json"


def to_json(result: BuildResult, hash_length: int) -> bytes:
    """Serialise deterministically: sorted keys, fixed separators, trailing newline."""
    files: dict[str, dict[str, Any]] = {}
    for f in result.files:
        entry: dict[str, Any] = {
            "class": f.cls.value,
            "content_type": f.content_type,
            "reason": f.reason,
            "sha256": f.sha256,
            "size": f.size,
            "source": f.source,
        }
        if f.integrity:
            entry["integrity"] = f.integrity
        files[f.key] = entry
    doc = {
        "version": VERSION,
        "generator": "hashdeploy",
        "hash": {"algorithm": "sha256", "length": hash_length},
        "assets": dict(sorted(result.assets.items())),
        "files": dict(sorted(files.items())),
    }
    return (_text(doc, "\n") + "\n").encode("utf-8")


def _text(value: Any, newline: str) -> str:
    """json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False), without json's pure-Python indenting
    encoder (a tenth of a second per 2,000 pages); `newline` is the line break plus the current indent."""
    if type(value) is not dict:  # (JSON text holds no raw line break: each one is an indent)
        return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False).replace("\n", newline)
    if not value:
        return "{}"
    inner = newline + " "
    return "{" + inner + ("," + inner).join([f"{_string(k)}: {_value(value[k], inner)}" for k in sorted(value)]) \
        + newline + "}"


def _value(value: Any, newline: str) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:
        return str(value)
    return _text(value, newline)


def with_new_bytes(text: bytes, changed: list[tuple[OutputFile, OutputFile]]) -> bytes | None:
    """The manifest `text` (as to_json wrote it) with these files' sha256 and size changed from the first of each
    pair to the second; None unless every entry is found exactly where to_json puts it."""
    for before, after in changed:
        head = b"\n  " + _string(before.key).encode("utf-8") + b": {\n"
        at = text.find(head)
        end = text.find(b"\n  }", at)
        if at < 0 or end < 0 or text.find(head, at + 1) >= 0:
            return None
        old = f'\n   "sha256": "{before.sha256}",\n   "size": {before.size},\n'.encode()
        new = f'\n   "sha256": "{after.sha256}",\n   "size": {after.size},\n'.encode()
        hit = text.find(old, at, end)
        if hit < 0:
            return None
        text = text[:hit] + new + text[hit + len(old):]
    return text


def read_manifest_files(site: Path) -> dict[str, dict[str, Any]]:
    """Return the `files` of a manifest left by an earlier run on this tree, or {} if none is readable."""
    path = site / MANIFEST_PATH
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("files"), dict):
        return {}
    return {k: v for k, v in doc["files"].items() if isinstance(v, dict) and isinstance(v.get("class"), str)}
