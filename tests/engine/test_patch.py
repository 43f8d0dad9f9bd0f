"""The incremental re-run: a few edited pages rewritten alone give exactly what a full build gives."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, MakeSite, read_tree, same_as_full

from hashdeploy.engine import build
from hashdeploy.engine import patch as patch_module
from hashdeploy.engine.freshness import load_stamped
from hashdeploy.errors import StrictModeError
from hashdeploy.settings import Settings

STARTERS = Path(__file__).resolve().parents[2] / "fixtures" / "starters"


class Patches:
    """Counts the builds the patch path finished (and, through make_plan, those that went the full way)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.done = 0
        self.full = 0
        real_patch = patch_module.patch

        def counted(*args: Any, **kwargs: Any) -> Any:
            out = real_patch(*args, **kwargs)
            self.done += out is not None
            return out

        monkeypatch.setattr(patch_module, "patch", counted)
        from hashdeploy.engine import classify

        real_plan = classify.make_plan

        def planned(*args: Any, **kwargs: Any) -> Any:
            self.full += 1
            return real_plan(*args, **kwargs)

        monkeypatch.setattr(classify, "make_plan", planned)


def copy_of(src: Path, tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(src, site)
    return site


def edit(path: Path, change: Callable[[str], str]) -> None:
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


@pytest.mark.parametrize("source", [DEMO, STARTERS / "jekyll" / "site", STARTERS / "eleventy" / "site",
                                    STARTERS / "pelican" / "site"], ids=["demo", "jekyll", "eleventy", "pelican"])
def test_every_page_edited_in_turn_matches_a_full_build(source: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    site = copy_of(source, tmp_path)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    build(cfg)
    counts = Patches(monkeypatch)
    pages = sorted(p for p in site.rglob("*.html"))[:12]
    assert pages
    for i, page in enumerate(pages):
        # text added at the end, then a line break in the middle that moves every later reference down a line
        page.write_text(page.read_text(encoding="utf-8") + f"\n<!-- edit {i} -->\n", encoding="utf-8")
        same_as_full(tmp_path, site, out, build(cfg))
        edit(page, lambda t: t.replace("<body", "\n<body", 1) if "<body" in t else "\n" + t)
        same_as_full(tmp_path, site, out, build(cfg))
    assert counts.done >= len(pages), "an edit that leaves a page's references alone is patched"


def test_edits_that_change_decisions_take_the_full_build(site: MakeSite, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({
        "index.html": '<link rel="stylesheet" href="s.css"><img src="a.png"><a href="b/">b</a>\n<p>home</p>\n',
        "b/index.html": '<img src="../a.png"><a href="../index.html">home</a>\n<p>b</p>\n',
        "c.html": '<a href="b/">b</a><script src="app.js" integrity="sha256-AAAA"></script>\n',
        "d.html": "<p>d</p>\n",
        "e.html": '<link rel="stylesheet" href="s.css" integrity="sha256-AAAA" crossorigin>\n<p>e</p>\n',
        "s.css": "body { background: url(a.png) }\n",
        "app.js": "console.log(1)\n",
        "a.png": b"\x89PNG one",
        "z.png": b"\x89PNG two",
    })
    out = tmp_path / "out"
    cfg = Settings(site=root, out=out, cache_dir=tmp_path / "cache")
    build(cfg)
    counts = Patches(monkeypatch)
    steps: list[tuple[str, Callable[[], object], bool]] = [
        ("text only", lambda: edit(root / "b/index.html", lambda t: t.replace("<p>b</p>", "<p>bee</p>")), True),
        ("a new subresource", lambda: edit(root / "b/index.html", lambda t: t + '<img src="../z.png">\n'), False),
        ("a reference removed", lambda: edit(root / "b/index.html", lambda t: t.replace('<img src="../z.png">', "")),
         False),
        ("a missing file referenced", lambda: edit(root / "d.html", lambda t: t + '<img src="gone.png">\n'), False),
        ("text beside a warning", lambda: edit(root / "d.html", lambda t: "\n\n" + t), True),
        ("a line moved that a reason cites", lambda: edit(root / "index.html", lambda t: "\n" + t), False),
        ("a stylesheet", lambda: edit(root / "s.css", lambda t: t + "p { color: red }\n"), False),
        ("a navigation link", lambda: edit(root / "c.html", lambda t: t + '<a href="z.png">z</a>\n'), False),
        ("an image", lambda: (root / "a.png").write_bytes(b"\x89PNG three"), False),
        ("a file added", lambda: (root / "new.html").write_text("<p>new</p>"), False),
        ("a file removed", lambda: (root / "new.html").unlink(), False),
        ("a page with an integrity value", lambda: edit(root / "c.html", lambda t: t + "<p>text</p>\n"), True),
        ("a page with the integrity value of a rewritten stylesheet",
         lambda: edit(root / "e.html", lambda t: t + "<p>more</p>\n"), True),
    ]
    for name, change, patched in steps:
        done_before, full_before = counts.done, counts.full
        change()
        result = build(cfg)
        assert (counts.done - done_before, counts.full - full_before) == ((1, 0) if patched else (0, 1)), name
        same_as_full(tmp_path, root, out, result)
        assert load_stamped(tmp_path / "cache", out.resolve()) is not None, f"{name}: the stamp is saved again"
    assert any("gone.png" in w for w in result.warnings)


def test_a_moved_line_that_a_reason_cites_takes_the_full_build(site: MakeSite, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the PDF's reason cites page.html's line ("only linked by navigation (page.html:2 (a[href]))")
    root = site({"page.html": '<p>x</p>\n<a href="doc.pdf">doc</a>\n', "doc.pdf": b"%PDF-1.4"})
    out = tmp_path / "out"
    cfg = Settings(site=root, out=out, cache_dir=tmp_path / "cache")
    build(cfg)
    counts = Patches(monkeypatch)
    edit(root / "page.html", lambda t: "<h1>title</h1>\n" + t)
    result = build(cfg)
    assert (counts.done, counts.full) == (0, 1)
    same_as_full(tmp_path, root, out, result)
    assert "page.html:3" in {f.key: f.reason for f in result.files}["doc.pdf"]
    edit(root / "page.html", lambda t: t + "<!-- at the end: no line moves -->\n")
    result = build(cfg)
    assert (counts.done, counts.full) == (1, 2)  # (the second full build is same_as_full's own)
    same_as_full(tmp_path, root, out, result)


def test_strict_mode_still_stops_before_writing(site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": '<img src="a.png">\n<p>one</p>\n', "a.png": b"\x89PNG"})
    out = tmp_path / "out"
    cfg = Settings(site=root, out=out, cache_dir=tmp_path / "cache", strict=True)
    build(cfg)
    before = read_tree(out)
    (root / "index.html").write_text('<img src="a.png">\n<p>two</p>\n<img src="missing.png">\n')
    with pytest.raises(StrictModeError):
        build(cfg)
    assert read_tree(out) == before


def test_a_patch_cut_short_is_redone_by_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = copy_of(DEMO, tmp_path)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    build(cfg)
    edit(site / "about/index.html", lambda t: t + "<!-- one -->\n")
    edit(site / "index.html", lambda t: t + "<!-- two -->\n")
    real = patch_module._replace
    calls = {"n": 0}

    def dies_after_one(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process is gone after the first page
        real(path, data)

    monkeypatch.setattr(patch_module, "_replace", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        build(cfg)
    assert calls["n"] == 2
    assert load_stamped(tmp_path / "cache", out.resolve()) is None, "a half-patched output is never taken as right"
    assert not [p for p in out.rglob("*") if "hashdeploy-tmp" in p.name]
    monkeypatch.setattr(patch_module, "_replace", real)
    same_as_full(tmp_path, site, out, build(cfg))


def test_a_deploy_build_folder_is_patched_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = copy_of(DEMO, tmp_path)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    build(cfg, update=True)
    counts = Patches(monkeypatch)
    edit(site / "about/index.html", lambda t: t.replace("</body>", "<p>more</p></body>"))
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    result = build(cfg, update=True)
    assert counts.done == 1
    touched = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                     if p.is_file() and mtimes.get(p) != p.stat().st_mtime_ns)
    assert touched == [".hashdeploy/manifest.json", "about/index.html"]
    same_as_full(tmp_path, site, out, result)


@pytest.mark.parametrize("damage", [b"", b"[]", b"null", b"\xff\xfe garbage", b"[" * 100_000,
                                    b'{"format": 1, "settings": "x", "inputs": [], "inert": {}}', "inputs", "inert"])
def test_a_damaged_patch_record_means_a_full_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   damage: bytes | str) -> None:
    import json

    site = copy_of(DEMO, tmp_path)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    build(cfg)
    (record,) = (tmp_path / "cache" / "builds" / "patch").glob("*.json")
    if isinstance(damage, bytes):
        record.write_bytes(damage)
    else:  # well-formed, but it claims every page's bytes are those of an older page
        doc = json.loads(record.read_bytes())
        if damage == "inputs":
            doc["inputs"] = {k: doc["inputs"]["index.html"] for k in doc["inputs"]}
        else:
            doc["inert"] = sorted(doc["inputs"])  # and that every file may be patched alone
        record.write_text(json.dumps(doc))
    counts = Patches(monkeypatch)
    edit(site / "css/site.css", lambda t: t + "p { margin: 0 }\n")
    edit(site / "about/index.html", lambda t: t + "<!-- edit -->\n")
    result = build(cfg)
    assert counts.done == 0
    same_as_full(tmp_path, site, out, result)


def test_a_text_edit_is_patched_without_loading_beautifulsoup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from hashdeploy.engine import parse

    monkeypatch.setattr(parse, "_PARSED", {})  # this process's memo of earlier tests would keep the cache empty
    site = copy_of(STARTERS / "jekyll" / "site", tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(Settings(site=site, out=out, cache_dir=cache))
    page = sorted(site.rglob("*.html"))[0]
    edit(page, lambda t: t.replace("</body>", "<p>an edit</p></body>"))
    code = ("import sys; from hashdeploy.cli.main import main\n"
            "try:\n    main([sys.argv[1], '--out', sys.argv[2], '--cache-dir', sys.argv[3], '--quiet'])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted(m for m in sys.modules if m == 'bs4' or m.startswith('bs4.')))")
    done = subprocess.run([sys.executable, "-c", code, str(site), str(out), str(cache)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    same_as_full(tmp_path, site, out, load_stamped(cache, out.resolve()).result)  # type: ignore[union-attr]
