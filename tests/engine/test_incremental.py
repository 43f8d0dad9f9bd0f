"""Incremental update builds in one process: redoing only what a change reaches gives what a full build gives."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, MakeSite, same_as_full

from hashdeploy.engine import build, incremental
from hashdeploy.engine import parse as parse_module
from hashdeploy.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SITES = {"demo": DEMO, "jekyll": FIXTURES / "starters/jekyll/site", "eleventy": FIXTURES / "starters/eleventy/site",
         "pelican": FIXTURES / "starters/pelican/site", "vite": FIXTURES / "sites/vite/dist",
         "astro": FIXTURES / "starters/astro/site", "vitepress": FIXTURES / "starters/vitepress/site"}


class Counted:
    """How many update builds reused the last one (prepare gave an analysis) and how many did not."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reused = self.full = 0
        real = incremental.prepare

        def counted(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            if out is None:
                self.full += 1
            else:
                self.reused += 1
            return out

        monkeypatch.setattr(incremental, "prepare", counted)


def edits_for(path: Path, i: int) -> bytes | None:
    """A change that keeps the file's references: a rule, a comment, other image bytes."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".css":
        return data + f"\n.edit-{i} {{ color: red }}\n".encode()
    if suffix in (".js", ".mjs"):
        return data + f"\n/* edit {i} */\n".encode()
    if suffix in (".html", ".htm"):
        return data + f"\n<!-- edit {i} -->\n".encode()
    if suffix in (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".woff", ".woff2", ".ttf"):
        return data + bytes([i % 256]) * 3
    return None


@pytest.mark.parametrize("name", sorted(SITES))
def test_each_file_edited_in_turn_matches_a_full_build(name: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITES[name], site)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    build(cfg, update=True)
    counts = Counted(monkeypatch)
    files = sorted(p for p in site.rglob("*") if p.is_file() and edits_for(p, 0) is not None)
    # every stylesheet, script and image (they rename their referrers), and a few pages
    picked = [p for p in files if p.suffix.lower() not in (".html", ".htm")][:40] + \
        [p for p in files if p.suffix.lower() in (".html", ".htm")][:3]
    assert picked
    for i, path in enumerate(picked):
        data = edits_for(path, i)
        assert data is not None
        path.write_bytes(data)
        result = build(cfg, update=True)
        same_as_full(tmp_path, site, out, result)
    # (an edited page whose links stayed is patched before this is asked: engine/patch.py)
    assert counts.reused and counts.full <= len(picked) // 4, (counts.reused, counts.full)


def test_edits_that_change_references_take_the_full_build(site: MakeSite, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({
        "index.html": '<link rel="stylesheet" href="css/s.css"><script src="js/app.js"></script>\n<p>home</p>\n',
        "about/index.html": '<link rel="stylesheet" href="../css/s.css"><img src="../img/a.png">\n',
        "css/s.css": '@import "t.css";\nbody { background: url(../img/a.png) }\n',
        "css/t.css": "p { color: blue }\n",
        "js/app.js": 'import "./lib.js";\nconsole.log(1)\n',
        "js/lib.js": 'import "./app.js";\nexport const x = 1\n',
        "img/a.png": b"\x89PNG a",
        "img/b.png": b"\x89PNG b",
    })
    out = tmp_path / "out"
    cfg = Settings(site=root, out=out, cache_dir=tmp_path / "cache")
    build(cfg, update=True)
    counts = Counted(monkeypatch)
    steps: list[tuple[str, str, bytes, str]] = [
        ("a leaf stylesheet", "css/t.css", b"p { color: green }\n", "reused"),
        ("an image two levels down", "img/a.png", b"\x89PNG a2", "reused"),
        ("a module in a cycle", "js/lib.js", b'import "./app.js";\nexport const x = 2\n', "reused"),
        ("a new url() in a stylesheet", "css/t.css", b"p { background: url(../img/b.png) }\n", "full"),
        ("the same stylesheet edited again", "css/t.css", b"p { background: url(../img/b.png); color: red }\n",
         "reused"),
        ("a page's text (patched: engine/patch.py)", "about/index.html",
         b'<link rel="stylesheet" href="../css/s.css"><img src="../img/a.png">\n<p>more</p>\n', "patched"),
        ("an image dropped from a page", "about/index.html", b'<link rel="stylesheet" href="../css/s.css">\n', "full"),
    ]
    expected = {"reused": (1, 0), "full": (0, 1), "patched": (0, 0)}
    for what, key, data, way in steps:
        before = (counts.reused, counts.full)
        (root / key).write_bytes(data)
        result = build(cfg, update=True)
        assert (counts.reused - before[0], counts.full - before[1]) == expected[way], what
        same_as_full(tmp_path, root, out, result)
    (root / "img/c.png").write_bytes(b"\x89PNG c")  # a file added
    same_as_full(tmp_path, root, out, build(cfg, update=True))
    assert counts.full == 3


def test_only_what_a_change_reaches_is_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    build(cfg, update=True)
    read: list[str] = []
    from hashdeploy.engine import rename

    real = rename._process_component

    def counted(state: Any, component: tuple[str, ...]) -> None:
        read.extend(component)
        real(state, component)

    monkeypatch.setattr(rename, "_process_component", counted)
    monkeypatch.setattr(parse_module, "_PARSED", {})  # every parse comes from the snapshot, not this memo
    (site / "img/bg.png").write_bytes(b"\x89PNG another background")
    result = build(cfg, update=True)
    assert sorted(read) == ["404.html", "about/index.html", "css/site.css", "index.html"]
    same_as_full(tmp_path, site, out, result)


def test_another_folder_or_a_changed_folder_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    a, b = tmp_path / "a", tmp_path / "b"
    build(Settings(site=site, out=a, cache_dir=tmp_path / "cache"), update=True)
    counts = Counted(monkeypatch)
    (site / "css/site.css").write_bytes((site / "css/site.css").read_bytes() + b"\np { margin: 0 }\n")
    same_as_full(tmp_path, site, b, build(Settings(site=site, out=b, cache_dir=tmp_path / "cache"), update=True))
    (b / "index.html").write_text("tampered")  # the folder is not what the last build left
    (site / "css/site.css").write_bytes((site / "css/site.css").read_bytes() + b"\np { padding: 0 }\n")
    same_as_full(tmp_path, site, b, build(Settings(site=site, out=b, cache_dir=tmp_path / "cache"), update=True))
    assert counts.reused == 0
