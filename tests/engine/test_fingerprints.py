"""Which names already carry a build tool's hash, and when such a file is cached forever as fingerprinted.

A file is fingerprinted only when its name carries a token that really looks like a build hash AND it is not
reached only by navigation. Dates, times and counters are not hashes: a PDF edited in
place under `report_20240101.pdf` must be revalidated, not cached forever.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import MakeSite, read_tree

from hashdeploy.engine import build
from hashdeploy.model import BuildResult
from hashdeploy.settings import DEFAULT_FINGERPRINTS, Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

# Real output names of build tools: (site key, generator).
BUILD_HASHED = [
    ("assets/chunks/index.md.BKEW5awD.lean.js", "VitePress"),
    ("assets/app.BKEW5awD.js", "VitePress"),
    ("_astro/name.D7XMDTI1_XBgBH.webp", "Astro image"),
    ("_astro/Layout.Ds4Xr1Ja.css", "Astro"),
    ("assets/vendor-Bj-uP2-C.js", "Vite"),
    ("assets/index-BeeRWYWd.js", "Vite"),
    ("assets/index-5f8a2b1c.js", "Vite 4 (hex)"),
    ("assets/js/main.3f2a9c0e.js", "webpack/Docusaurus"),
    ("assets/js/runtime~main.1a2b3c4d.js", "Docusaurus"),
    ("assets/js/814f3328.5e6f7a8b.js", "Docusaurus"),
    ("assets/js/17896441.a1b2c3d4.js", "Docusaurus"),
    ("_next/static/chunks/4bd1b696-3e0a1f2b4c5d6e7f.js", "Next.js"),
    ("_next/static/chunks/pages/_app-0c2f3e4d5a6b7c8d.js", "Next.js"),
    ("_next/static/css/0123abcd4567ef89.css", "Next.js"),
    ("_next/static/media/c9a5bc6a7c948fb0-s.p.woff2", "Next.js font"),
    ("_next/static/aBcD3fGh1jKlMnOpQrStu/_buildManifest.js", "Next.js build id"),
    ("_next/static/aBcD3fGh1jKlMnOpQrStu/_ssgManifest.js", "Next.js build id"),
    ("assets/javascripts/bundle.5cf534bf.min.js", "Material for MkDocs"),
    ("assets/stylesheets/main.6f8fc17f.min.css", "Material for MkDocs"),
    ("css/style.min." + hashlib.sha256(b"hugo").hexdigest() + ".css", "Hugo"),
    ("static/js/main.8f2c1e3b.chunk.js", "Create React App"),
    ("main.a1b2c3d4e5f6a7b8.js", "Angular"),
]

# Names a person or a camera gave: dates, times, counters, versions, words.
NOT_HASHED = [
    "docs/report_20240101.pdf", "img/PXL_20231231_235959123.jpg", "img/screenshot-20240101.png",
    "img/photo-holiday1.png", "img/IMG_00012345.jpg", "css/v12345678.css", "img/DSC_12345678.jpg",
    "img/banner-2024-01-01.png", "img/shot-1704067200.png", "img/shot-1704067200123.png",
    "img/clip.20240101123456.png", "img/x_20231231235959123456.png", "img/cat-12345678.jpg",
    "img/logo-HomePage.png", "img/hero-MyPhoto1.png", "img/sale-Summer24.png", "img/case-iPhone12.png",
    "img/photo-IMG_0001.jpg", "img/scan-DSC01234.jpg", "img/icon-PDFViewer.png", "img/logo-darkmode.svg",
    "docs/company.Annual-Report-2023.pdf", "img/x.deadbeef.png", "img/hero-image_v2.png",
    "js/jquery-3.6.0.min.js", "js/underscore-1.13.1.js", "_static/basic.css", "_static/documentation_options.js",
    "_static/sphinx_highlight.js", "_static/pygments.css", "_static/jquery-3.7.1.js", "_next/static/chunks/main.js",
]


def _matches(name: str) -> bool:
    """Whether the default patterns call this site key fingerprint-like (as classify applies them)."""
    return any(re.search(p, name if "/" in p else name.rsplit("/", 1)[-1]) for p in DEFAULT_FINGERPRINTS)


@pytest.mark.parametrize(("key", "tool"), BUILD_HASHED)
def test_default_patterns_recognise_build_tool_hashes(key: str, tool: str) -> None:
    assert _matches(key), f"{tool}'s {key} carries a build hash"


@pytest.mark.parametrize("key", NOT_HASHED)
def test_default_patterns_reject_dates_counters_and_words(key: str) -> None:
    assert not _matches(key), f"{key} carries no build hash"


def test_no_date_time_or_counter_is_a_hash() -> None:
    """Every calendar date and the usual timestamp and counter formats, with every separator: never a hash."""
    days = [f"{y}{m:02d}{d:02d}" for y in (1999, 2000, 2023, 2024, 2099) for m in range(1, 13) for d in range(1, 32)]
    stamps = [d + "T" + "235959" for d in days[:40]] + [d + "235959" for d in days[:40]]
    stamps += ["1704067200", "1704067200123", "1704067200123456", "1704067200123456789", "20231231235959123456"]
    counters = [f"{n:08d}" for n in (0, 1, 12345, 12345678)] + [f"{n:012d}" for n in (1, 99999999999)]
    for token in days + stamps + counters:
        for sep in ".-_~":
            for name in (f"file{sep}{token}.png", f"{token}.png", f"a{sep}{token}{sep}b.png", f"{token}{sep}x.pdf"):
                assert not _matches(name), name


def _page(keys: list[str]) -> str:
    tags = []
    for key in keys:
        if key.endswith(".css"):
            tags.append(f'<link rel="stylesheet" href="{key}">')
        elif key.endswith(".js"):
            tags.append(f'<script src="{key}"></script>')
        elif key.endswith(".woff2"):
            tags.append(f'<link rel="preload" as="font" href="{key}">')
        elif key.endswith(".pdf"):
            tags.append(f'<embed src="{key}">')
        else:
            tags.append(f'<img src="{key}">')
    return "<!doctype html>" + "".join(tags)


def _content(key: str) -> str | bytes:
    if key.endswith((".css", ".js")):
        return f"/* {key} */"
    return PNG + hashlib.sha256(key.encode()).digest()


def _classes(result: BuildResult) -> dict[str, set[tuple[str, bool]]]:
    """source key -> {(class, kept its own name)}."""
    out: dict[str, set[tuple[str, bool]]] = {}
    for f in result.files:
        out.setdefault(f.source, set()).add((f.cls.value, f.key == f.source))
    return out


def test_build_tool_hashed_subresources_are_fingerprinted_not_hashed_again(site: MakeSite, tmp_path: Path) -> None:
    keys = [k for k, _tool in BUILD_HASHED]
    root = site({"index.html": _page(keys)} | {k: _content(k) for k in keys})
    result = build(Settings(site=root, out=tmp_path / "o"))
    got = _classes(result)
    for key in keys:
        assert got[key] == {("fingerprinted", True)}, (key, got[key])
        assert key not in result.assets, f"{key} already carries a build hash: not hashed a second time"


def test_dated_and_counted_subresources_are_hashed(site: MakeSite, tmp_path: Path) -> None:
    keys = [k for k in NOT_HASHED if not k.startswith("_next/")]
    root = site({"index.html": _page(keys)} | {k: _content(k) for k in keys})
    result = build(Settings(site=root, out=tmp_path / "o"))
    got = _classes(result)
    for key in keys:
        assert got[key] == {("hashed", False)}, (key, got[key])


@pytest.mark.parametrize("name", ["report_20240101.pdf", "report-3f2a9c0e.pdf", "handbook.5cf534bf.pdf",
                                  "photo-BeeRWYWd.png", "IMG_00012345.jpg"])
def test_a_file_reached_only_by_navigation_is_never_fingerprinted(site: MakeSite, tmp_path: Path, name: str) -> None:
    """Even a name that looks hashed: a link's target may be replaced in place by a later build."""
    root = site({"index.html": f'<a href="docs/{name}">the report</a><iframe src="docs/frame-{name}"></iframe>',
                 f"docs/{name}": b"%PDF-1", f"docs/frame-{name}": b"%PDF-2"})
    got = _classes(build(Settings(site=root, out=tmp_path / "o")))
    assert got[f"docs/{name}"] == {("stable", True)}
    assert got[f"docs/frame-{name}"] == {("stable", True)}


def test_unreferenced_files_are_fingerprinted_only_with_a_real_build_hash(site: MakeSite, tmp_path: Path) -> None:
    """Nothing hashdeploy sees points at them: a build tool's loader may compute their URLs (webpack chunk maps),
    so a real build hash still makes them immutable; a date does not."""
    root = site({"index.html": "<p>hi</p>", "assets/js/814f3328.5e6f7a8b.js": "1", "assets/orphan-BeeRWYWd.js": "2",
                 "docs/report_20240101.pdf": b"%PDF", "img/IMG_00012345.jpg": PNG})
    got = _classes(build(Settings(site=root, out=tmp_path / "o")))
    assert got["assets/js/814f3328.5e6f7a8b.js"] == got["assets/orphan-BeeRWYWd.js"] == {("fingerprinted", True)}
    assert got["docs/report_20240101.pdf"] == got["img/IMG_00012345.jpg"] == {("stable", True)}


def test_a_file_named_only_in_a_feed_is_not_fingerprinted(site: MakeSite, tmp_path: Path) -> None:
    """Feed readers follow <enclosure url> and links like a browser follows <a href>."""
    root = site({"index.html": "<p>hi</p>", "podcast.3f2a9c0e.mp3": b"ID3",
                 "feed.xml": '<rss><item><enclosure url="https://e.com/podcast.3f2a9c0e.mp3"/></item></rss>'})
    got = _classes(build(Settings(site=root, out=tmp_path / "o")))
    assert got["podcast.3f2a9c0e.mp3"] == {("stable", True)}


def test_a_hash_named_file_named_in_code_is_fingerprinted(site: MakeSite, tmp_path: Path) -> None:
    """A chunk a script loads by a literal name it cannot rewrite (a worker, Vite's __vite__mapDeps): immutable."""
    root = site({"index.html": '<script src="app.js"></script>',
                 "app.js": 'new Worker("assets/search.5cf534bf.min.js");', "assets/search.5cf534bf.min.js": "1"})
    got = _classes(build(Settings(site=root, out=tmp_path / "o")))
    assert got["assets/search.5cf534bf.min.js"] == {("fingerprinted", True)}


def test_an_edited_linked_pdf_changes_class_with_its_bytes(site: MakeSite, tmp_path: Path) -> None:
    """The deploy skips a fingerprinted object already live: an edited PDF must be stable so it is re-uploaded."""
    root = site({"index.html": '<a href="report_20240101.pdf">report</a>', "report_20240101.pdf": b"%PDF v1"})
    first = {f.key: f for f in build(Settings(site=root, out=tmp_path / "o1")).files}
    (root / "report_20240101.pdf").write_bytes(b"%PDF v2")
    second = {f.key: f for f in build(Settings(site=root, out=tmp_path / "o2")).files}
    assert first["report_20240101.pdf"].cls.value == second["report_20240101.pdf"].cls.value == "stable"
    assert first["report_20240101.pdf"].sha256 != second["report_20240101.pdf"].sha256


def test_rerun_keeps_hashdeploys_own_names_whatever_digits_they_have(site: MakeSite, tmp_path: Path) -> None:
    """A hashdeploy hash may be all decimal digits (a few in a thousand are): a second run must not hash it again."""
    content = next(c for c in (PNG + str(i).encode() for i in range(100_000))
                   if hashlib.sha256(c).hexdigest()[:12].isdigit())
    root = site({"index.html": '<img src="a.png">', "a.png": content})
    first = build(Settings(site=root, out=tmp_path / "o1"))
    assert re.fullmatch(r"a\.\d{12}\.png", first.assets["a.png"])
    build(Settings(site=tmp_path / "o1", out=tmp_path / "o2"))
    assert read_tree(tmp_path / "o1") == read_tree(tmp_path / "o2")


def test_vitepress_page_chunks_are_fingerprinted_whatever_their_token() -> None:
    """VitePress builds a page chunk's URL at run time from `__VP_HASH_MAP__` (`assets/<page>.md.<hash>.lean.js`):
    renaming it breaks every first load, so the `.md.` form counts as a build hash even with few case changes."""
    from hashdeploy.engine.classify import fingerprint_matcher
    from hashdeploy.settings import DEFAULT_FINGERPRINTS

    carries = fingerprint_matcher(DEFAULT_FINGERPRINTS)
    for key in ("assets/api-examples.md.DEXtoiyi.lean.js", "assets/api-examples.md.DEXtoiyi.js",
                "assets/guide_index.md.abcdefgh.lean.js"):
        assert carries(key), key
    assert not carries("assets/notes.md.txt") and not carries("docs/readme.md.html")
