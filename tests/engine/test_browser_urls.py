"""URLs are resolved as a browser's URL parser (WHATWG) reads them, and rewritten so that they still work.

In http(s) URLs and relative ones a backslash is a path separator (`img\\logo.png` loads img/logo.png); leading and
trailing C0 controls and spaces are stripped; tabs and newlines anywhere are removed; `.`, `..` and their
percent-encoded spellings (`%2e`, `.%2e`, `%2e%2e`) are dot segments. A reference hashdeploy read differently
would be left unrewritten while its target is renamed and removed: a broken image.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeSite

from hashdeploy.engine import build
from hashdeploy.engine.refs import parse
from hashdeploy.engine.refs.edits import unescape_for, unescaper_for
from hashdeploy.engine.refs.urls import UrlContext, clean_url, resolve, rewrite_url
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
CTX = UrlContext()
DOCS = UrlContext(base_path="/docs/", site_url="https://example.com/docs/")


@pytest.mark.parametrize(
    ("url", "source", "expected"),
    [
        ("img\\logo.png", "index.html", "img/logo.png"),
        ("img\\sub\\logo.png", "index.html", "img/sub/logo.png"),
        ("..\\img\\logo.png", "guide/index.html", "img/logo.png"),
        ("\\img\\logo.png", "deep/er/index.html", "img/logo.png"),
        ("/img\\logo.png", "deep/er/index.html", "img/logo.png"),
        ("img\\logo.png?v=a\\b#x\\y", "index.html", "img/logo.png"),
        (" \x01\x1f img/logo.png \x00\x0c", "index.html", "img/logo.png"),
        ("\x7fimg/logo.png", "index.html", None),  # DEL is not stripped: a different name
        ("im\ng/lo\tgo.png", "index.html", "img/logo.png"),
        ("img/\r\nlogo.png", "index.html", "img/logo.png"),
        ("./img/./logo.png", "index.html", "img/logo.png"),
        ("img/../img/logo.png", "index.html", "img/logo.png"),
        ("img/x/../../img/logo.png", "index.html", "img/logo.png"),
        ("%2e/img/logo.png", "index.html", "img/logo.png"),
        ("img/%2E%2e/img/logo.png", "index.html", "img/logo.png"),
        ("img/.%2e/img/logo.png", "index.html", "img/logo.png"),
        ("img/%2e./img/logo.png", "index.html", "img/logo.png"),
        ("%69mg/%6Cogo.png", "index.html", "img/logo.png"),
        ("img\\%2e%2e\\img\\logo.png", "index.html", "img/logo.png"),
        ("img/", "index.html", "img/index.html"),
        ("img\\", "index.html", "img/index.html"),
        ("img/%2e", "index.html", "img/index.html"),
        ("img/sub/%2e%2e", "index.html", "img/index.html"),
    ],
)
def test_resolve_like_a_browser(url: str, source: str, expected: str | None) -> None:
    key, note = resolve(url, source, CTX)
    if expected is None:
        assert key != "img/logo.png"
    else:
        assert (key, note) == (expected, "")


@pytest.mark.parametrize(
    ("url", "note"),
    [
        ("\\\\cdn.example.org\\x.js", "external"),  # \\host is //host: protocol-relative
        ("/\\cdn.example.org/x.js", "external"),
        ("\\/cdn.example.org/x.js", "external"),
        ("\t//cdn.example.org/x.js", "external"),
        (" https://cdn.example.org/x.js", "external"),
        ("java\nscript:alert(1)", "external"),
        ("..\\..\\..\\etc\\passwd", "outside"),
        ("%2e%2e\\%2e%2e\\etc\\passwd", "outside"),
        ("img%5Ca.png", "outside"),  # an encoded backslash is no separator: no site file has that name
        ("a%2F..%2F..%2Fb.png", "outside"),  # encoded slashes: S3 would take the dots literally
        (" \t\n", "empty"),
        ("\n#top", "fragment"),
    ],
)
def test_resolve_not_local_like_a_browser(url: str, note: str) -> None:
    assert resolve(url, "css/site.css", CTX) == (None, note)


def test_own_origin_with_backslashes() -> None:
    assert resolve("https:\\\\example.com\\docs\\img\\a.png", "x/index.html", DOCS) == ("img/a.png", "")
    assert resolve("\\\\example.com\\docs\\img\\a.png", "x/index.html", DOCS) == ("img/a.png", "")
    assert resolve(" HTTPS://example.com/docs/img/a.png\n", "x/index.html", DOCS) == ("img/a.png", "")


def test_backslashes_in_non_special_schemes_and_queries_stay() -> None:
    assert clean_url("data:text/plain,a\\b") == "data:text/plain,a\\b"
    assert clean_url("mailto:a\\b@example.com") == "mailto:a\\b@example.com"
    assert clean_url("img\\a.png?q=\\x#\\y") == "img/a.png?q=\\x#\\y"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("img\\logo.png", "img/logo.0123abcd.png"),
        ("..\\img\\logo.png", "../img/logo.0123abcd.png"),
        ("img\\logo.png?v=1\\2#a\\b", "img/logo.0123abcd.png?v=1\\2#a\\b"),
        ("im\ng/lo\tgo.png", "img/logo.0123abcd.png"),
        ("img/logo.png\n?v=1", "img/logo.0123abcd.png?v=1"),
        ("  img/logo.png\n", "  img/logo.0123abcd.png\n"),
        ("\x01img/logo.png\x1f", "\x01img/logo.0123abcd.png\x1f"),
        ("./img/../img/logo.png", "./img/../img/logo.0123abcd.png"),
        ("%2e/img/%2E%2E/img/logo.png", "%2e/img/%2E%2E/img/logo.0123abcd.png"),
        ("img/%6Cogo.png", "img/%6Cogo.0123abcd.png"),
        ("img/logo%2Epng", "img/logo.0123abcd.png"),
    ],
)
def test_rewrite_keeps_a_working_url(raw: str, expected: str) -> None:
    new = rewrite_url(raw, "img/logo.png", "img/logo.0123abcd.png")
    assert new == expected
    source = "guide/index.html" if raw.startswith("..") else "index.html"
    assert resolve(raw, source, CTX) == ("img/logo.png", "")
    assert resolve(new, source, CTX) == ("img/logo.0123abcd.png", "")


@pytest.mark.parametrize(
    ("raw", "context", "expected"),
    [
        ("img&#92;logo.png", "img[src]", "img/logo.0123abcd.png"),
        ("img\\logo&period;png", "img[src]", "img/logo.0123abcd&period;png"),
        ("img&#9;&#10;/logo.png", "img[src]", "img/logo.0123abcd.png"),
        ("img\\\\logo.png", "css url()", "img/logo.0123abcd.png"),  # CSS "img\\logo.png" is img\logo.png
        ("img\\5c logo.png", "css url()", "img/logo.0123abcd.png"),
        ("img\\\\/logo.png", "manifest src", "img//logo.0123abcd.png"),
    ],
)
def test_rewrite_through_escapes(raw: str, context: str, expected: str) -> None:
    assert rewrite_url(raw, "img/logo.png", "img/logo.0123abcd.png", unescaper_for(context)) == expected


def test_css_backslash_is_an_escape_not_a_separator() -> None:
    """In CSS `url(img\\logo.png)` is `imglogo.png`: the escape is undone before the URL is parsed."""
    assert resolve(unescape_for("css url()")("img\\logo.png"), "index.html", CTX) == ("imglogo.png", "")
    assert resolve(unescape_for("css url()")("img\\\\logo.png"), "index.html", CTX) == ("img/logo.png", "")


def test_parser_reports_the_whole_attribute_value() -> None:
    page = '<img src=" img\\logo.png\n"><img src="im\tg/logo.png">'
    refs = parse(page.encode(), "html").refs
    assert [r.raw for r in refs] == [" img\\logo.png\n", "im\tg/logo.png"]


def test_build_rewrites_what_the_browser_loads(site: MakeSite, tmp_path: Path) -> None:
    page = ('<link rel="stylesheet" href="css\\site.css">'
            '<img src="img\\logo.png"><img src=" \x01img/logo.png\t"><img src="im\ng/logo.png">'
            '<img src="./img/../img/%6Cogo.png?v=1\\2#x"><img src="img/%2e%2e/img/logo.png">'
            '<img srcset="img\\logo.png 1x, ./img\\logo.png 2x">')
    root = site({"index.html": page, "css/site.css": 'a{background:url("..\\\\img\\\\logo.png")}',
                 "img/logo.png": PNG, "deep/index.html": '<img src="..\\img\\logo.png">'})
    out = tmp_path / "o"
    result = build(Settings(site=root, out=out, strict=True))
    logo, css = result.assets["img/logo.png"], result.assets["css/site.css"]
    assert not (out / "img/logo.png").exists(), "only subresources point at it: no copy stays"
    name = logo.rsplit("/", 1)[1]
    assert (out / "index.html").read_text() == (
        f'<link rel="stylesheet" href="{css}">'
        f'<img src="{logo}"><img src=" \x01{logo}\t"><img src="{logo}">'
        f'<img src="./img/../img/%6Cogo.{name[5:]}?v=1\\2#x"><img src="img/%2e%2e/{logo}">'
        f'<img srcset="{logo} 1x, ./{logo} 2x">')
    assert (out / "deep/index.html").read_text() == f'<img src="../{logo}">'
    assert (out / css).read_text() == f'a{{background:url("../{logo}")}}'
