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


def test_new_bytes_of_a_few_files_are_written_where_to_json_puts_them() -> None:
    import dataclasses

    from hashdeploy.engine.manifest import with_new_bytes

    names = ["index.html", 'q"uote.html', "ü/ñ.html", "a/index.html", "a/index.html.bak", "z" * 200]
    files = tuple(OutputFile(n, n, FileClass.STABLE, f"{i:064x}", i * 10, "text/html", f"reason {i}",
                             "sha384-x" if i == 2 else None) for i, n in enumerate(names))
    before = BuildResult(files=files, assets={"s.css": "s.0123.css"})
    text = to_json(before, 12)
    for picked in ([0], [1, 2], [3], [0, 1, 2, 3, 4, 5]):
        changed = [(files[i], dataclasses.replace(files[i], sha256=f"{i + 99:064x}", size=7 + i)) for i in picked]
        after = BuildResult(files=tuple(dict(changed).get(f, f) for f in files), assets=before.assets)
        assert with_new_bytes(text, changed) == to_json(after, 12)
    other = OutputFile("missing.html", "missing.html", FileClass.STABLE, "0" * 64, 1, "text/html", "r")
    assert with_new_bytes(text, [(other, other)]) is None
    stale = dataclasses.replace(files[0], size=12345)  # not the entry's size: the text is not that build's
    assert with_new_bytes(text, [(stale, files[0])]) is None
