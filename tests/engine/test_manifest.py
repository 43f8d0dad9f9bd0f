"""The manifest's text: exactly json.dumps(indent=1, sort_keys=True, ensure_ascii=False) of its document."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import MakeSite

from hashdeploy.engine import build
from hashdeploy.engine.manifest import to_json
from hashdeploy.model import BuildResult, FileClass, OutputFile
from hashdeploy.settings import Settings


def reference(result: BuildResult, hash_length: int) -> bytes:
    """The manifest as json's own encoder writes it."""
    files = {}
    for f in result.files:
        entry = {"class": f.cls.value, "content_type": f.content_type, "reason": f.reason, "sha256": f.sha256,
                 "size": f.size, "source": f.source}
        if f.integrity:
            entry["integrity"] = f.integrity
        files[f.key] = entry
    doc = {"version": 1, "generator": "hashdeploy", "hash": {"algorithm": "sha256", "length": hash_length},
           "assets": dict(sorted(result.assets.items())), "files": files}
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def test_odd_names_and_values_are_written_as_json_writes_them() -> None:
    names = ["a b.html", "ü/ñ.css", 'q"uote\\back.js', "tab\there.png", "\x01ctl.txt", "emoji-😀.svg", "%41.html",
             "\u2028sep.html", "z" * 300]
    files = tuple(OutputFile(n, n, FileClass.STABLE if i % 2 else FileClass.HASHED, f"{i:064x}", i * 1000,
                             "text/html; charset=utf-8", f"reason with “quotes” and \n line {i}",
                             f"sha384-{i}" if i % 3 == 0 else None) for i, n in enumerate(names))
    result = BuildResult(files=files, assets={n: n + ".x" for n in names[:4]})
    assert to_json(result, 12) == reference(result, 12)
    assert to_json(BuildResult(files=()), 8) == reference(BuildResult(files=()), 8)


def test_a_built_sites_manifest_is_json_encoders_text(site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": '<link rel="stylesheet" href="s.css" integrity="sha256-x"><img src="ä b.png">',
                 "s.css": "body{}", "ä b.png": b"\x89PNG"})
    result = build(Settings(site=root, out=tmp_path / "out", sri=True))
    assert (tmp_path / "out" / ".hashdeploy/manifest.json").read_bytes() == reference(result, 12)
