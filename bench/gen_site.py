"""Generate a deterministic, realistic static documentation site for benchmarking hashdeploy.

    python bench/gen_site.py --pages N OUT_DIR

The site looks like MkDocs or Hugo output: exactly N HTML pages (a home page, a 404 page, one index per
section and content pages at section-XX/page-YYYY/index.html, each 15-25 KB), ten stylesheets (url() to
images and fonts, @import chains, source maps), twenty scripts (ES modules with relative imports, one
import cycle, a dynamic import, classic scripts), 200 shared PNG images, six fonts, a few images per
section, robots.txt, sitemap.xml and a search index. References mix relative (`../../css/site.css`) and
root-relative (`/css/site.css`) URLs.

Every url() in a stylesheet and every source map exists, so Django's ManifestStaticFilesStorage accepts
the tree too. The only randomness is random.Random seeded with fixed strings, so the same N always gives
byte-identical files, and page i does not depend on how many pages come after it except through its links.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import struct
import sys
import zlib
from pathlib import Path

SEED = "hashdeploy-bench-v1"
PAGES_PER_SECTION = 40
SITE_URL = "https://docs.example.com"
N_PHOTOS = 150
N_ICONS = 40
UI_IMAGES = (
    "favicon-32", "apple-touch-icon", "logo", "bg-pattern", "noise", "sidebar-bg", "bg-dark", "print-logo",
    "code-bg", "og-default",
)
FONTS = (
    "inter-regular.woff2", "inter-regular.woff", "inter-bold.woff2", "inter-bold.woff",
    "jetbrains-mono.woff2", "jetbrains-mono.woff",
)
SECTION_IMAGES = ("hero.png", "diagram-1.png", "diagram-2.png")
WORDS = (
    "the of and to in is that for it as with was on be by this are or from at an which but not have has "
    "deploy build site static asset cache header bucket origin request response browser version release "
    "config option value default file path name hash content stable immutable invalidate distribution edge "
    "module import script style sheet image font page link section index search theme layout component "
    "render template output input directory manifest reference rewrite resolve relative absolute root "
    "server client network latency throughput memory process worker thread queue batch parse token "
    "naïve café façade résumé über déjà coöperate jalapeño piñata smörgåsbord "
    "quickly carefully usually always never sometimes exactly roughly safely only also then first last"
).split()
CODE_SNIPPETS = (
    'import { debounce } from "./lib/debounce.js";\n'
    "export function onSearch(q) {\n  return debounce(() => run(q), 200);\n}",
    "$ pip install hashdeploy\n$ hashdeploy site/ --out dist/ --json | jq .classes",
    "&lt;link rel=\"stylesheet\" href=\"css/site.css\"&gt;\n"
    "&lt;script type=\"module\" src=\"js/app.js\"&gt;&lt;/script&gt;",
    "[tool.hashdeploy]\nhash_length = 12\nstable = [\"/downloads/**\"]\nsite_url = \"https://docs.example.com/\"",
    "def handler(event, context):\n    for record in event[\"Records\"]:\n"
    "        key = record[\"s3\"][\"object\"][\"key\"]\n"
    "        if key.endswith(\".html\"):\n            invalidate(key)",
)


# ---------------------------------------------------------------------------------------------- binary files

def png(width: int, height: int, seed: str, noise: bool) -> bytes:
    """A valid RGB PNG: a gradient, with random noise rows when `noise` (so it compresses like a photo)."""
    rng = random.Random(seed)
    r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    rows = []
    for y in range(height):
        if noise and y % 2:
            rows.append(b"\x00" + rng.randbytes(width * 3))
        else:
            rows.append(b"\x00" + bytes(v & 255 for x in range(width) for v in (r0 + x * 3, g0 + y * 2, b0 + x + y)))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
            + chunk(b"IEND", b""))


def font(name: str) -> bytes:
    """Opaque font-like bytes (a WOFF/WOFF2 signature and incompressible data, 20-60 KB)."""
    rng = random.Random(f"{SEED}:font:{name}")
    magic = b"wOF2" if name.endswith(".woff2") else b"wOFF"
    return magic + rng.randbytes(rng.randrange(20_000, 60_000))


def favicon_ico() -> bytes:
    """A one-image ICO wrapping a 16x16 PNG."""
    body = png(16, 16, f"{SEED}:favicon", noise=False)
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(body), 22) + body


# ---------------------------------------------------------------------------------------------- stylesheets

def _css_filler(rng: random.Random, prefix: str, n: int) -> str:
    """Plausible CSS rules without references."""
    props = ("margin", "padding", "color", "border-radius", "font-size", "line-height", "gap", "opacity")
    out = []
    for i in range(n):
        decls = "; ".join(
            f"{rng.choice(props)}: {rng.choice(('0', '.25rem', '1em', '#333', '1.5', '4px', '.8'))}"
            for _ in range(rng.randrange(2, 6))
        )
        out.append(f".{prefix}-{i} {{ {decls}; }}\n.{prefix}-{i}:hover {{ opacity: .{rng.randrange(1, 9)}; }}")
    return "\n".join(out) + "\n"


def stylesheets() -> dict[str, str]:
    """The ten stylesheets and their source maps, keyed by path under the site root."""
    rng = random.Random(f"{SEED}:css")
    icons = "\n".join(
        f".icon-{i:03d} {{ background-image: url(../img/icons/icon-{i:03d}.png); }}" for i in range(N_ICONS)
    )
    ff = (
        '@font-face {{ font-family: "{fam}"; font-weight: {w}; font-display: swap;\n'
        '  src: url("../fonts/{f}.woff2") format("woff2"), url(\'../fonts/{f}.woff\') format("woff"); }}\n'
    )
    css = {
        "css/site.css": (
            '@import url("base.css");\n@import "typography.css";\n@import url(layout.css);\n'
            "@import 'components.css';\n"
            "body { background: #fff url(../img/ui/bg-pattern.png) repeat; }\n"
            ".logo { background-image: url('../img/ui/logo.png'); width: 120px; height: 32px; }\n"
            + _css_filler(rng, "md", 120)
            + "/*# sourceMappingURL=site.css.map */\n"
        ),
        "css/base.css": (
            "*, *::before, *::after { box-sizing: border-box; }\n"
            'html { background-image: url("../img/ui/noise.png"); }\n' + _css_filler(rng, "base", 60)
        ),
        "css/typography.css": (
            ff.format(fam="Inter", w=400, f="inter-regular") + ff.format(fam="Inter", w=700, f="inter-bold")
            + "body { font-family: Inter, system-ui, sans-serif; }\n" + _css_filler(rng, "type", 40)
        ),
        "css/layout.css": (
            ".sidebar { background: url(/img/ui/sidebar-bg.png) repeat-y; }\n"
            ".banner { background-size: cover; min-height: 12rem; }\n" + _css_filler(rng, "grid", 150)
        ),
        "css/components.css": (
            '@import "icons.css";\n@import url("code.css");\n'
            ".admonition { background: url(\"../img/ui/og-default.png\") no-repeat; }\n"
            + _css_filler(rng, "c", 200)
        ),
        "css/icons.css": icons + "\n/*# sourceMappingURL=icons.css.map */\n",
        "css/code.css": (
            ff.format(fam="JetBrains Mono", w=400, f="jetbrains-mono")
            + "pre, code { font-family: 'JetBrains Mono', monospace; }\n"
            + "pre { background: #f6f8fa url(../img/ui/code-bg.png); }\n" + _css_filler(rng, "hl", 80)
        ),
        "css/theme-dark.css": (
            '@import "vendor/highlight.css";\n'
            ":root { color-scheme: dark; }\nbody { background: #111 url(/img/ui/bg-dark.png); }\n"
            + _css_filler(rng, "dark", 90)
        ),
        "css/print.css": (
            "@media print { .sidebar, nav { display: none; }\n"
            "  header::before { content: url(../img/ui/print-logo.png); } }\n" + _css_filler(rng, "print", 30)
        ),
        "css/vendor/highlight.css": (
            ".hljs { background: url(\"../../img/ui/code-bg.png\"); }\n" + _css_filler(rng, "hljs", 70)
        ),
    }
    for name in ("css/site.css", "css/icons.css"):
        css[name + ".map"] = json.dumps(
            {"version": 3, "file": name.rsplit("/", 1)[-1], "sources": [f"../scss/{name[4:-4]}.scss"],
             "names": [], "mappings": "AAAA,SAAS;AACT" * 20}
        )
    return css


# ---------------------------------------------------------------------------------------------- scripts

def _js_filler(rng: random.Random, name: str, n: int) -> str:
    """Plausible JavaScript functions without file names in strings."""
    out = []
    for i in range(n):
        a, b = rng.randrange(2, 99), rng.randrange(2, 99)
        out.append(
            f"function {name}_{i}(el, opts) {{\n"
            f"  const width = el.offsetWidth / {a} + (opts.pad || {b});\n"
            f"  if (width > {a * b}) {{ el.classList.add(\"is-wide\"); }}\n"
            f"  return /[a-z]+-{i}/i.test(el.className) ? width : width * {a % 7 + 1};\n}}\n"
        )
    return "".join(out)


def scripts() -> dict[str, str]:
    """The twenty scripts (ES modules with a cycle, classic scripts, a worker) and a source map."""
    rng = random.Random(f"{SEED}:js")
    modules: dict[str, tuple[list[str], int]] = {  # path -> (relative imports, filler functions)
        "js/app.js": (["./modules/nav.js", "./modules/theme.js", "./modules/toc.js", "./modules/clipboard.js",
                       "./modules/search-ui.js", "./i18n.js"], 30),
        "js/i18n.js": (["./lib/format.js"], 10),
        "js/modules/nav.js": (["./dom.js", "./state.js"], 25),
        "js/modules/state.js": (["./store.js"], 12),  # state <-> store: an import cycle
        "js/modules/store.js": (["./state.js", "./events.js"], 12),
        "js/modules/events.js": ([], 8),
        "js/modules/dom.js": ([], 20),
        "js/modules/theme.js": (["./store.js", "./dom.js"], 10),
        "js/modules/toc.js": (["./dom.js", "../lib/throttle.js"], 15),
        "js/modules/clipboard.js": (["./dom.js"], 6),
        "js/modules/search-ui.js": (["./dom.js", "./events.js", "../lib/debounce.js"], 20),
        "js/modules/lazy/charts.js": (["../dom.js", "../../lib/format.js"], 40),
        "js/lib/throttle.js": ([], 4),
        "js/lib/debounce.js": ([], 4),
        "js/lib/format.js": ([], 10),
    }
    out: dict[str, str] = {}
    for path, (imports, n) in modules.items():
        stem = path.rsplit("/", 1)[-1][:-3].replace("-", "_")
        head = "".join(f'import * as m{i} from "{spec}";\n' for i, spec in enumerate(imports))
        body = _js_filler(rng, stem, n)
        out[path] = head + body + f"export const {stem} = {{ ready: true }};\n"
    out["js/app.js"] += (
        "document.addEventListener(\"click\", async (e) => {\n"
        "  if (e.target.closest(\"[data-chart]\")) {\n"
        "    const { charts } = await import(\"./modules/lazy/charts.js\");\n"
        "    charts.ready && console.log(\"charts loaded\");\n  }\n});\n"
        "//# sourceMappingURL=app.js.map\n"
    )
    out["js/app.js.map"] = json.dumps(
        {"version": 3, "file": "app.js", "sources": ["../src/app.ts"], "names": [], "mappings": "AAAA;AACA" * 40}
    )
    out["js/vendor/polyfills.js"] = "(function () {\n\"use strict\";\n" + _js_filler(rng, "poly", 40) + "})();\n"
    out["js/search.js"] = (
        "(function () {\n"
        "  var base = document.querySelector(\"[data-base]\").dataset.base;\n"
        "  fetch(base + \"/search/search_index.json\").then(function (r) { return r.json(); });\n"
        "  var worker = new Worker(base + \"/js/workers/search-worker.js\");\n"
        + _js_filler(rng, "search", 30) + "})();\n"
    )
    out["js/workers/search-worker.js"] = "self.onmessage = function (e) { postMessage(e.data); };\n" + _js_filler(
        rng, "worker", 20)
    out["js/analytics.js"] = "(function () {\n" + _js_filler(rng, "analytics", 8) + "})();\n"
    out["js/vendor/highlight.min.js"] = "/*! highlight */\n" + _js_filler(rng, "hl", 150).replace("\n  ", "")
    return out


# ---------------------------------------------------------------------------------------------- pages

class Layout:
    """Which pages exist and where: exactly `total` HTML files."""

    def __init__(self, total: int) -> None:
        if total < 10:
            raise ValueError("--pages must be at least 10")
        # home + 404 + sections + content pages == total
        self.n_sections = max(1, math.ceil((total - 2) / (PAGES_PER_SECTION + 1)))
        self.n_content = total - 2 - self.n_sections
        self.total = total

    def section_of(self, i: int) -> int:
        """The section content page i belongs to."""
        return i * self.n_sections // self.n_content

    def pages_in(self, s: int) -> range:
        """The content pages of section s."""
        first = -(-s * self.n_content // self.n_sections)
        last = -(-(s + 1) * self.n_content // self.n_sections)
        return range(first, last)

    @staticmethod
    def section_dir(s: int) -> str:
        """The directory of section s."""
        return f"section-{s:02d}"

    def page_dir(self, i: int) -> str:
        """The directory of content page i."""
        return f"{self.section_dir(self.section_of(i))}/page-{i:04d}"


def _text(rng: random.Random, words: int) -> str:
    """A sentence-ish run of words."""
    w = rng.choices(WORDS, k=words)
    return w[0].capitalize() + " " + " ".join(w[1:]) + "."


def _paragraph(rng: random.Random) -> str:
    """A paragraph of a few sentences, sometimes with inline code or emphasis."""
    sentences = [_text(rng, rng.randrange(8, 22)) for _ in range(rng.randrange(3, 7))]
    if rng.random() < 0.3:
        sentences.insert(1, f"Use <code>--{rng.choice(WORDS)}</code> to change it.")
    if rng.random() < 0.2:
        sentences.append(f"<em>{_text(rng, 5)}</em>")
    return "<p>" + " ".join(sentences) + "</p>"


def _head(title: str, up: str, section: int | None, rng: random.Random, canonical: str) -> str:
    """<head>: 2 stylesheets, 3 scripts (one a module), icons, og:image; `up` is the path to the root."""
    second_css = ("/css/theme-dark.css", f"{up}css/print.css", "/css/vendor/highlight.css")[(section or 0) % 3]
    media = ' media="(prefers-color-scheme: dark)"' if "dark" in second_css else (
        ' media="print"' if "print" in second_css else "")
    og = f"/{Layout.section_dir(section)}/images/hero.png" if section is not None else "/img/ui/og-default.png"
    site_css = f"{up}css/site.css" if rng.random() < 0.5 else "/css/site.css"
    return f"""<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="generator" content="bench-gen 1.0">
  <title>{title} - Example Docs</title>
  <meta name="description" content="{_text(rng, 14)[:-1]}">
  <link rel="canonical" href="{canonical}">
  <link rel="icon" type="image/png" sizes="32x32" href="/img/ui/favicon-32.png">
  <link rel="apple-touch-icon" sizes="180x180" href="{up}img/ui/apple-touch-icon.png">
  <meta property="og:title" content="{title}">
  <meta property="og:image" content="{og}">
  <link rel="stylesheet" href="{site_css}">
  <link rel="stylesheet" href="{second_css}"{media}>
  <script src="{up}js/vendor/polyfills.js" defer></script>
  <script src="/js/search.js" defer></script>
  <script type="module" src="{up}js/app.js"></script>
</head>"""


def _header(up: str) -> str:
    """The site header with logo and search box."""
    logo = f'<img src="{up}img/ui/logo.png" alt="Example Docs" width="120" height="32">'
    return f"""<header class="md-header" data-base="{up.rstrip('/') or '.'}">
  <a href="{up}" class="logo" title="Example Docs">{logo}</a>
  <form class="search" action="/search/" role="search"><input type="search" name="q" placeholder="Search"></form>
</header>"""


def _footer(up: str) -> str:
    """The footer, with a JSON config block that names a script (as MkDocs Material does)."""
    config = json.dumps({"base": up.rstrip("/") or ".", "worker": "/js/workers/search-worker.js", "version": "1.4.2"})
    return f"""<footer class="md-footer">
  <p>Copyright &copy; 2024 Example Inc. &middot; <a href="{up}404.html">Lost?</a> &middot;
  <a href="https://github.com/example/docs">Source</a> &middot; <a href="mailto:docs@example.com">Contact</a></p>
</footer>
<script id="__config" type="application/json">{config}</script>"""


def _page_link(lay: Layout, here: int, j: int, rng: random.Random) -> str:
    """A link from content page `here` to content page j: relative or root-relative."""
    title = f"Page {j}"
    if lay.section_of(j) == lay.section_of(here) and rng.random() < 0.7:
        href = f"../page-{j:04d}/"
    elif rng.random() < 0.5:
        href = f"/{lay.page_dir(j)}/"
    else:
        href = f"../../{lay.page_dir(j)}/"
    return f'<li><a href="{href}">{title}</a></li>'


def _figure(rng: random.Random, up: str) -> str:
    """A gallery <img> with srcset (1x/2x) pointing at shared photos, mixing URL styles."""
    k = rng.randrange(N_PHOTOS - 1)
    a = f"{up}img/gallery/photo-{k:03d}.png"
    b = f"/img/gallery/photo-{k + 1:03d}.png"
    return (f'<figure><img src="{a}" srcset="{a} 1x, {b} 2x" alt="{_text(rng, 4)[:-1]}" loading="lazy" '
            f'width="640" height="360"><figcaption>{_text(rng, 8)}</figcaption></figure>')


def content_page(lay: Layout, i: int) -> str:
    """Content page i: ~15-25 KB with nav, images, inline styles, code and text."""
    rng = random.Random(f"{SEED}:page:{i}")
    s = lay.section_of(i)
    up = "../../"
    title = f"{_text(rng, 3)[:-1]} ({i})"
    links = sorted({rng.randrange(lay.n_content) for _ in range(40)} - {i})[:30]
    nav = "\n".join(_page_link(lay, i, j, rng) for j in links)
    icon = rng.randrange(N_ICONS)
    body = [
        f'<h1 id="top">{title}</h1>',
        f'<nav class="breadcrumbs"><a href="{up}">Home</a> / <a href="../">Section {s}</a></nav>',
        '<div class="banner" style="background-image: url(\'../images/hero.png\'); height: 12rem"></div>',
        _paragraph(rng),
        f'<figure class="diagram"><img src="../images/diagram-{1 + i % 2}.png" '
        f'srcset="../images/diagram-1.png 1x, /{lay.section_dir(s)}/images/diagram-2.png 2x" alt="diagram"></figure>',
    ]
    head = _head(title, up, s, rng, f"{SITE_URL}/{lay.page_dir(i)}/")

    def render() -> str:
        return f"""<!doctype html>
<html lang="en">
{head}
<body class="md-page">
{_header(up)}
<div class="md-container">
<nav class="sidebar" aria-label="Pages">
<ul>
{nav}
</ul>
</nav>
<main class="md-content">
{chr(10).join(body)}
</main>
</div>
{_footer(up)}
</body>
</html>
"""

    target = rng.randrange(16_000, 24_500)
    n_sub = 0
    while len(render().encode("utf-8")) + 1_200 < target:
        n_sub += 1
        anchor = f"part-{n_sub}"
        body.append(f'<h2 id="{anchor}">{_text(rng, 4)[:-1]}<a class="headerlink" href="#{anchor}">&para;</a></h2>')
        body.extend(_paragraph(rng) for _ in range(rng.randrange(2, 5)))
        if n_sub in (1, 3):
            body.append(_figure(rng, up))
        if n_sub == 2:
            body.append(f"<pre><code class=\"language-text\">{rng.choice(CODE_SNIPPETS)}</code></pre>")
            body.append(f'<p><span class="icon" style="background:url(/img/icons/icon-{icon:03d}.png) no-repeat '
                        f'center/16px;padding-left:20px">Note</span> {_text(rng, 12)}</p>')
        if n_sub == 4 and i % 5 == 0:
            k = rng.randrange(N_PHOTOS)
            body.append(f'<p><a href="/img/gallery/photo-{k:03d}.png">Full-size image</a></p>')
    return render()


def section_index(lay: Layout, s: int) -> str:
    """Section s's index: links to all its pages and the other sections."""
    rng = random.Random(f"{SEED}:section:{s}")
    up = "../"
    title = f"Section {s}"
    items = "\n".join(f'<li><a href="page-{j:04d}/">Page {j}</a> <span>{_text(rng, 10)}</span></li>'
                      for j in lay.pages_in(s))
    others = "\n".join(f'<li><a href="{up}{lay.section_dir(t)}/">Section {t}</a></li>'
                       for t in range(max(0, s - 10), min(lay.n_sections, s + 10)) if t != s)
    return f"""<!doctype html>
<html lang="en">
{_head(title, up, s, rng, f"{SITE_URL}/{lay.section_dir(s)}/")}
<body>
{_header(up)}
<nav class="sidebar"><ul>
{others}
</ul></nav>
<main>
<h1>{title}</h1>
<img src="images/hero.png" srcset="images/hero.png 1x, images/diagram-1.png 2x" alt="">
{_paragraph(rng)}
<ul class="pages">
{items}
</ul>
</main>
<script src="{up}js/vendor/highlight.min.js"></script>
{_footer(up)}
</body>
</html>
"""


def home_page(lay: Layout) -> str:
    """The home page: links to every section, a web app manifest."""
    rng = random.Random(f"{SEED}:home")
    sections = "\n".join(f'<li><a href="{lay.section_dir(t)}/">Section {t}</a></li>' for t in range(lay.n_sections))
    head = _head("Home", "", None, rng, f"{SITE_URL}/").replace(
        "</head>", '  <link rel="manifest" href="manifest.webmanifest">\n</head>')
    paragraphs = "\n".join(_paragraph(rng) for _ in range(8))
    return f"""<!doctype html>
<html lang="en">
{head}
<body>
{_header("")}
<main>
<h1>Example Docs</h1>
<div class="banner" style="background-image:url(img/ui/bg-pattern.png)"></div>
{paragraphs}
<ul class="sections">
{sections}
</ul>
</main>
<script src="js/analytics.js" async></script>
{_footer("")}
</body>
</html>
"""


def not_found_page() -> str:
    """404.html: served at any path, so only root-relative references."""
    rng = random.Random(f"{SEED}:404")
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Not found - Example Docs</title>
  <link rel="icon" type="image/png" href="/img/ui/favicon-32.png">
  <link rel="stylesheet" href="/css/site.css">
  <script type="module" src="/js/app.js"></script>
</head>
<body>
<main><h1>404</h1><img src="/img/ui/logo.png" alt=""><p>{_text(rng, 12)}</p><p><a href="/">Home</a></p></main>
</body>
</html>
"""


def sitemap(lay: Layout) -> str:
    """sitemap.xml listing every page."""
    urls = [f"{SITE_URL}/"] + [f"{SITE_URL}/{lay.section_dir(s)}/" for s in range(lay.n_sections)]
    urls += [f"{SITE_URL}/{lay.page_dir(i)}/" for i in range(lay.n_content)]
    body = "\n".join(f"  <url><loc>{u}</loc><lastmod>2024-05-01</lastmod></url>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{body}\n</urlset>\n')


def search_index(lay: Layout) -> str:
    """search/search_index.json, MkDocs style: a title and location per page."""
    docs = [{"location": f"{lay.page_dir(i)}/", "title": f"Page {i}", "text": _text(random.Random(i), 12)}
            for i in range(lay.n_content)]
    return json.dumps({"config": {"lang": ["en"]}, "docs": docs}, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------- driver

def generate(out: Path, pages: int) -> dict[str, int]:
    """Write the site into `out` (which must not exist or be empty); return counts of what was written."""
    lay = Layout(pages)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    counts = {"html": 0, "files": 0, "bytes": 0}

    def put(rel: str, data: str | bytes) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = data.encode("utf-8") if isinstance(data, str) else data
        path.write_bytes(raw)
        counts["files"] += 1
        counts["bytes"] += len(raw)
        counts["html"] += rel.endswith(".html")

    for rel, text in {**stylesheets(), **scripts()}.items():
        put(rel, text)
    for name in FONTS:
        put(f"fonts/{name}", font(name))
    for n, name in enumerate(UI_IMAGES):
        size = 180 if name == "apple-touch-icon" else (32 if name == "favicon-32" else 48 + 8 * n)
        put(f"img/ui/{name}.png", png(size, size, f"{SEED}:ui:{name}", noise=name in ("noise", "og-default")))
    for k in range(N_ICONS):
        put(f"img/icons/icon-{k:03d}.png", png(24, 24, f"{SEED}:icon:{k}", noise=False))
    for k in range(N_PHOTOS):
        side = 48 + (k * 37) % 112
        put(f"img/gallery/photo-{k:03d}.png", png(side, side * 9 // 16, f"{SEED}:photo:{k}", noise=True))
    for s in range(lay.n_sections):
        for n, name in enumerate(SECTION_IMAGES):
            put(f"{lay.section_dir(s)}/images/{name}", png(64 + 16 * n, 40, f"{SEED}:sec:{s}:{name}", noise=True))
        put(f"{lay.section_dir(s)}/index.html", section_index(lay, s))
    for i in range(lay.n_content):
        put(f"{lay.page_dir(i)}/index.html", content_page(lay, i))
    put("index.html", home_page(lay))
    put("404.html", not_found_page())
    put("favicon.ico", favicon_ico())
    put("robots.txt", f"User-agent: *\nAllow: /\nSitemap: {SITE_URL}/sitemap.xml\n")
    put("sitemap.xml", sitemap(lay))
    put("search/search_index.json", search_index(lay))
    put("manifest.webmanifest", json.dumps({
        "name": "Example Docs", "start_url": "/", "display": "standalone",
        "icons": [{"src": "img/ui/apple-touch-icon.png", "sizes": "180x180", "type": "image/png"}],
    }, indent=2))
    assert counts["html"] == pages, (counts["html"], pages)
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: generate a site of --pages N HTML pages into OUT_DIR."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=200, help="number of HTML pages (default 200, at least 10)")
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="directory to create (must not exist or be empty)")
    args = p.parse_args(argv)
    try:
        counts = generate(args.out, args.pages)
    except (ValueError, FileExistsError) as exc:
        print(f"gen_site: {exc}", file=sys.stderr)
        return 2
    print(f"gen_site: {counts['html']} pages, {counts['files']} files, {counts['bytes'] / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
