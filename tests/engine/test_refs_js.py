"""Tests of js_scan(): the tokenizer must stay in sync through everything a minified bundle holds.

The random one-line cases are the class of bug the hand-written regex lexer it replaced fell into (it lost sync).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time

import pytest

from hashdeploy.engine.refs.js import js_scan

# Statements (each valid JS on its own, valid one after the other on ONE line) that desynchronise a naive lexer.
TRICKY = [
    # templates nested in ${…}, holding quotes, `//`, `/*`, and templates in templates
    'x=`<div>${f(`<p style="a: b;">x</p>`)}</div>`;',
    't=`${`${"in"}`}`;',
    "t=`a${b?`c'`:\"d\"}e`;",
    "u=`http://x/${y}//z`;",
    "u=`${a}/*${b}*/`;",
    "t=`${`${`${'\"'}`}`}`;",
    "t=`${/`/.source}`;",
    "t=`${{a:'}'}.a}`;",
    "t=`\\`${'`'}\\${`;",
    # regex literals with quotes, slashes, backticks, classes
    "r=/[\"'`]/g;",
    "r=/\\/\\//;",
    "r=/[/]/.test(s);",
    "r=/'/;",
    'r=/"/;',
    "r=/`/;",
    "r=/a\\/b\"c/gi;",
    "if(a)/\"/.test(b);",
    "f=x=>/'/.test(x);",
    "r=[/'/,/\"/];",
    "r=typeof/'/;",
    "r=/[\\]'\"]/;",
    # division that looks like the start of a regex
    "x=a/b/c;",
    "x=y/2;s=\"img/a.png\";",
    "x=(a)/2/(b);",
    "x=a[0]/b/2;",
    "x=this.w/2,s='/',t=1;",
    "x=o.return/2,s='/',t=1;",
    "x=a++/2,s='/',t=1;",
    "x=a/*c*//2,s='/',t=1;",
    "x=a /*'*/ /2,s='/',t=1;",
    "x=1/2/3;",
    # URLs and comment-looking text in strings
    'u="https://cdn.example.com/x.js";',
    "u='//cdn.example.com/y';",
    'u="a/*b";',
    'u="*/";',
    "u=\"//# sourceMappingURL=nope.map\";",
    # comments holding quotes, slashes and backticks
    "/* it's \"q\" `x` // */",
    "/**/",
    # strings with escaped quotes
    's="a\\"b\'c";',
    "s='it\\'s \"x\"';",
    's="\\\\";',
    "s='\\\\'+\"\\\\\";",
    # classes, private names, optional chaining, keywords used as names
    "A=class{#p=\"q'\";static s=`t`;m(){return this.#p?.x/2}};",
    "x=a?.5:\"q'\";",
    "x=a?.b?.[\"c\"]?.(d)/2;",
    "o={return:1,\"a/b\":/'/,typeof:2};",
    "var π=1,ü=\"ö'\";",
    "x=async(a)=>await a/2;",
    "a: for(;;)break a;",
]


def _case(seed: int) -> tuple[str, str]:
    """One line of random tricky statements followed by a marker string; returns (source, marker)."""
    rng = random.Random(seed)
    parts = rng.choices(TRICKY, k=rng.randint(1, 10))
    marker = f"img/marker-{seed}.svg"
    return "".join(p + " " * rng.randint(0, 1) for p in parts) + f'm="{marker}";', marker


def _check(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """js_scan() plus the invariants every answer must keep."""
    refs, strings = js_scan(text)
    for s, e in [(s, e) for s, e, _ in refs] + strings:
        assert 0 <= s <= e <= len(text)
    assert not {(s, e) for s, e, _ in refs} & set(strings)
    return refs, strings


def _texts(text: str) -> list[str]:
    return [text[s:e] for s, e in _check(text)[1]]


def _refs(text: str) -> list[tuple[str, str]]:
    return [(text[s:e], ctx) for s, e, ctx in _check(text)[0]]


def _assert_string(text: str, value: str) -> None:
    i = text.rindex('"' + value + '"') + 1
    assert (i, i + len(value)) in _check(text)[1], f"{value!r} not seen in {text!r}"


# -- the bug class: markers after tricky code on one line ---------------------------------------------------

@pytest.mark.parametrize("seed", range(300))
def test_marker_after_random_tricky_line(seed: int) -> None:
    text, marker = _case(seed)
    _assert_string(text, marker)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_generated_lines_are_valid_javascript() -> None:
    """The property test's inputs are real JavaScript (so the expected answers are the right ones)."""
    program = "\n".join(_case(seed)[0] for seed in range(300)) + "\n" + "".join(TRICKY)
    subprocess.run(["node", "--check", "-"], input=program.encode(), check=True)


def test_docusaurus_main_js() -> None:
    text = 'a=`${f(`<p style="a: b;">x</p>`)}`;u="https://docusaurus.io";c={logo:{src:"img/logo.svg"}};'
    _assert_string(text, "img/logo.svg")
    assert _texts(text) == ["", '<p style="a: b;">x</p>', "", "https://docusaurus.io", "img/logo.svg"]


@pytest.mark.parametrize(("code", "expected"), [
    ("r=/[\"'`]/g;", []),
    ("r=/\\/\\//;", []),
    ("r=/`/;", []),
    ("a / b / c;", []),
    ('x = y / 2; s = "img/a.png";', ["img/a.png"]),
    ("x=a++/2,s='/',t=1;", ["/"]),
    ("x=a/*c*//2,s='/',t=1;", ["/"]),
    ("t=`${/`/.source}`;", ["", ""]),
    ("x=o.return/2,s='/',t=`'`;", ["/", "'"]),
])
def test_regex_and_division(code: str, expected: list[str]) -> None:
    text = code + 'm="img/marker.svg"'
    assert _texts(text) == [*expected, "img/marker.svg"]


def test_regex_is_not_a_string() -> None:
    assert _texts('r=/"img\\/a.png"/;x=1') == []


@pytest.mark.parametrize("code", [
    'x=<img src="img/a.svg" alt="it\'s"/>;',
    "x=<p>it's {`t`} \"q</p>;",
    "x=<A.B {...p} key=\"k\">{/* \"c */}</A.B>;",
    'A=class{#p="q\'";static s=`t`;m(){return this.#p?.x/2}};',
    "x=a?.5:\"q'\";",
    "var π=1,ü=\"ö'\";",
])
def test_jsx_classes_unicode(code: str) -> None:
    _assert_string(code + 'm="img/marker.svg"', "img/marker.svg")


def test_jsx_attribute_strings() -> None:
    assert "img/a.svg" in _texts('x=<img src="img/a.svg"/>;')


def test_hashbang_and_html_comments() -> None:
    text = '#!/usr/bin/env node --it\'s "img/no1.svg"\n<!-- "img/no2.svg" it\'s\nm="img/marker.svg"\n--> "img/no3.svg"\n'
    assert _texts(text) == ["img/marker.svg"]


def test_comments_are_never_strings() -> None:
    text = "/* \"img/no1.svg\" it's */ // \"img/no2.svg\" `\nm=\"img/marker.svg\"; /* ' */"
    assert _texts(text) == ["img/marker.svg"]


def test_escapes_and_line_continuations() -> None:
    text = "s=\"a\\\"b\";t='it\\'s';u=\"line\\\ncontinued 'q\";m=\"img/marker.svg\""
    assert _texts(text) == ['a\\"b', "it\\'s", "line\\\ncontinued 'q", "img/marker.svg"]


def test_template_fragments_and_nested_templates() -> None:
    assert _texts("t=`a${`b${'c'}d`}e${x}`") == ["a", "b", "c", "d", "e", ""]


# -- references --------------------------------------------------------------------------------------------

def test_imports_exports_and_source_maps() -> None:
    text = """import a from './a.js';
import {b} from "../b.js";
import './side.js';
export * from './re.js';
export { c } from "./c.mjs";
export * as ns from "/abs/n.js";
import j from "./j.json" with { type: "json" };
const d = await import('./d.js');
const o = import("./o.js", { with: { type: "json" } });
import React from 'react';
// import x from './commented.js';
/* import y from './block.js'; */
const r = /from '.\\/re.js'/g;
const t = x / 2 / from;
//# sourceMappingURL=app.js.map
//@ sourceMappingURL=old.js.map
"""
    assert _refs(text) == [(u, "js import") for u in ["./a.js", "../b.js", "./side.js", "./re.js", "./c.mjs", "/abs/n.js",
                                                     "./j.json", "./d.js", "./o.js"]] + [
        ("app.js.map", "js sourceMappingURL"), ("old.js.map", "js sourceMappingURL")]
    texts = _texts(text)
    assert texts == ["json", "json", "react"]


def test_source_map_needs_a_line_comment_of_its_own() -> None:
    text = 's="//# sourceMappingURL=in-string.map";\n/*# sourceMappingURL=block.map */\nx=1 //# sourceMappingURL=a b\n'
    assert _refs(text) == []


@pytest.mark.parametrize(("code", "string"), [
    ('import(foo + "./x.js")', "./x.js"),
    ('import("./x.js" + foo)', "./x.js"),
    ('require("./x.js")', "./x.js"),
    ('"./x.js";', "./x.js"),
    ('a.import("./x.js")', "./x.js"),
    ('import("./a\\x2ejs")', "./a\\x2ejs"),
    ('import x from "./a\\u002ejs"', "./a\\u002ejs"),
    ("import('react')", "react"),
    ('x = {from: "./x.js"}', "./x.js"),
])
def test_not_references(code: str, string: str) -> None:
    assert _refs(code) == []
    assert string in _texts(code)


def test_dynamic_import_template() -> None:
    assert _refs("import(`./b.js`)") == [("./b.js", "js import")]
    text = "import(`./e-${x}.js`)"
    assert _refs(text) == [] and _texts(text) == ["./e-", ".js"]


# -- offsets -----------------------------------------------------------------------------------------------

def test_non_ascii_offsets() -> None:
    text = 'const s = "é😀"; import "./a.js"'
    refs, strings = _check(text)
    assert refs == [(text.index("./a.js"), text.index("./a.js") + 6, "js import")]
    assert strings == [(11, 13)] and text[11:13] == "é😀"


def test_astral_and_cjk_everywhere() -> None:
    text = "/* 😀😀 */ var 名前 = `𝒳` + '漢字' + `𝒴`; // ü\nimport x from './ü😀.js';\n"
    text += '//# sourceMappingURL=é.map\nm="img/marker.svg"'
    assert _refs(text) == [("./ü😀.js", "js import"), ("é.map", "js sourceMappingURL")]
    assert _texts(text) == ["𝒳", "漢字", "𝒴", "img/marker.svg"]


def test_undecodable_bytes_and_lone_surrogates() -> None:
    text = b'a="\xff\xfe";b="caf\xc3\xa9";m="img/marker.svg";'.decode("utf-8", "surrogateescape") + "\ud800x='y'"
    texts = _texts(text)
    assert texts[:3] == ["\udcff\udcfe", "café", "img/marker.svg"] and texts[-1] == "y"  # (the bad \ud800 is an ERROR)


@pytest.mark.parametrize(("code", "name"), [
    ('x = "img/a.svg', "img/a.svg"),  # unterminated string
    ("t = `${a} img/a.svg", "img/a.svg"),  # unterminated template
    ("<?php echo 'img/a.svg' ?>", "img/a.svg"),  # not JavaScript at all
    ("@@ x = 'q' + \"img/a.svg\"", "img/a.svg"),
])
def test_unparsable_text_counts_as_strings(code: str, name: str) -> None:
    """Where the parser gives up, every name in the text must still be seen (pinning too much is safe)."""
    i = code.index(name)
    assert any(s <= i and i + len(name) <= e for s, e in _check(code)[1])


# -- robustness --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(20))
def test_random_bytes(seed: int) -> None:
    rng = random.Random(seed)
    _check(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 5000))).decode("latin-1"))


def test_truncated_files() -> None:
    text = "#!/x\nimport a from './a.js';" + "".join(TRICKY[:25]) + '\n//# sourceMappingURL=x.map\n<p a="é😀">'
    for n in range(len(text) + 1):
        _check(text[:n])


@pytest.mark.parametrize("text", [
    "", "\x00", "\ud800", "`", "`${", "/", "/*", "//", '"', "'\\", "<!--", "#!", "\ufeffx='a'",
    "(" * 20000, "[" * 20000, "`${" * 5000, "{" * 20000 + '"a"', "<a>" * 5000,
])
def test_odd_inputs(text: str) -> None:
    _check(text)


@pytest.mark.parametrize("depth", [1000, 15000])
def test_deep_nesting(depth: int) -> None:
    """Below depth 65535 tree-sitter's query cursor stops matching: the names there must still be found."""
    text = "f(function(){" * depth + 'import("./a.js");m="img/marker.svg";' + "})" * depth
    assert _refs(text) == [("./a.js", "js import")]
    _assert_string(text, "img/marker.svg")


@pytest.mark.parametrize("opener", ["(", "[", "{", "`${", "f(function(){", "import("])
def test_unclosed_nesting_is_not_quadratic(opener: str) -> None:
    text = opener * (200_000 // len(opener)) + '"img/marker.svg"'
    start = time.process_time()
    _check(text)
    assert time.process_time() - start < 20  # the query cursor took minutes on these


def make_bundle(size: int, seed: int = 0) -> tuple[str, list[str]]:
    """A minified-looking single-line bundle of about `size` characters, with marker strings spread through it."""
    rng = random.Random(seed)
    parts: list[str] = []
    markers: list[str] = []
    total = 0
    while total < size:
        chunk = "".join(rng.choices(TRICKY, k=8))
        if rng.random() < 0.2:
            markers.append(f"img/m{len(markers)}.svg")
            chunk += f'function f{len(markers)}(e,t){{return e.src="{markers[-1]}",t/2}}'
        parts.append(chunk)
        total += len(chunk)
    return "".join(parts), markers


def test_five_megabyte_bundle() -> None:
    text, markers = make_bundle(5_000_000)
    start = time.perf_counter()
    texts = set(_texts(text))
    elapsed = time.perf_counter() - start
    assert all(m in texts for m in markers), f"{sum(m not in texts for m in markers)} of {len(markers)} markers missed"
    assert elapsed < 120
