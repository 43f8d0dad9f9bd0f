from __future__ import annotations

import re
from pathlib import Path
from typing import NoReturn

import pytest
from conftest import DEMO, MakeSite, load_manifest, read_tree
from siteassert import assert_site_consistent

from hashdeploy.engine import build
from hashdeploy.model import BuildResult, FileClass
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def classes(result: BuildResult) -> dict[str, tuple[str, str]]:
    return {f.key: (f.cls.value, f.source) for f in result.files}


def test_demo_site_is_consistent(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(Settings(site=DEMO, out=out))
    counts = assert_site_consistent(DEMO, out, load_manifest(out))
    assert counts["html"] == 3 and counts["hashed_refs"] >= 10


def test_cascading_hashes(site: MakeSite, tmp_path: Path) -> None:
    files: dict[str, str | bytes]
    files = {"index.html": '<link rel="stylesheet" href="css/a.css"><img src="img/x.png">',
             "css/a.css": "body{background:url(../img/bg.png)}", "img/bg.png": PNG, "img/x.png": PNG + b"x"}
    root = site(files)
    first = build(Settings(site=root, out=tmp_path / "o1")).assets
    (root / "img/bg.png").write_bytes(PNG + b"changed")
    second = build(Settings(site=root, out=tmp_path / "o2")).assets
    assert first["img/bg.png"] != second["img/bg.png"]
    assert first["css/a.css"] != second["css/a.css"], "the stylesheet's hash must follow its image"
    assert first["img/x.png"] == second["img/x.png"]
    html = (tmp_path / "o2/index.html").read_text()
    assert second["css/a.css"] in html and first["css/a.css"] not in html


def test_hash_is_sha256_of_final_bytes(site: MakeSite, tmp_path: Path) -> None:
    import hashlib

    root = site({"index.html": '<link rel=stylesheet href="a.css">', "a.css": "a{background:url(b.png)}", "b.png": PNG})
    result = build(Settings(site=root, out=tmp_path / "o", hash_length=16))
    for f in result.files:
        if f.cls is FileClass.HASHED:
            data = (tmp_path / "o" / f.key).read_bytes()
            assert hashlib.sha256(data).hexdigest()[:16] in f.key
            assert f.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", ["css", "js"])
def test_cycles_share_one_hash(site: MakeSite, tmp_path: Path, kind: str) -> None:
    files: dict[str, str | bytes]
    if kind == "css":
        files = {"index.html": '<link rel="stylesheet" href="a.css">', "a.css": '@import "b.css"; .a{}',
                 "b.css": '@import "a.css"; .b{background:url(c.png)}', "c.png": PNG}
    else:
        files = {"index.html": '<script type="module" src="a.js"></script>',
                 "a.js": "import {b} from './b.js'; export const a = 1;",
                 "b.js": "import {a} from './a.js'; import './c.js'; export const b = 2;", "c.js": "export {}"}
    root = site(files)
    out = tmp_path / "o"
    result = build(Settings(site=root, out=out))
    a, b = result.assets[f"a.{kind}"], result.assets[f"b.{kind}"]
    digest = a.split(".")[1]
    assert b.split(".")[1] == digest
    assert b in (out / a).read_text() and a in (out / b).read_text()
    assert_site_consistent(root, out, load_manifest(out))
    (root / ("c.png" if kind == "css" else "c.js")).write_bytes(b"changed")
    again = build(Settings(site=root, out=tmp_path / "o2"))
    assert again.assets[f"a.{kind}"] != a and again.assets[f"b.{kind}"] != b


def test_deterministic_and_idempotent(tmp_path: Path) -> None:
    build(Settings(site=DEMO, out=tmp_path / "a"))
    build(Settings(site=DEMO, out=tmp_path / "b", use_cache=False, jobs=1))
    assert read_tree(tmp_path / "a") == read_tree(tmp_path / "b")
    build(Settings(site=tmp_path / "a", out=tmp_path / "c"))
    assert read_tree(tmp_path / "a") == read_tree(tmp_path / "c")
    assert not any(re.search(r"\.[0-9a-f]{12}\.[0-9a-f]{12}\.", k) for k in read_tree(tmp_path / "c"))


def test_in_place_is_atomic_on_failure(site: MakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({"index.html": '<img src="a.png">', "a.png": PNG})
    before = read_tree(root)
    from hashdeploy.engine import write as output

    def boom(self: output.StagingSink, key: str, data: bytes, sha256: str | None = None) -> NoReturn:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.StagingSink, "write", boom)
    with pytest.raises(OSError):
        build(Settings(site=root))
    assert read_tree(root) == before
    assert [p.name for p in root.parent.iterdir()] == ["site"], "the staging directory must be removed"


def test_in_place_success(site: MakeSite) -> None:
    root = site({"index.html": '<img src="a.png">', "a.png": PNG})
    result = build(Settings(site=root))
    assert set(read_tree(root)) == {"index.html", result.assets["a.png"], ".hashdeploy/manifest.json"}


def test_classes_and_reasons(site: MakeSite, tmp_path: Path) -> None:
    root = site({
        "index.html": '<img src="both.png"><a href="both.png">full</a><a href="doc.pdf">pdf</a>'
                      '<script src="app.js"></script><link rel=stylesheet href="assets/main.6f8fc17f.min.css">'
                      '<link rel=stylesheet href="assets/vite-DiwrgTda.css"><img data-src="lazy.png" src="lazy.png">',
        "app.js": 'fetch("data/items.json"); navigator.serviceWorker.register("/worker.js");',
        "assets/main.6f8fc17f.min.css": "body{color:red}",
        "assets/vite-DiwrgTda.css": "body{background:url(../font.woff2)}",
        "font.woff2": b"wOF2", "both.png": PNG, "doc.pdf": b"%PDF", "lazy.png": PNG,
        "data/items.json": "[]", "worker.js": "", "robots.txt": "", "sitemap.xml": "", "favicon.ico": b"\0",
        ".well-known/security.txt": "", "feed.xml": "",
    })
    result = build(Settings(site=root, out=tmp_path / "o"))
    c = classes(result)
    by_source: dict[str, set[tuple[bool, str]]] = {}
    for key, (cls, src) in c.items():
        by_source.setdefault(src, set()).add((key == src, cls))
    assert by_source["both.png"] == {(False, "hashed"), (True, "stable")}
    assert by_source["doc.pdf"] == {(True, "stable")}
    assert by_source["app.js"] == {(False, "hashed")}
    assert by_source["assets/main.6f8fc17f.min.css"] == {(True, "fingerprinted")}
    assert by_source["assets/vite-DiwrgTda.css"] == {(False, "hashed")}, "rewritten bytes invalidate the tool's hash"
    assert by_source["lazy.png"] == {(True, "stable")}, "named in data-src, which is not rewritten"
    for key in ("data/items.json", "worker.js", "robots.txt", "sitemap.xml", "favicon.ico",
                ".well-known/security.txt", "feed.xml", "index.html"):
        assert c[key] == ("stable", key), key
    reasons = {f.key: f.reason for f in result.files}
    assert reasons["data/items.json"].startswith("named in app.js")
    assert "index.html" in reasons["doc.pdf"]


def test_exact_references_only(site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": '<script src="bundle.js"></script><a href="bundle.js.map">map</a>',
                 "bundle.js": "1", "bundle.js.map": "{}"})
    build(Settings(site=root, out=tmp_path / "o"))
    html = (tmp_path / "o/index.html").read_text()
    assert 'href="bundle.js.map"' in html and 'src="bundle.js"' not in html


def test_forced_globs(site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": '<img src="a.png"><img src="keep/b.png">', "a.png": PNG, "keep/b.png": PNG,
                 "unref.png": PNG})
    result = build(Settings(site=root, out=tmp_path / "o", stable=("keep/**",), hashed=("unref.png",)))
    c = classes(result)
    assert c["keep/b.png"] == ("stable", "keep/b.png")
    assert any(src == "unref.png" and cls == "hashed" for cls, src in c.values())


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = build(Settings(site=DEMO, out=out), dry_run=True)
    assert not out.exists() and result.assets
    assert [p.name for p in tmp_path.iterdir()] == []


def test_parse_cache_gives_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    build(Settings(site=DEMO, out=tmp_path / "a", cache_dir=cache))
    from hashdeploy.engine import parse as analyze

    def no_parse(*_a: object, **_k: object) -> NoReturn:
        raise AssertionError("everything should come from the cache")

    monkeypatch.setattr(analyze, "_parse_batch", no_parse)
    build(Settings(site=DEMO, out=tmp_path / "b", cache_dir=cache))
    assert read_tree(tmp_path / "a") == read_tree(tmp_path / "b")


def test_root_relative_with_base_path_and_site_url(site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": '<img src="/docs/a.png"><img src="https://example.com/docs/b.png">'
                               '<img src="/elsewhere/c.png"><base href="/docs/sub/"><img src="d.png">',
                 "a.png": PNG, "b.png": PNG + b"b", "sub/d.png": PNG + b"d"})
    result = build(Settings(site=root, out=tmp_path / "o", base_path="/docs/", site_url="https://example.com/docs/"))
    html = (tmp_path / "o/index.html").read_text()
    for src in ("a.png", "b.png"):
        assert result.assets[src].rsplit("/", 1)[-1] in html
    assert result.assets["sub/d.png"].rsplit("/", 1)[-1] in html
    assert "/elsewhere/c.png" in html


def test_sri_added_on_final_bytes_and_existing_ones_fixed(site: MakeSite, tmp_path: Path) -> None:
    import base64
    import hashlib

    def sri(data: bytes) -> str:
        return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()

    stale = sri(b"old")
    root = site({
        "index.html": f'<script src="a.js"></script><link rel="stylesheet" href="s.css" />'
                      f'<script src="b.js" integrity="{stale}"></script><img src="i.png">',
        "a.js": "import './c.js';", "c.js": "", "s.css": "x{background:url(i.png)}", "i.png": PNG,
        "b.js": "import './c.js';",
    })
    result = build(Settings(site=root, out=tmp_path / "plain"))
    html = (tmp_path / "plain/index.html").read_text()
    assert html.count("integrity=") == 1 and stale not in html, "a stale integrity is fixed even without --sri"
    result = build(Settings(site=root, out=tmp_path / "o", sri=True))
    html = (tmp_path / "o/index.html").read_text()
    for src in ("a.js", "s.css", "b.js"):
        new = result.assets[src]
        value = sri((tmp_path / "o" / new).read_bytes())
        assert f'{new}" integrity="{value}"' in html or f'{new}"  integrity="{value}"' in html or value in html
    assert '<link rel="stylesheet" href="' in html and html.count("integrity=") == 3
    again = tmp_path / "again"
    build(Settings(site=tmp_path / "o", out=again, sri=True))
    assert read_tree(tmp_path / "o") == read_tree(again)


def test_existing_integrity_keeps_its_algorithm(site: MakeSite, tmp_path: Path) -> None:
    import base64
    import hashlib

    root = site({"index.html": '<link rel="stylesheet" href="s.css" integrity="sha512-stale" crossorigin>',
                 "s.css": "x{background:url(i.png)}", "i.png": PNG})
    result = build(Settings(site=root, out=tmp_path / "o"))
    new = result.assets["s.css"]
    digest = base64.b64encode(hashlib.sha512((tmp_path / "o" / new).read_bytes()).digest()).decode()
    assert (tmp_path / "o/index.html").read_text() == (
        f'<link rel="stylesheet" href="{new}" integrity="sha512-{digest}" crossorigin>')


def test_up_to_date_output_is_not_rewritten(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    out = tmp_path / "out"
    cfg = Settings(site=site, out=out, cache_dir=tmp_path / "cache")
    first = build(cfg)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = build(cfg)
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamp, "nothing was written"
    # a damaged output is rebuilt
    page = out / "index.html"
    page.write_text("tampered")
    build(cfg)
    assert page.read_text() != "tampered"
    # a changed input is rebuilt
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    third = build(cfg)
    assert (out / "robots.txt").read_text().endswith("/private/\n") and third != first
    # a changed setting is rebuilt
    fourth = build(Settings(site=site, out=out, cache_dir=tmp_path / "cache", hash_length=16))
    assert len(fourth.assets["css/site.css"].split(".")[1]) == 16


def test_write_failure_in_a_writer_thread_leaves_out_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil as sh

    out = tmp_path / "out"
    build(Settings(site=DEMO, out=out, use_cache=False))
    before = read_tree(out)

    def boom(src: Path, dst: Path, **_kw: object) -> NoReturn:
        raise OSError(5, "Input/output error", str(dst))

    monkeypatch.setattr(sh, "copyfile", boom)
    with pytest.raises(OSError):
        build(Settings(site=DEMO, out=out, use_cache=False, hash_length=16))
    assert read_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_update_mode_rewrites_only_what_changed(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    out = tmp_path / "out"
    first = build(Settings(site=site, out=out, use_cache=False), update=True)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    (site / "robots.txt").write_text("User-agent: *\n")
    (site / "docs/report.pdf").unlink()
    second = build(Settings(site=site, out=out, use_cache=False), update=True)
    now = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    touched = sorted(p.relative_to(out).as_posix() for p in now if mtimes.get(p) != now[p])
    assert touched == [".hashdeploy/manifest.json", "robots.txt"]
    assert not (out / "docs/report.pdf").exists()
    assert second != first
    # the same bytes as a build from scratch
    fresh = tmp_path / "fresh"
    build(Settings(site=site, out=fresh, use_cache=False))
    assert read_tree(out) == read_tree(fresh)


def test_an_interrupted_update_is_redone_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from hashdeploy.engine import write as output

    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    out = tmp_path / "out"
    build(Settings(site=site, out=out, use_cache=False), update=True)
    (site / "robots.txt").write_text("User-agent: *\n")
    calls = {"n": 0}
    real = output._overwrite

    def dies_midway(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            path.write_bytes(data[: len(data) // 2])  # half a file, then the process is gone
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(output, "_overwrite", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        build(Settings(site=site, out=out, use_cache=False), update=True)
    assert not (out / ".hashdeploy/manifest.json").exists()
    monkeypatch.setattr(output, "_overwrite", real)
    build(Settings(site=site, out=out, use_cache=False), update=True)
    fresh = tmp_path / "fresh"
    build(Settings(site=site, out=fresh, use_cache=False))
    assert read_tree(out) == read_tree(fresh)
