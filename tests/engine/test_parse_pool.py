"""Parsing in a pool (this process and workers) gives what parsing in this process alone gives."""

from __future__ import annotations

from pathlib import Path

from conftest import MakeSite, read_tree

from hashdeploy.engine import build, cache, parse
from hashdeploy.engine.cache import dump
from hashdeploy.engine.refs import parse as parse_file
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def test_packed_results_unpack_to_the_same_parse(tmp_path: Path) -> None:
    page = ('<base href="/x/"><script src="a.js" integrity="sha384-q"></script><link rel=stylesheet href="s.css">'
            '<img src="i.png" srcset="i.png 1x, j.png 2x" data-src="k.png"><p style="background:url(&quot;b.png&quot;)">')
    parsed = parse_file(page.encode(), "html")
    assert parsed.refs and parsed.mentions and parsed.base_href
    (tmp_path / "p.html").write_text(page, encoding="utf-8")
    [(key, packed, blob)] = parse._parse_batch_packed([("p.html", str(tmp_path / "p.html"), "html")])
    assert key == "p.html" and parse._unpack(packed) == parsed
    assert blob == dump(parsed) and cache._load(blob) == parsed, "the worker's cache bytes are the parent's"


def test_a_pool_build_equals_a_one_process_build(site: MakeSite, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"img/a.png": PNG, "css/s.css": "a{background:url(../img/a.png)}"}
    for i in range(120):  # enough batches for the pool
        files[f"p{i % 7}/page{i}/index.html"] = (f'<link rel="stylesheet" href="../../css/s.css"><img src="/img/a.png" '
                                                 f'alt="page {i}"><a href="../page{i + 1}/">next</a>')
    root = site(files)
    one = build(Settings(site=root, out=tmp_path / "one", jobs=1, use_cache=False))
    pool = build(Settings(site=root, out=tmp_path / "pool", jobs=2, use_cache=False))
    assert one == pool
    assert read_tree(tmp_path / "one") == read_tree(tmp_path / "pool")


def test_a_pool_build_stores_in_the_cache_what_a_one_process_build_stores(site: MakeSite, tmp_path: Path) -> None:
    import sqlite3

    files: dict[str, str | bytes] = {"css/s.css": "a{background:url(../img/a.png)}", "img/a.png": PNG}
    for i in range(150):
        files[f"p/{i}.html"] = f'<link rel="stylesheet" href="../css/s.css"><img src="../img/a.png" alt="{i}">{i}'
    root = site(files)

    def stored(jobs: int) -> dict[tuple[str, str], bytes]:
        directory = tmp_path / f"cache-{jobs}"
        parse._PARSED.clear()
        build(Settings(site=root, out=tmp_path / f"out-{jobs}", jobs=jobs, cache_dir=directory))
        with sqlite3.connect(cache.db_path(directory)) as db:
            rows = {(sha, kind): bytes(blob) for sha, kind, blob in db.execute("SELECT sha, kind, blob FROM parsed")}
        db.close()
        return rows

    one, pool = stored(1), stored(2)
    assert len(one) == 151 and one == pool
