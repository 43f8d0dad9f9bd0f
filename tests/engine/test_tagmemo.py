"""The memo of distinct tags gives exactly what parsing each page whole gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeSite

from hashdeploy.engine import build
from hashdeploy.engine.refs import _html_mentions, tagmemo
from hashdeploy.engine.refs import html as refs_html
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

# The same tags in different places: context that changes what a tag means must not leak through the memo.
PAGES = [
    '<link rel="stylesheet" href="css/s.css"><link rel=icon href=img/a.png><img src="img/a.png">',
    '<base href="sub/"><link rel="stylesheet" href="css/s.css"><img src="img/a.png">',
    '<base href="/other/"><img src="img/a.png"><base href="ignored/">',
    '<link rel="manifest" href="img/a.png"><link rel="preload" href="img/a.png"><link rel="next" href="img/a.png">',
    '<meta property="og:image" content="img/a.png"><meta name="description" content="img/a.png">',
    '<input type="image" src="img/a.png"><input type="IMAGE" src="img/a.png"><input src="img/a.png">',
    '<img src="img/a&#46;png" srcset="img/a.png 1x, img/b&amp;c.png 2x"><img SRC="img/a.png" src="img/b.png">',
    '<div style="background:url(&quot;img/a.png&quot;)"><img src="img/a.png" style="x:url(img/b.png)">',
    '<script src="app.js" integrity="sha256-a sha512-b"></script><script src="app.js"></script >',
    '<script src="app.js"><img src="img/a.png"></script><img src="img/a.png">',
    "<style>p{background:url(img/a.png)}</style><style media=x>\nq{background:url('img/b.png')}</style>",
    '<style>p{background:url(img/a.png)}',  # a <style> left open runs to the end of the page
    '<textarea style="c:d"><img src="img/a.png"></textarea><title style="e:f">t</title><img src="img/b.png">',
    "<img alt=a'> <img src='img/b.png'><img a=b'c d='e src=\"img/a.png\">",  # tags the lexers read differently
    '<img\xa0src="img/a.png"><img src="img/a.png"\x0b><img src="img/a.png">',
    '<img\nsrc="img/a.png"\n\n>\r\n<img src="img/a.png"><svg><use xlink:href="i.svg#a"/><image href="j.png"/></svg>',
    '<a href="doc.pdf">d</a><a href="page/">p</a><area href="img/a.png"><iframe src="f.pdf"></iframe>',
    '<img src="img/a.png" data-src="img/b.png" alt="see img/c.png"><img title="a > b" data-x="d.png" src="e.png">',
]


@pytest.mark.parametrize("warm", [False, True])
def test_memo_gives_what_the_whole_page_parse_gives(warm: bool) -> None:
    tagmemo._MEMO.clear()
    if warm:  # every tag already seen on other pages, in other contexts
        for page in PAGES:
            tagmemo.page_refs(page)
    for page in PAGES + [p.replace("\n", "\n\n") for p in PAGES]:
        fast = tagmemo.page_refs(page)
        assert fast == refs_html.html_refs(page), page
        spans = [(s, e) for s, e, *_ in fast[0]]
        assert _html_mentions(page, spans) == _html_mentions(page, [(s, e) for s, e, *_ in refs_html.html_refs(page)[0]])


def test_pages_in_different_directories_resolve_the_same_tag_each_their_own_way(site: MakeSite, tmp_path: Path) -> None:
    tag = '<img src="a.png"><link rel="stylesheet" href="../s.css">'
    root = site({"x/index.html": tag, "x/y/index.html": tag, "x/a.png": PNG, "x/y/a.png": PNG + b"y", "s.css": "a{}",
                 "x/s.css": "b{}", "b/index.html": '<base href="/x/y/">' + tag})
    result = build(Settings(site=root, out=tmp_path / "o"))
    names = {k: v.rpartition("/")[2] for k, v in result.assets.items()}
    assert names["x/a.png"] != names["x/y/a.png"] and names["s.css"] != names["x/s.css"]
    x, xy, b = ((tmp_path / "o" / k / "index.html").read_text() for k in ("x", "x/y", "b"))
    assert f'src="{names["x/a.png"]}"' in x and f'href="../{names["s.css"]}"' in x
    assert f'src="{names["x/y/a.png"]}"' in xy and f'href="../{names["x/s.css"]}"' in xy
    assert f'src="{names["x/y/a.png"]}"' in b and f'href="../{names["x/s.css"]}"' in b


def test_a_full_memo_still_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tagmemo, "_MEMO_LIMIT", 0)
    tagmemo._MEMO.clear()
    for page in PAGES:
        assert tagmemo.page_refs(page) == refs_html.html_refs(page)


ROOT = Path(__file__).resolve().parents[2]
REAL_PAGES = sorted([*(ROOT / "fixtures" / "demo-site").rglob("*.html"),
                     *(ROOT / "fixtures" / "starters").glob("*/site/**/*.html"),
                     *(ROOT / "fixtures" / "sites").glob("*/dist/**/*.html")])


def _learned(text: str) -> dict[str, tagmemo.Info | None]:
    """The memo entries a parse from an empty memo makes for this page's tags."""
    from hashdeploy.engine.refs.mask import kept_units

    tagmemo._MEMO.clear()
    tagmemo.page_refs(text)
    return {text[u[0] : u[1]]: tagmemo._MEMO.get(text[u[0] : u[1]]) for u in kept_units(text)}


@pytest.mark.parametrize("page", [*PAGES, *(p.relative_to(ROOT).as_posix() for p in REAL_PAGES)])
def test_tags_remembered_from_a_parse_are_what_parsing_them_learns(page: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hashdeploy.engine.refs import parse

    monkeypatch.setattr(tagmemo, "_MEMO", {})
    text = (ROOT / page).read_text(encoding="utf-8") if page.endswith(".html") else page
    learned = _learned(text)
    parsed = parse(text.encode(), "html")
    tagmemo._MEMO.clear()
    if not tagmemo.remember_page(text, parsed.refs, parsed.base_href):
        assert tagmemo._MEMO == {}, "a page it cannot read from its parse adds nothing"
        assert None in learned.values() or text.count("<base") > 1 or not learned or page in PAGES, page
        return
    assert tagmemo._MEMO == learned
    # an edit of the text between the tags parses from the memo alone, to what a parse from nothing gives
    edited = text.replace("</body>", "<p>more</p>\n</body>") if "</body>" in text else "\n\n" + text + "\n<!-- x -->"
    monkeypatch.setattr(tagmemo, "_learn", lambda *_: pytest.fail("a remembered tag was parsed again"))
    assert parse(edited.encode(), "html") == _fresh_parse(edited, monkeypatch)


def _fresh_parse(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    from hashdeploy.engine.refs import parse

    monkeypatch.undo()
    monkeypatch.setattr(tagmemo, "_MEMO", {})
    return parse(text.encode(), "html")


def test_real_pages_are_remembered() -> None:
    from hashdeploy.engine.refs import parse

    assert len(REAL_PAGES) > 20
    remembered = 0
    for path in REAL_PAGES:
        text = path.read_text(encoding="utf-8")
        parsed = parse(text.encode(), "html")
        remembered += tagmemo.remember_page(text, parsed.refs, parsed.base_href)
    assert remembered >= len(REAL_PAGES) // 2
