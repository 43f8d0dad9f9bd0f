"""The versioned manifest: renamed assets plus every output file's hash, size, type and class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hashdeploy.model import BuildResult

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
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


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
