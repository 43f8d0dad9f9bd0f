from __future__ import annotations

import codecs

import pytest

from hashdeploy.engine.refs import decode, encode, parse
from hashdeploy.engine.refs.css import css_urls
from hashdeploy.engine.refs.js import js_scan
from hashdeploy.model import RefKind


def urls(data: str | bytes, kind: str) -> list[tuple[str, str, str]]:
    raw = data.encode() if isinstance(data, str) else data
    p = parse(raw, kind)
    return [(r.raw, r.kind.value, r.context) for r in p.refs]


def test_html_every_subresource_kind() -> None:
    page = """<!doctype html><html><head>
<link rel="stylesheet" href="a.css"><link rel="icon" href="i.png"><link rel="apple-touch-icon" href="t.png">
<link rel="preload" href="f.woff2" as="font"><link rel="modulepreload" href="m.js"><link rel="manifest" href="s.webmanifest">
<link rel="preload" as="image" imagesrcset="p1.png 1x, p2.png 2x">
<link rel="canonical" href="https://example.com/">
<meta property="og:image" content="/og.png"><meta name="twitter:image" content="tw.png">
<meta name="msapplication-TileImage" content="tile.png"><meta name="description" content="x.png">
<script src="s.js"></script><style>body{background:url(bg.png)}</style>
</head><body style="background:url('b2.png')">
<img src="i1.png" srcset="i1.png 1x, i2.png 2x"><picture><source srcset="w.webp" type="image/webp"></picture>
<video src="v.mp4" poster="poster.jpg"><track src="sub.vtt"></video><audio src="a.mp3"></audio>
<embed src="e.swf"><object data="o.svg"></object><input type="image" src="btn.png"><input type="text" src="no.png">
<svg><image href="si.png"/><use xlink:href="sprite.svg#x"/></svg>
<a href="doc.pdf">doc</a><iframe src="frame.html"></iframe><form action="/search"></form>
</body></html>"""
    found = urls(page, "html")
    subs = [u for u, k, _ in found if k == "subresource"]
    navs = [u for u, k, _ in found if k == "navigation"]
    assert subs == ["a.css", "i.png", "t.png", "f.woff2", "m.js", "s.webmanifest", "p1.png", "p2.png", "/og.png",
                    "tw.png", "tile.png", "s.js", "bg.png", "b2.png", "i1.png", "i1.png", "i2.png", "w.webp", "v.mp4",
                    "poster.jpg", "sub.vtt", "a.mp3", "e.swf", "o.svg", "btn.png", "si.png", "sprite.svg#x"]
    assert navs == ["https://example.com/", "doc.pdf", "frame.html", "/search"]


def test_html_spans_are_exact_raw_bytes() -> None:
    page = "<p>\r\n<img   SRC = 'a&amp;b.png'  alt=x>\n<img src=plain.png>\n</p>"
    p = parse(page.encode(), "html")
    text = page
    assert [text[r.start : r.end] for r in p.refs] == ["a&amp;b.png", "plain.png"]
    assert [r.line for r in p.refs] == [2, 3]


def test_html_references_in_comments_and_scripts_are_not_refs() -> None:
    page = '<!-- <img src="c.png"> --><script>var s = \'<img src="d.png">\';</script><p>img src="e.png"</p>'
    assert urls(page, "html") == []


def test_html_base_href_is_reported() -> None:
    assert parse(b'<base href="/docs/"><img src="a.png">', "html").base_href == "/docs/"


def test_truncated_and_broken_html_does_not_crash() -> None:
    for page in [b"<html><head><link rel=stylesheet href=", b"<img src='a.png", b"<<<>>><img src=a.png><", b"\xff\xfe\x00"]:
        parse(page, "html")


def test_css_forms() -> None:
    css = """@import "a.css"; @import url(b.css); @import 'c.css' screen;
/* url(no.png) @import "no.css"; */
.a { background: url(d.png), url("e.png"), url('f.png'), url( g.png ); }
.b { content: "url(no2.png)"; background: image-set("h.png" 1x, url(i.png) 2x); }
.c { background: -webkit-image-set('j.png' 1x); }
@font-face { src: url(k.eot?#iefix) format("embedded-opentype"), url(data:font/woff;base64,AAA=) format("woff"); }
/*# sourceMappingURL=site.css.map */"""
    found = [css[s:e] for s, e, _ in css_urls(css)]
    assert found == ["a.css", "b.css", "c.css", "d.png", "e.png", "f.png", "g.png", "h.png", "i.png", "j.png",
                     "k.eot?#iefix", "data:font/woff;base64,AAA=", "site.css.map"]


def test_css_escaped_url() -> None:
    css = r".a{background:url(my\ file.png)}"
    (s, e, _), = css_urls(css)
    assert css[s:e] == r"my\ file.png"


def test_js_imports_and_strings() -> None:
    js = """import a from './a.js';
import {b} from "../b.js";
import './side.js';
export * from './re.js';
export { c } from "./c.mjs";
const d = await import('./d.js');
const e = import(`./e-${x}.js`);
import React from 'react';
// import x from './commented.js';
/* import y from './block.js'; */
const s = "./not-import.js";
const r = /from '.\\/re.js'/g;
const t = x / 2 / from;
//# sourceMappingURL=app.js.map
"""
    refs, strings = js_scan(js)
    assert [js[s:e] for s, e, _ in refs] == ["./a.js", "../b.js", "./side.js", "./re.js", "./c.mjs", "./d.js",
                                            "app.js.map"]
    texts = [js[s:e] for s, e in strings]
    # a template literal's strings are its fragments: `${x}` is code, not part of a name
    assert "./not-import.js" in texts and "./e-" in texts and ".js" in texts and "react" in texts
    assert not any("commented" in t or "block" in t for t in texts)


def test_js_mentions_pin_names_in_strings() -> None:
    p = parse(b'navigator.serviceWorker.register("/sw.js"); const img = "img/logo.png";', "js")
    assert set(p.mentions) == {"/sw.js", "img/logo.png"}


def test_manifest_icons() -> None:
    data = b'{"icons": [{"src": "i\\/a.png", "sizes": "1x1"}, {"src": "b.png"}], "start_url": "/"}'
    p = parse(data, "manifest")
    assert [(r.raw, r.kind) for r in p.refs] == [("i\\/a.png", RefKind.SUB), ("b.png", RefKind.SUB)]


@pytest.mark.parametrize(
    "data",
    [
        "<meta charset='windows-1252'><p>caf\xe9</p><img src='a.png'>".encode("cp1252"),
        codecs.BOM_UTF8 + "<p>\u2603</p><img src='a.png'>".encode(),
        codecs.BOM_UTF16_LE + "<p>\u2603</p><img src='a.png'>".encode("utf-16-le"),
        b"<p>\x80\x81\xfe invalid utf-8</p><img src='a.png'>",
        "<meta charset=shift_jis><p>\u65e5\u672c</p><img src='a.png'>".encode("shift_jis"),
    ],
)
def test_decoding_round_trips_every_byte(data: bytes) -> None:
    text, codec, bom, _warnings = decode(data, "html")
    assert encode(text, codec, data[:bom]) == data
    assert [r.raw for r in parse(data, "html").refs] == ["a.png"]


TRICKY_PAGES = [
    '<div title="<img src=fake.png>"><img src="real.png"></div>',
    "<!-- <img src=c.png> --><p class='a>b'>x</p><img src=d.png>",
    "<script>if (a<b) document.write('<img src=e.png>')</script><img src=f.png>",
    "<style>p{background:url(g.png)}</style><p\nclass=x\nstyle='background:url(h.png)'>y</p>",
    "<p>unterminated <b class=\"x>\n<img src=i.png>",
    "<!-- unclosed comment <img src=j.png>",
    "<!DOCTYPE html><?xml version='1.0'?><![CDATA[ <img src=k.png> ]]><img src=l.png>",
    "<svg><use xlink:href='#a'/><image href='m.png'/></svg><a href='n.pdf'><span style='x:url(o.png)'>z</span></a>",
    "<a\nhref='report.pdf'\n>r</a><a href='page/'>p</a><a href=\"x.html\">x</a><script>\nvar a = '<img src=p.png>';\n</script>",
]


@pytest.mark.parametrize("page", TRICKY_PAGES)
def test_masking_changes_no_result(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from hashdeploy.engine.refs import html as refs_html

    masked, starts, origins = refs_html.mask_irrelevant(page)
    assert len(masked) < len(page) and all(page.startswith(masked[s:s + 4], o) for s, o in zip(starts, origins, strict=False))
    fast = refs_html.html_refs(page)
    monkeypatch.setattr(refs_html, "mask_irrelevant", lambda text: (text, [0], [0]))
    spans, base, warnings = refs_html.html_refs(page)
    # the only difference allowed: links to pages, which the masked parse never sees
    spans = [s for s in spans if not (s[3] == "a[href]" and page[s[0]:s[1]].split("#")[0].endswith(("/", ".html")))]
    assert (spans, base, warnings) == fast


def test_links_to_pages_are_not_reported_links_to_files_are() -> None:
    found = urls('<a href="guide/">g</a><a href="x.html#top">x</a><a href="files/report.pdf">r</a>'
                 '<a href="https://example.com/">e</a><a href="data.csv?download=1">d</a>', "html")
    assert found == [("files/report.pdf", "navigation", "a[href]"), ("data.csv?download=1", "navigation", "a[href]")]
