"""What the real tokenizers cost: js_scan (tree-sitter) and css_urls (tinycss2) against the scanners they replaced.

    python bench/tokenizers.py [--mb 1] [--repeat 5]

The replaced regex scanners are read from git history (commit 3cf567b), so the figures come side by side in one
run; without git they are left out. Inputs are generated: a one-line minified-style bundle (templates, regexes,
URLs in strings, imports) and a stylesheet (url(), image-set(), @import, comments), plus 10,000 short style
attribute values, the HTML path's per-call case. Prints MB/s (best of --repeat) and microseconds per call.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OLD_COMMIT = "3cf567b"

JS_PARTS = [
    'const a=`x${f(`<p style="a: b;">${y}</p>`)}z`;', 'var u="https://cdn.example.com/lib.js";',
    "let r=/[\"'`]\\/\\//g;", "x=y/2/z;", 'import("./chunk.js").then(m=>m.default);',
    'n={logo:{src:"img/logo.svg"}};', "/* a comment with 'quotes' and // slashes */",
    'function g(a){return a.replace(/\\.js$/,".lean.js")}', "class C{#p=1;static s=`t`;m(){return this.#p?.q}}",
]
CSS_PARTS = [
    ".a{background:url(img/a.png) no-repeat}", '.b{background-image:image-set("a.avif" type("image/avif"),'
    ' "a.jpg" type("image/jpeg"))}', "/* url(commented.png) */", '@font-face{font-family:F;src:url("f.woff2") '
    'format("woff2"),url(f.woff) format("woff")}', ".c{color:red;margin:0 auto;padding:1px 2px}",
    '.d::after{content:"url(not-a-url.png)"}',
]
STYLES = [f"background: url(img/bg{i % 50}.png) no-repeat" if i % 5 == 0 else f"color: #{i % 4096:03x}"
          for i in range(10_000)]


def generate(parts: list[str], mb: float, seed: int) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < mb * 1e6:
        p = rng.choice(parts)
        out.append(p)
        size += len(p)
    return "".join(out)


def old_module(path: str) -> types.ModuleType | None:
    """The scanner as it was before the tokenizers (from git), or None without git history."""
    try:
        src = subprocess.run(["git", "show", f"{OLD_COMMIT}:{path}"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType(path)
    exec(compile(src, path, "exec"), mod.__dict__)  # noqa: S102 - our own file from our own history
    return mod


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from hashdeploy.engine.refs.css import css_urls
    from hashdeploy.engine.refs.js import js_scan

    js, css = generate(JS_PARTS, args.mb, 1), generate(CSS_PARTS, args.mb, 2)
    old_js, old_css = old_module("hashdeploy/refs_js.py"), old_module("hashdeploy/refs_css.py")
    rows = [("js_scan, 1-line bundle", "tree-sitter", len(js), lambda: js_scan(js),
             (lambda: old_js.js_scan(js)) if old_js else None),
            ("css_urls, stylesheet", "tinycss2", len(css), lambda: list(css_urls(css)),
             (lambda: list(old_css.css_urls(css))) if old_css else None)]
    print(f"{'input':<28} {'new':<12} {'MB':>5} {'new MB/s':>9} {'old MB/s':>9}")
    for name, lib, size, new, old in rows:
        mbs = size / 1e6
        new_rate = mbs / best(new, args.repeat)
        old_rate = f"{mbs / best(old, args.repeat):9.2f}" if old else f"{'-':>9}"
        print(f"{name:<28} {lib:<12} {mbs:5.2f} {new_rate:9.2f} {old_rate}")
    per_new = best(lambda: [list(css_urls(s)) for s in STYLES], args.repeat) / len(STYLES) * 1e6
    label = "css_urls, 10,000 style=''"
    line = f"{label:<28} {'tinycss2':<12} {'':>5} {per_new:7.2f} µs/call"
    if old_css:
        per_old = best(lambda: [list(old_css.css_urls(s)) for s in STYLES], args.repeat) / len(STYLES) * 1e6
        line += f"  (old {per_old:.2f} µs/call)"
    print(line)
    # the class of input the old JS lexer lost sync on: is the logo's name still seen after it?
    probe = JS_PARTS[0] + JS_PARTS[1] + JS_PARTS[5]
    seen = [probe[s:e] for s, e in js_scan(probe)[1]]
    old_seen = [probe[s:e] for s, e in old_js.js_scan(probe)[1]] if old_js else []
    print(f"'img/logo.svg' seen after a nested template and a URL string: new {'img/logo.svg' in seen}, "
          f"old {'img/logo.svg' in old_seen if old_js else '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
