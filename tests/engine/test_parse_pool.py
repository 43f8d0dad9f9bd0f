"""Parsing in a pool (this process and workers) gives what parsing in this process alone gives."""

from __future__ import annotations

from pathlib import Path

from conftest import MakeSite, read_tree

from hashdeploy.engine import build, parse
from hashdeploy.engine.refs import parse as parse_file
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def test_packed_results_unpack_to_the_same_parse(tmp_path: Path) -> None:
    page = ('<base href="/x/"><script src="a.js" integrity="sha384-q"></script><link rel=stylesheet href="s.css">'
            '<img src="i.png" srcset="i.png 1x, j.png 2x" data-src="k.png"><p style="background:url(&quot;b.png&quot;)">')
    parsed = parse_file(page.encode(), "html")
    assert parsed.refs and parsed.mentions and parsed.base_href
    (tmp_path / "p.html").write_text(page, encoding="utf-8")
    [(key, packed)] = parse._parse_batch_packed([("p.html", str(tmp_path / "p.html"), "html")])
    assert key == "p.html" and parse._unpack(packed) == parsed


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
