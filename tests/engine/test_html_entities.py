"""Character references in HTML attributes: decoded before the URL is resolved, kept as written when it is patched.

React and Next.js write inline styles as `style="background:url(&quot;/img/a.png&quot;)"`; templates escape `/`
and `'` in URLs (`&#47;`, `&#x27;`). The browser decodes them before it parses the URL; hashdeploy must too, or
it leaves a reference to the original name while that file is renamed and removed.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import MakeSite

from hashdeploy.engine import build
from hashdeploy.engine.refs import parse
from hashdeploy.engine.refs.edits import unescape_for, unescaper_for
from hashdeploy.engine.refs.unescape import html_attr_unescape
from hashdeploy.engine.refs.urls import rewrite_url
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
QUOTES = ["&quot;", "&#34;", "&#x22;", "&#X22;", "&QUOT;", "&#39;", "&#x27;", "&apos;", "&#0039;"]


def _urls(page: str) -> list[str]:
    """The URLs the parser found, unescaped as they are resolved."""
    return [unescape_for(r.context)(r.raw) for r in parse(page.encode(), "html").refs]


@pytest.mark.parametrize("q", QUOTES)
def test_style_attribute_quotes_written_as_references(q: str) -> None:
    page = f'<div style="background: url({q}img/a.png{q}) no-repeat, url({q}/img/b.png?v=1{q})"></div>'
    assert _urls(page) == ["img/a.png", "/img/b.png?v=1"]


@pytest.mark.parametrize(
    ("attr_value", "url"),
    [
        ("img&#47;a.png", "img/a.png"),
        ("img&#x2F;a.png", "img/a.png"),
        ("img&#x2f;a.png", "img/a.png"),
        ("img&sol;a.png", "img/a.png"),
        ("img/a&period;png", "img/a.png"),
        ("img/a&#46;png", "img/a.png"),
        ("img/a&amp;b.png", "img/a&b.png"),
        ("img/a&ampb.png", "img/a&ampb.png"),  # a legacy name followed by a letter stays as written
        ("img/caf&eacute;.png", "img/café.png"),
        ("img/a.png?x=1&copy=2", "img/a.png?x=1&copy=2"),  # not ©=2: `=` follows the legacy name
        ("img/a.png?x=1&amp;y=2", "img/a.png?x=1&y=2"),
    ],
)
@pytest.mark.parametrize("tag", ['<img src="{}">', '<video poster="{}"></video>', '<link rel="stylesheet" href="{}">',
                                 "<img src='{}'>", "<img src={}>"])
def test_references_in_url_attributes(attr_value: str, url: str, tag: str) -> None:
    assert _urls(tag.format(attr_value)) == [url]


def test_srcset_split_after_decoding() -> None:
    page = '<img srcset="img&#47;a.png 1x&#44; img/b&period;png 2x,img/c.png&#32;3x">'
    assert _urls(page) == ["img/a.png", "img/b.png", "img/c.png"]


def test_style_with_entities_inside_the_url_and_css_escapes() -> None:
    page = '<p style="background:url(&quot;img&#47;a\\2e png&quot;)">'
    assert _urls(page) == ["img/a.png"]


def test_unescape_map_points_into_the_raw_text() -> None:
    raw = "a&amp;b&#x2F;c&eacute;&NotEqualTilde;d"
    value, starts = html_attr_unescape(raw)
    assert value == html.unescape(raw)
    assert len(starts) == len(value) + 1 and starts[-1] == len(raw)
    pieces = [raw[starts[i] : starts[i + 1]] for i in range(len(value))]
    assert "".join(pieces) == raw
    assert pieces == ["a", "&amp;", "b", "&#x2F;", "c", "&eacute;", "&NotEqualTilde;", "", "d"]


@pytest.mark.parametrize(
    ("raw", "context", "expected"),
    [
        ("img&#47;a.png", "img[src]", "img&#47;a.0123abcd.png"),
        ("img&sol;a&period;png", "img[src]", "img&sol;a.0123abcd&period;png"),
        ("img/a&amp;b.png", "img[src]", "img/a&amp;b.0123abcd.png"),
        ("img/caf&eacute;.png?v=1&amp;w=2", "img[src]", "img/caf&eacute;.0123abcd.png?v=1&amp;w=2"),
        ("img/a&period;png", "style attribute", "img/a.0123abcd&period;png"),
        ("img\\2f a.png", "css url()", "img\\2f a.0123abcd.png"),
        ("img&#47;a\\2e png", "style attribute", "img&#47;a.0123abcd\\2e png"),
    ],
)
def test_rewrite_keeps_the_pages_escapes(raw: str, context: str, expected: str) -> None:
    value = unescape_for(context)(raw)
    old = "img/" + re.sub(r"[?#].*", "", value).rsplit("/", 1)[-1]
    new = old.rsplit(".", 1)[0] + ".0123abcd." + old.rsplit(".", 1)[1]
    assert rewrite_url(raw, old, new, unescaper_for(context)) == expected


def _assert_every_subresource_exists(out: Path, page: str) -> list[str]:
    """Decode the output page as a browser would (BeautifulSoup decodes attribute values) and check each URL."""
    soup = BeautifulSoup((out / page).read_text(encoding="utf-8"), "html.parser")
    found = []
    for tag in soup.find_all(True):
        urls = [str(tag[a]) for a in ("src", "poster") if tag.has_attr(a)]
        if tag.name == "link" and tag.has_attr("href"):
            urls.append(str(tag["href"]))
        if tag.has_attr("srcset"):
            urls += [c.split()[0] for c in str(tag["srcset"]).split(",") if c.strip()]
        if tag.has_attr("style"):
            urls += [m.group(2) for m in re.finditer(r"""url\((['"]?)(.*?)\1\)""", str(tag["style"]))]
        for url in urls:
            path = url.split("?", 1)[0].split("#", 1)[0]
            assert (out / path).is_file(), f"{page}: {url} does not exist in the output"
            found.append(path)
    return found


@pytest.mark.parametrize("q", QUOTES)
def test_inline_style_image_is_rewritten_with_its_renamed_file(site: MakeSite, tmp_path: Path, q: str) -> None:
    """The image is renamed (a stylesheet and an <img> load it) and its original removed: the style must follow."""
    page = (f'<link rel="stylesheet" href="css/site.css"><img src="img/a.png">'
            f'<div style="background-image: url({q}img/a.png{q})">hero</div>')
    root = site({"index.html": page, "css/site.css": "a{background:url(../img/a.png)}", "img/a.png": PNG})
    out = tmp_path / "o"
    result = build(Settings(site=root, out=out, strict=True))
    new = result.assets["img/a.png"]
    assert not (out / "img/a.png").exists()
    assert (out / "index.html").read_text() == page.replace("img/a.png", new).replace("css/site.css",
                                                                                      result.assets["css/site.css"])
    assert len(_assert_every_subresource_exists(out, "index.html")) == 3


def test_every_attribute_with_references_is_rewritten_in_its_own_style(site: MakeSite, tmp_path: Path) -> None:
    page = ('<link rel="stylesheet" href="css&#47;site.css">'
            '<img src="img&sol;a&period;png" srcset="img&#x2F;a.png 1x&#44; img/b.png 2x">'
            '<video src="media/v&#46;mp4" poster="img/p&amp;q.png"></video>'
            "<p style='background:url(&#39;img/b.png&#39;)'>x</p>"
            '<img src="img/caf&eacute;.png">')
    root = site({"index.html": page, "css/site.css": "a{}", "img/a.png": PNG + b"a", "img/b.png": PNG + b"b",
                 "media/v.mp4": b"mp4", "img/p&q.png": PNG + b"pq", "img/café.png": PNG + b"cafe"})
    out = tmp_path / "o"
    result = build(Settings(site=root, out=out, strict=True))
    assert set(result.assets) == {"css/site.css", "img/a.png", "img/b.png", "media/v.mp4", "img/p&q.png", "img/café.png"}
    assert len(_assert_every_subresource_exists(out, "index.html")) == 8
    text = (out / "index.html").read_text()

    def h(key: str) -> str:
        m = re.search(r"\.([0-9a-f]{12})\.", result.assets[key])
        assert m is not None
        return m.group(1)

    assert text == (f'<link rel="stylesheet" href="css&#47;site.{h("css/site.css")}.css">'
                    f'<img src="img&sol;a.{h("img/a.png")}&period;png" srcset="img&#x2F;a.{h("img/a.png")}.png 1x&#44; '
                    f'img/b.{h("img/b.png")}.png 2x">'
                    f'<video src="media/v.{h("media/v.mp4")}&#46;mp4" poster="img/p&amp;q.{h("img/p&q.png")}.png"></video>'
                    f"<p style='background:url(&#39;img/b.{h('img/b.png')}.png&#39;)'>x</p>"
                    f'<img src="img/caf&eacute;.{h("img/café.png")}.png">')


def test_a_link_written_with_entities_keeps_its_target(site: MakeSite, tmp_path: Path) -> None:
    """<a href="img&#47;a&period;png"> is a link to the image: it must stay at its URL beside the hashed copy."""
    root = site({"index.html": '<img src="img/a.png"><a href="img&#47;a&period;png">full size</a>', "img/a.png": PNG})
    out = tmp_path / "o"
    result = build(Settings(site=root, out=out))
    assert (out / "img/a.png").is_file() and (out / result.assets["img/a.png"]).is_file()
