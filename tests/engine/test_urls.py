from __future__ import annotations

import pytest

from hashdeploy.engine.refs.urls import UrlContext, resolve, rewrite_url

CTX = UrlContext()
DOCS = UrlContext(base_path="/docs/", site_url="https://example.com/docs/")


@pytest.mark.parametrize(
    ("url", "source", "expected"),
    [
        ("img/a.png", "index.html", "img/a.png"),
        ("../img/a.png", "css/site.css", "img/a.png"),
        ("./a.png", "img/x.css", "img/a.png"),
        ("/img/a.png", "deep/page/index.html", "img/a.png"),
        ("my%20file.css", "index.html", "my file.css"),
        ("caf%C3%A9.png", "index.html", "café.png"),
        ("café.png", "index.html", "café.png"),
        ("font.eot?#iefix", "css/a.css", "css/font.eot"),
        ("icons.svg#home", "index.html", "icons.svg"),
        ("app.css?v=3", "index.html", "app.css"),
        ("  img/a.png\n", "index.html", "img/a.png"),
        ("about/", "index.html", "about/index.html"),
        ("/", "about/index.html", "index.html"),
    ],
)
def test_resolve_local(url: str, source: str, expected: str) -> None:
    assert resolve(url, source, CTX) == (expected, "")


@pytest.mark.parametrize(
    ("url", "note"),
    [
        ("https://cdn.example.org/x.js", "external"),
        ("//cdn.example.org/x.js", "external"),
        ("data:image/png;base64,AAAA", "external"),
        ("mailto:a@b.c", "external"),
        ("javascript:void(0)", "external"),
        ("blob:https://x/y", "external"),
        ("#top", "fragment"),
        ("", "empty"),
        ("../../etc/passwd", "outside"),
        ("%2e%2e/%2e%2e/etc/passwd", "outside"),
        ("..%2F..%2Fetc/passwd", "outside"),
        ("?v=1", "self"),
    ],
)
def test_resolve_not_local(url: str, note: str) -> None:
    assert resolve(url, "css/site.css", CTX) == (None, note)


def test_base_path_and_site_url() -> None:
    assert resolve("/docs/img/a.png", "index.html", DOCS) == ("img/a.png", "")
    assert resolve("/other/a.png", "index.html", DOCS) == (None, "outside-base")
    assert resolve("https://example.com/docs/img/a.png", "x/index.html", DOCS) == ("img/a.png", "")
    assert resolve("HTTPS://EXAMPLE.COM/docs/img/a.png", "x/index.html", DOCS) == ("img/a.png", "")
    assert resolve("//example.com/docs/img/a.png", "x/index.html", DOCS) == ("img/a.png", "")
    assert resolve("https://example.org/docs/img/a.png", "x/index.html", DOCS) == (None, "external")


def test_base_dir_overrides_source_directory() -> None:
    assert resolve("img/a.png", "deep/page.html", CTX, base_dir="") == ("img/a.png", "")


@pytest.mark.parametrize(
    ("raw", "old", "new", "expected"),
    [
        ("css/site.css", "css/site.css", "css/site.abc.css", "css/site.abc.css"),
        ("../fonts/f.eot?#iefix", "fonts/f.eot", "fonts/f.abc.eot", "../fonts/f.abc.eot?#iefix"),
        ("icons.svg#home", "icons.svg", "icons.abc.svg", "icons.abc.svg#home"),
        ("my%20file.css", "my file.css", "my file.abc.css", "my%20file.abc.css"),
        ("caf%C3%A9.png", "café.png", "café.abc.png", "caf%C3%A9.abc.png"),
        ("app.js.map", "app.js.map", "app.abc.js.map", "app.abc.js.map"),
        ("LICENSE", "LICENSE", "LICENSE.abc", "LICENSE.abc"),
        ("a%2Bb.png", "a+b.png", "a+b.abc.png", "a%2Bb.abc.png"),
        ("100%25.png", "100%.png", "100%.abc.png", "100%25.abc.png"),
    ],
)
def test_rewrite_url_keeps_everything_but_the_name(raw: str, old: str, new: str, expected: str) -> None:
    assert rewrite_url(raw, old, new) == expected
