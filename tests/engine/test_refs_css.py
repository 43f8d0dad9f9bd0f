"""The stylesheet scanner on tinycss2: every URL form CSS Syntax Level 3 allows, and nothing else."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from types import ModuleType

import pytest
import tinycss2

from hashdeploy.engine.refs import css as refs_css

IMPLS = [pytest.param(refs_css, id="tinycss2")]

Found = list[tuple[str, str]]


def found(mod: ModuleType, css: str, offset: int = 0) -> Found:
    """(raw text, context) of every span; checks the spans are in order, inside the text and shifted by `offset`."""
    pad = "\x00" * offset  # whatever stands before the CSS in the caller's text
    out: Found = []
    last = -1
    for s, e, ctx in mod.css_urls(css, offset):
        assert offset <= s < e <= offset + len(css) and s >= last
        last = e
        out.append(((pad + css)[s:e], ctx))
    return out


def raws(mod: ModuleType, css: str) -> list[str]:
    return [raw for raw, _ in found(mod, css)]


def tinycss2_values(css: str) -> set[str]:
    """Every URL token value and string value tinycss2 sees in `css` (itself preprocessing it): an oracle for css_unescape."""
    out: set[str] = set()
    todo = [tinycss2.parse_component_value_list(css)]
    while todo:
        for node in todo.pop():
            if node.type in ("url", "string"):
                out.add(node.value)
            elif node.type == "function":
                todo.append(node.arguments)
            elif node.type.endswith("block"):
                todo.append(node.content)
    return out


# ---------------------------------------------------------------- quoting forms


@pytest.mark.parametrize("mod", IMPLS)
def test_url_quoting_forms(mod: ModuleType) -> None:
    css = """.a { background: url(a.png); }
.b { background: url("b.png"); }
.c { background: url('c.png'); }
.d { background: url( d.png ); }
.e { background: url(  "e.png"  ); }
.f { background: url(
  'f.png'
); }
.g { background: url(\t g.png\t); }"""
    assert found(mod, css) == [(n + ".png", "css url()") for n in "abcdefg"]


@pytest.mark.parametrize("mod", IMPLS)
def test_url_function_name_is_ascii_case_insensitive(mod: ModuleType) -> None:
    assert raws(mod, ".a{background:URL(a.png)} .b{background:Url('b.png')} .c{background:uRl( \"c.png\" )}") == [
        "a.png", "b.png", "c.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_import_forms(mod: ModuleType) -> None:
    css = """@import "a.css";
@import 'b.css' screen;
@import"c.css";
@IMPORT "d.css";
@import url(e.css);
@import url("f.css") print;
@import /* comment */ "g.css";"""
    assert found(mod, css) == [("a.css", "css @import"), ("b.css", "css @import"), ("c.css", "css @import"),
                               ("d.css", "css @import"), ("e.css", "css url()"), ("f.css", "css url()"),
                               ("g.css", "css @import")]


@pytest.mark.parametrize("mod", IMPLS)
def test_empty_urls_are_not_yielded(mod: ModuleType) -> None:
    assert found(mod, '.a{background:url()} .b{background:url("")} @import "";') == []


@pytest.mark.parametrize("mod", IMPLS)
def test_import_with_layer_and_supports(mod: ModuleType) -> None:
    css = """@import url(a.css) layer(base) supports(display: grid) screen and (min-width: 40em);
@import "b.css" layer(x) supports(selector(:has(a)));
@import url("c.css") layer;
@import 'd.css' supports(content: "no.png");"""
    assert found(mod, css) == [("a.css", "css url()"), ("b.css", "css @import"), ("c.css", "css url()"),
                               ("d.css", "css @import")]


@pytest.mark.parametrize("mod", IMPLS)
def test_import_needs_a_string_right_after_it(mod: ModuleType) -> None:
    assert raws(mod, '@import foo "no.css"; @importx "no2.css"; @media print { a { content: "no3.css" } }') == []


@pytest.mark.parametrize("mod", IMPLS)
def test_namespace_urls_are_names_not_fetches(mod: ModuleType) -> None:
    css = '@namespace svg url(http://www.w3.org/2000/svg); @namespace url("ns.xml");\n.a { background: url(a.png) }'
    assert raws(mod, css) == ["a.png"]


# ---------------------------------------------------------------- image-set()


@pytest.mark.parametrize("mod", IMPLS)
def test_image_set_with_type(mod: ModuleType) -> None:
    css = '.a { background-image: image-set("a.avif" type("image/avif"), "a.jpg" type("image/jpeg")); }'
    assert found(mod, css) == [("a.avif", "css image-set()"), ("a.jpg", "css image-set()")]


@pytest.mark.parametrize("mod", IMPLS)
def test_image_set_forms(mod: ModuleType) -> None:
    css = """.a { background: -webkit-image-set(url(a.png) 1x, "b.png" 2x); }
.b { background: IMAGE-SET('c.png' 1x, url("d.png") 2x); }
.c { background: linear-gradient(red, blue), image-set("e.png" 1x); }
.d { background: image-set("f).png" 1x, "g.png" 2x); }"""
    assert found(mod, css) == [("a.png", "css url()"), ("b.png", "css image-set()"), ("c.png", "css image-set()"),
                               ("d.png", "css url()"), ("e.png", "css image-set()"), ("f).png", "css image-set()"),
                               ("g.png", "css image-set()")]


@pytest.mark.parametrize("mod", IMPLS)
def test_image_set_nested_in_functions(mod: ModuleType) -> None:
    css = """.a { background: cross-fade(image-set("a.png" 1x, "b.png" 2x) 30%, url(c.png)); }
.b { --img: image-set(image-set("d.png" 1x) 1x); }
.c { background: image-set(calc(1) "e.png" 1x); }"""
    assert raws(mod, css) == ["a.png", "b.png", "c.png", "d.png", "e.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_strings_after_image_set_are_not_urls(mod: ModuleType) -> None:
    css = '.a { background: image-set("a.png" 1x); content: "no.png"; font-family: "No Font"; }'
    assert raws(mod, css) == ["a.png"]


# ---------------------------------------------------------------- url() inside other functions


@pytest.mark.parametrize("mod", IMPLS)
def test_url_inside_functions(mod: ModuleType) -> None:
    css = """.a { filter: url(#f); mask: url(m.svg#x); }
.b { background: cross-fade(url(a.png) 20%, url("b.png")); }
.c { background: var(--x, url(c.png)); --d: url(d.png); }
.e { background: linear-gradient(red, blue), url(e.png); cursor: url(e.cur) 2 2, auto; }
@supports (background: url(f.png)) { .f { list-style: url('f2.png') } }"""
    assert raws(mod, css) == ["#f", "m.svg#x", "a.png", "b.png", "c.png", "d.png", "e.png", "e.cur", "f.png", "f2.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_url_must_start_a_token(mod: ModuleType) -> None:
    # the names are "xurl", "-url", "1url" (a dimension), "#url" (a hash) and "@url" (an at-keyword): no url() there
    css = ".a { a: xurl(no1.png); b: -url(no2.png); c: 1url(no3.png); d: #url(no4.png); e: @url(no5.png); f: .url(ok.png) }"
    assert raws(mod, css) == ["ok.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_font_face_with_several_src(mod: ModuleType) -> None:
    css = """@font-face {
  font-family: "My Font";
  src: url(a.eot);
  src: local("My Font"), local(MyFont),
       url("a.eot?#iefix") format("embedded-opentype"),
       url('a.woff2') format("woff2") tech(variations),
       url(a.woff) format('woff'),
       url(data:font/ttf;base64,AAEAAAAL) format(truetype),
       url("a.svg#MyFont") format("svg");
  unicode-range: U+0000-00FF, U+0131;
}"""
    assert found(mod, css) == [(u, "css url()") for u in ["a.eot", "a.eot?#iefix", "a.woff2", "a.woff",
                                                          "data:font/ttf;base64,AAEAAAAL", "a.svg#MyFont"]]


# ---------------------------------------------------------------- escapes


@pytest.mark.parametrize("mod", IMPLS)
def test_escapes_in_unquoted_url(mod: ModuleType) -> None:
    css = r".a{background:url(x\)y.png)} .b{background:url(my\ file.png)} .c{background:url(\61 .png)} .d{b:url(\(\).png)}"
    assert raws(mod, css) == [r"x\)y.png", r"my\ file.png", r"\61 .png", r"\(\).png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_hex_escape_swallows_one_whitespace_in_url(mod: ModuleType) -> None:
    css = ".a{background:url(\\41\n)} .b{background:url(\\62\t.png )}"
    assert raws(mod, css) == ["\\41\n", "\\62\t.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_escapes_in_strings(mod: ModuleType) -> None:
    css = """.a{background:url("q\\"uote.png")} .b{background:url('it\\'s.png')} @import "a\\\nb.css";
.c{background:image-set("sp\\ ace.png" 1x)}"""
    assert raws(mod, css) == ['q\\"uote.png', "it\\'s.png", "a\\\nb.css", "sp\\ ace.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_escaped_function_names(mod: ModuleType) -> None:
    css = r""".a{background:\75 rl(a.png)} .b{background:u\72l(b.png)} .c{background:\55RL("c.png")}
.d{background:\000075rl( 'd.png' )} .e{background:image-\73 et("e.png" 1x)} @\69mport "f.css";"""
    assert found(mod, css) == [("a.png", "css url()"), ("b.png", "css url()"), ("c.png", "css url()"),
                               ("d.png", "css url()"), ("e.png", "css image-set()"), ("f.css", "css @import")]


@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize(("raw", "value"), [
    ("a.png", "a.png"),
    (r"x\)y.png", "x)y.png"),
    (r"my\ file.png", "my file.png"),
    (r"\61 .png", "a.png"),
    (r"\000061.png", "a.png"),  # six hex digits: no whitespace needed
    (r"\0000610", "a0"),  # a seventh digit is a digit
    (r"\41 b", "Ab"),
    ("\\41\r\nb", "Ab"),  # CRLF is one whitespace after a hex escape
    ("\\41\fb", "Ab"),
    ("\\41\xa0b", "A\xa0b"),  # NBSP is not CSS whitespace
    ("\\41  b", "A b"),  # only one whitespace is swallowed
    (r"\0 x", "\ufffdx"),
    (r"\D800 x", "\ufffdx"),
    (r"\DFFF x", "\ufffdx"),
    (r"\110000 x", "\ufffdx"),
    (r"\10FFFF", "\U0010ffff"),
    (r"\1F600 .png", "\U0001f600.png"),
    ("a\\\nb", "ab"),  # an escaped newline in a string is removed
    ("a\\\r\nb", "ab"),
    ("a\\\rb", "ab"),
    ("a\\\fb", "ab"),
    (r"\g\\\"", 'g\\"'),
    ("a\x00b", "a\ufffdb"),
])
def test_css_unescape(mod: ModuleType, raw: str, value: str) -> None:
    assert mod.css_unescape(raw) == value


# ---------------------------------------------------------------- comments


@pytest.mark.parametrize("mod", IMPLS)
def test_comments_are_skipped(mod: ModuleType) -> None:
    css = """/* url(no1.png) @import "no.css"; image-set("no2.png") */
/* "unterminated string in a comment */ .a{background:url(a.png)}
/* ' */ .b{background:url(b.png)} /* ' */
/**/.c{background:url(c.png)}/***/
/* * / url(no3.png) */ /*/ url(no4.png) */
.d { background: url(d.png) /* url(no5.png) */, url("e.png"); }"""
    assert raws(mod, css) == ["a.png", "b.png", "c.png", "d.png", "e.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_comment_markers_inside_strings_and_urls(mod: ModuleType) -> None:
    css = """.a { content: "/*"; background: url(a.png); content: "*/"; }
.b { background: url(/*not-a-comment*/b.png); }
.c { background: url("/*c.png"); }"""
    assert raws(mod, css) == ["a.png", "/*not-a-comment*/b.png", "/*c.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_unterminated_comment_hides_the_rest(mod: ModuleType) -> None:
    assert raws(mod, ".a{background:url(a.png)} /* url(no.png)") == ["a.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_source_mapping_url(mod: ModuleType) -> None:
    css = """.a{color:red}
/*# sourceMappingURL=a.css.map */
/*@ sourceMappingURL=b.css.map*/
/*# sourceMappingURL=data:application/json;base64,eyJ2IjozfQ== */
.b { content: "/*# sourceMappingURL=no.map */"; }
/* # sourceMappingURL=no2.map */
/*# sourceMappingURL=c.map"""
    assert found(mod, css) == [("a.css.map", "css sourceMappingURL"), ("b.css.map", "css sourceMappingURL"),
                               ("data:application/json;base64,eyJ2IjozfQ==", "css sourceMappingURL")]


# ---------------------------------------------------------------- strings are not URLs


@pytest.mark.parametrize("mod", IMPLS)
def test_strings_containing_url_or_parens(mod: ModuleType) -> None:
    css = """.a { content: "url(no1.png)"; background: url(a.png); }
.b { content: 'x ) url(no2.png'; font-family: "url(x)", 'no3.png'; }
.c { background: url("c)d.png"); quotes: "(" ")"; }
.e { content: "a.png"; grid-template-areas: "a b"; }"""
    assert raws(mod, css) == ["a.png", "c)d.png"]


# ---------------------------------------------------------------- bad URLs


@pytest.mark.parametrize("mod", IMPLS)
def test_bad_urls_are_not_yielded_and_scanning_recovers(mod: ModuleType) -> None:
    css = """.a { background: url(a b); }
.b { background: url(c"d); } .ok1 { background: url(ok1.png); }
.e { background: url(e'f); } .ok2 { background: url(ok2.png); }
.g { background: url(g(h.png); } .ok3 { background: url("ok3.png"); }
.i { background: url(i\x01j.png); } .ok4 { background: url(ok4.png); }
.k { background: url(k\\
); } .ok5 { background: url(ok5.png); }
.l { background: url(l.png x) url(ok6.png); }"""
    assert raws(mod, css) == ["ok1.png", "ok2.png", "ok3.png", "ok4.png", "ok5.png", "ok6.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_bad_url_remnant_swallows_quotes(mod: ModuleType) -> None:
    # the bad url runs to the first ")": the quote in it opens no string, so what follows is still seen
    assert raws(mod, '.a { b: url(x"y); c: url(ok.png); d: "z" }') == ["ok.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_newline_ends_a_string(mod: ModuleType) -> None:
    css = """.a { content: "unterminated
; background: url(a.png); }
.b { background: url("bad
); } .c { background: url(c.png) }"""
    assert raws(mod, css) == ["a.png", "c.png"]


# ---------------------------------------------------------------- line endings and non-ASCII text


@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\f", "\r\r\n\f\n"], ids=["LF", "CRLF", "CR", "FF", "mixed"])
def test_line_endings_before_urls(mod: ModuleType, newline: str) -> None:
    escaped = "\\" + ("\r\n" if newline.startswith("\r\n") or len(newline) > 2 else newline)  # one line break
    css = newline.join([
        "/* a comment", "over lines */",
        ".a {", "  background: url(a.png);", "}",
        '@import "b.css";',
        ".c { content: 'x" + escaped + "y'; background: url( 'c.png' ) }",  # an escaped newline inside a string
        ".d {", "  background: image-set(", '    "d.png" 1x,', "    url(e.png) 2x);", "}",
        "/*# sourceMappingURL=f.css.map */",
    ])
    assert raws(mod, css) == ["a.png", "b.css", "c.png", "d.png", "e.png", "f.css.map"]


@pytest.mark.parametrize("mod", IMPLS)
def test_non_ascii_and_astral_characters_before_and_in_urls(mod: ModuleType) -> None:
    css = """/* 😀😀 ünïcödé 𝄞 */
.é😀 { content: "😀"; background: url(ü.png); }
.b { background: url("😀/𝄞.png"), url(日本.png); }\r\n.c\u2028{ background: url(c.png) }"""
    assert raws(mod, css) == ["ü.png", "😀/𝄞.png", "日本.png", "c.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_lone_surrogates_from_undecodable_bytes(mod: ModuleType) -> None:
    data = b"/* \xff\xfe */ .\xe9 { background: url(\xe9.png); } .\xff(x) { b: url('a\xff.png') }"
    css = data.decode("utf-8", "surrogateescape")
    assert raws(mod, css) == ["\udce9.png", "a\udcff.png"]


# ---------------------------------------------------------------- offset


@pytest.mark.parametrize("mod", IMPLS)
def test_offset_shifts_every_span(mod: ModuleType) -> None:
    css = '.a {\r\n background: url(a.png) }\r\n@import "b.css";\r\n/*# sourceMappingURL=c.map */'
    plain = list(mod.css_urls(css))
    assert [css[s:e] for s, e, _ in plain] == ["a.png", "b.css", "c.map"]
    assert list(mod.css_urls(css, 1234)) == [(s + 1234, e + 1234, c) for s, e, c in plain]
    assert raws(mod, css) == ["a.png", "b.css", "c.map"]


@pytest.mark.parametrize("mod", IMPLS)
def test_style_attribute_and_style_block_as_the_html_path_calls_it(mod: ModuleType) -> None:
    html = '<p style="background: url(img/a.png) no-repeat; color: red">x</p><style>\r\n.a{background:url("b.png")}</style>'
    style = (html.index('"') + 1, html.index('">'))
    block = (html.index("<style>") + 7, html.index("</style>"))
    spans = [*mod.css_urls(html[style[0] : style[1]], style[0]), *mod.css_urls(html[block[0] : block[1]], block[0])]
    assert [html[s:e] for s, e, _ in spans] == ["img/a.png", "b.png"]


def test_entity_encoded_quotes_in_a_style_attribute_stay_an_unquoted_url() -> None:
    # css_urls sees the raw attribute text, so url(&quot;a.png&quot;) is an unquoted URL: the caller's html_value
    # then css_unescape give '"a.png"' (quotes included), as with the old scanner
    css = "background: url(&quot;a.png&quot;)"
    assert raws(refs_css, css) == ["&quot;a.png&quot;"]


# ---------------------------------------------------------------- unterminated and hostile input


@pytest.mark.parametrize("mod", IMPLS)
def test_unterminated_constructs_at_end_of_input(mod: ModuleType) -> None:
    assert raws(mod, ".a { background: url(a.png)") == ["a.png"]
    assert raws(mod, ".a { background: url(a.png") == ["a.png"]
    assert raws(mod, '.a { background: url("a.png') == ["a.png"]
    assert raws(mod, "@import 'a.css") == ["a.css"]
    assert raws(mod, '.a { background: image-set("a.png') == ["a.png"]
    assert raws(mod, ".a { background: url(  a.png  ") == ["a.png"]


@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize("css", [
    "", "url(", "url(  ", "url(\\", "url(a\\", "url('", "url(\"\\", "@import", "@import \"", "/*", "/*/", "\"", "'\\",
    "image-set(", "image-set(\"", "{{{{[[[(((", ")))]]]}}}", "\\", "\\75 rl(", "-->", "<!--", "U+", "u+1-", "#", "@",
    "\x00\x01\x02\x7f", "\ud800\udfff", "\r", "\r\n\\", "1e99999999", "9" * 5000, "a{b:" + "9" * 4301 + "px}",
    "U+" + "1" * 5000, "#" + "1" * 5000, "url(" + "9" * 5000 + ")",
])
def test_never_raises(mod: ModuleType, css: str) -> None:
    list(mod.css_urls(css))


@pytest.mark.parametrize("mod", IMPLS)
def test_long_numbers_do_not_hide_urls(mod: ModuleType) -> None:
    # tinycss2 calls int() on integer tokens, which refuses 4301+ digits: the scanner still finds the URLs
    css = ".a { width: " + "9" * 10000 + "px; background: url(a.png) } .b { background: url(" + "9" * 5000 + ".png) }"
    assert raws(mod, css) == ["a.png", "9" * 5000 + ".png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_deep_nesting(mod: ModuleType) -> None:
    css = "(" * 50_000 + "url(a.png)" + ")" * 50_000 + "image-set(" * 20_000 + '"b.png"' + "{[" * 20_000
    assert raws(mod, css) == ["a.png", "b.png"]


@pytest.mark.parametrize("mod", IMPLS)
def test_binary_junk(mod: ModuleType) -> None:
    rng = random.Random(7)
    alphabet = list('url(image-set@import"\'/*\\)}{;: \n\r\f\x00') + ["\ud83d", "😀", "é", "sourceMappingURL="]
    for _ in range(200):
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randrange(200)))
        for s, e, _ctx in mod.css_urls(junk):
            assert 0 <= s < e <= len(junk)
    data = bytes(rng.randrange(256) for _ in range(200_000)).decode("utf-8", "surrogateescape")
    list(mod.css_urls(data))


def test_five_megabytes() -> None:
    rule = '.a{background:url(a.png) no-repeat;content:"x";color:#fff;margin:0 1px 2px 3px}\n'
    css = rule * (5 * 1024 * 1024 // len(rule))
    started = time.perf_counter()
    spans = list(refs_css.css_urls(css))
    assert len(spans) == css.count("url(") and {css[s:e] for s, e, _ in spans} == {"a.png"}
    assert time.perf_counter() - started < 120


# ---------------------------------------------------------------- spans agree with tinycss2


def _fuzz_css(rng: random.Random) -> str:
    pieces = [
        "url(a.png)", "url( 'b c.png' )", 'url("d\\"e.png")', "URL(f\\)g.png)", "\\75 rl(h.png)", "u\\72l('i.png')",
        '@import "j.css";', "@import url(k.css);", 'image-set("l.png" 1x, "m.png" type("image/png"))',
        "/*# sourceMappingURL=n.map */", "/* url(no.png) */", '"str\\\r\nng"', "'x'", " ", "\n", "\r\n", "\r", "\f",
        "\t", "😀", "é", "\udcff", "{", "}", "(", ")", ";", ",", "1px", "#f00", "-x-", "\\41 ", "url(\\41\r\n)",
        "url(a b)", "url(x\"y)", "\x00", "a", "\\\n", "@media", "url(\\1F600 .png)", "image-set(url(o.png))",
    ]
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 60)))


def _oracle(nodes: list[object], function: str = "") -> Iterator[str]:
    """The URL values of tinycss2's own tree of the text, in document order (no @namespace in the fuzz input)."""
    previous = None
    first = True
    for node in nodes:
        kind = node.type  # type: ignore[attr-defined]
        if kind in ("whitespace", "comment"):
            continue
        if kind == "url":
            yield node.value  # type: ignore[attr-defined]
        elif kind == "string" and (previous == "import" or function in ("image-set", "-webkit-image-set")
                                   or (function == "url" and first)):
            yield node.value  # type: ignore[attr-defined]
        elif kind == "function":
            yield from _oracle(node.arguments, node.lower_name)  # type: ignore[attr-defined]
        elif kind.endswith("block"):
            yield from _oracle(node.content)  # type: ignore[attr-defined]
        first = False
        previous = node.lower_value if kind == "at-keyword" else None  # type: ignore[attr-defined]


def test_fuzz_spans_agree_with_tinycss2() -> None:
    """On random CSS, the spans, unescaped, are the values of the URL tokens tinycss2 finds in the same text (with its
    own preprocessing), in the same order; the raw text before each is what a URL of its context is written after."""
    rng = random.Random(12345)
    for _ in range(3000):
        css = _fuzz_css(rng)
        expected = [v for v in _oracle(tinycss2.parse_component_value_list(css)) if v]
        got = []
        for s, e, ctx in refs_css.css_urls(css):
            raw = css[s:e]
            if ctx == "css sourceMappingURL":
                assert css.rfind("/*", 0, s) != -1 and "*/" in css[e:]
                continue
            got.append(refs_css.css_unescape(raw))
            assert css[:s].rstrip(" \t\n\r\f").endswith(("(", '"', "'")), (css, raw)
        assert got == expected, css


# ---------------------------------------------------------------- real stylesheets


def test_style_value_results_are_cached_but_independent_of_offset() -> None:
    value = "background: url(img/a.png) no-repeat"

    def first(off: int) -> list[tuple[int, int, str]]:
        return list(refs_css.css_urls(value, off))

    assert first(0) == [(16, 25, "css url()")]
    assert first(100) == [(116, 125, "css url()")]
    assert first(0) == [(16, 25, "css url()")]


@pytest.mark.parametrize("mod", IMPLS)
def test_escaped_cr_then_lf_is_an_escape_then_a_newline(mod: ModuleType) -> None:
    # "\\\r\n" escapes the whole CRLF (one newline); "\\\r" + "\n" would be two: there the \n ends the string
    assert raws(mod, '@import "a\\\r\nb.css"; .x { background: url(x.png) }') == ["a\\\r\nb.css", "x.png"]


def test_the_garbage_collector_is_left_as_it_was() -> None:
    import gc

    assert gc.isenabled()
    list(refs_css.css_urls(".a { background: url(a.png) }"))
    assert gc.isenabled()
    gc.disable()
    try:
        list(refs_css.css_urls(".b { background: url(b.png) }"))
        assert not gc.isenabled()
    finally:
        gc.enable()
