"""hashdeploy on sites built by real generators: MkDocs (mkdocs, readthedocs, Material), Sphinx, Hugo and Vite.

Each generator builds a small source project written by this module (binary fixtures are generated here, nothing
binary is committed) once per module, in a temporary directory. Vite is the exception: npm needs the network, so its
output is committed in fixtures/sites/vite/dist/ (fixtures/sites/vite/RECIPE.md regenerates it).

Every processed site is checked with siteassert (references resolve, point at hashed or fingerprinted files, pages
differ only in URLs), against the manifest, for idempotence, and for what each generator is known to produce.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, load_manifest, png, read_tree, write_tree
from siteassert import assert_site_consistent, subresource_urls

from hashdeploy.cli.main import main

VITE_DIST = ROOT / "fixtures" / "sites" / "vite" / "dist"
HEX12 = r"[0-9a-f]{12}"
ORIGIN = "http://site.test/"


# ---------------------------------------------------------------------------------------------------------------
# tiny binary fixtures, generated


# A WOFF2 header-shaped blob: no test renders it, it only has to be a distinct binary file.
WOFF2 = b"wOF2\x00\x01\x00\x00" + bytes(range(40))
LOGO, DIAGRAM, BG = png(2, 2, (200, 30, 30)), png(3, 2, (30, 200, 30)), png(1, 1, (30, 30, 200))


# ---------------------------------------------------------------------------------------------------------------
# running tools


def _build(cmd: list[str | Path]) -> None:
    """Run a generator; fail the test with its output when it fails."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def hashdeploy(*args: str | Path, work: Path) -> tuple[int, str, str]:
    """Run the CLI in-process from `work` (no project config file), with no HASHDEPLOY_* settings and its own
    parse cache; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("HASHDEPLOY_"):
                mp.delenv(name)
        work.mkdir(parents=True, exist_ok=True)
        mp.chdir(work)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args] + ["--cache-dir", str(work / "cache")])
    return code, out.getvalue(), err.getvalue()


@dataclass
class Processed:
    """A generated site and hashdeploy's output for it."""

    name: str
    src: Path
    out: Path
    work: Path
    flags: tuple[str, ...]
    manifest: dict[str, Any]
    stderr: str

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.manifest["files"])

    def cls(self, key: str) -> str:
        return cast(str, self.files[key]["class"])

    def new(self, key: str) -> str:
        """The hashed name hashdeploy gave a source file (KeyError when it was not renamed)."""
        return cast(str, self.manifest["assets"][key])

    def text(self, key: str) -> str:
        return (self.out / key).read_text(encoding="utf-8")

    def one(self, pattern: str) -> str:
        """The single source key matching a regular expression (for names carrying a generator's hash)."""
        keys: list[str] = sorted({e["source"] for e in self.files.values() if re.fullmatch(pattern, e["source"])})
        assert len(keys) == 1, f"{pattern}: expected one file in {self.src}, found {keys}"
        return keys[0]


def process(name: str, src: Path, work: Path, *flags: str) -> Processed:
    out = work / "out"
    code, _stdout, stderr = hashdeploy(src, "--out", out, "--quiet", *flags, work=work)
    assert code == 0, f"hashdeploy failed on the {name} site: {stderr}"
    return Processed(name, src, out, work, flags, load_manifest(out), stderr)


# ---------------------------------------------------------------------------------------------------------------
# independent checks


def _resolve(page_key: str, url: str) -> str | None:
    """Map a URL written in page_key to a site key (served at /), or None when it is not on the site."""
    full = urljoin(ORIGIN + page_key, url.strip())
    if not full.startswith(ORIGIN):
        return None
    path = unquote(urlsplit(full).path)[1:]
    return path + "index.html" if path.endswith("/") or not path else path


def sri_attributes(out: Path) -> list[tuple[str, str, str, str]]:
    """(page, url, resolved key, integrity value) for every tag with an integrity attribute."""
    found = []
    for page in sorted(out.rglob("*.html")):
        key = page.relative_to(out).as_posix()
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag in soup.find_all(integrity=True):
            url = cast(str, tag.get("src") or tag.get("href"))
            target = _resolve(key, url)
            assert target is not None, f"{key}: integrity on an external URL {url}"
            found.append((key, url, target, cast(str, tag["integrity"])))
    return found


def assert_integrity_matches(out: Path) -> int:
    """Every integrity="" in the output matches the bytes the browser will fetch (else it refuses the file)."""
    checked = 0
    for page, url, target, value in sri_attributes(out):
        assert (out / target).is_file(), f"{page}: {url} has integrity but {target} is missing"
        data = (out / target).read_bytes()
        ok = []
        for item in value.split():
            alg, _, digest = item.partition("-")
            ok.append(base64.b64encode(hashlib.new(alg, data).digest()).decode() == digest.split("?")[0])
        assert any(ok), f"{page}: integrity {value} of {url} does not match the bytes of {target}"
        checked += 1
    return checked


_INTEGRITY = re.compile(r'(\bintegrity=")([^"]*)(")')


def source_with_output_integrity(p: Processed) -> Path:
    """p.src, with each page's integrity values taken from the output (after assert_integrity_matches checked
    them), so siteassert's "only URLs changed" check sees a legitimately updated integrity as unchanged."""
    if not any(_INTEGRITY.search(f.read_text(encoding="utf-8")) for f in p.out.rglob("*.html")):
        return p.src
    copy = p.work / "src-with-output-integrity"
    if copy.exists():
        return copy
    shutil.copytree(p.src, copy)
    for key, entry in p.files.items():
        if not key.endswith(".html"):
            continue
        path = copy / entry["source"]
        before = path.read_text(encoding="utf-8")
        values = [m.group(2) for m in _INTEGRITY.finditer(p.text(key))]
        found = list(_INTEGRITY.finditer(before))
        assert len(values) == len(found), f"{key}: integrity attributes added or removed"
        pieces, pos = [], 0
        for m, value in zip(found, values, strict=True):
            pieces += [before[pos : m.start(2)], value]
            pos = m.end(2)
        path.write_text("".join(pieces) + before[pos:], encoding="utf-8")
    return copy


_MAP_REF = re.compile(r"[#@]\s*sourceMappingURL=([^\s*]+)")
_CSS_REF = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")


def inner_refs(out: Path, key: str) -> list[tuple[str, str | None]]:
    """(url, resolved key) of the url()/@import and sourceMappingURL references inside a CSS or JS file."""
    text = (out / key).read_text(encoding="utf-8", errors="replace")
    urls = [m.group(1) for m in _MAP_REF.finditer(text)]
    if key.endswith(".css"):
        urls += [m.group(2) or m.group(4) for m in _CSS_REF.finditer(re.sub(r"/\*.*?\*/", "", text, flags=re.S))]
    return [(u, _resolve(key, u)) for u in urls if not u.startswith(("data:", "#"))]


# ---------------------------------------------------------------------------------------------------------------
# MkDocs (built-in mkdocs and readthedocs themes, and Material)

MKDOCS_DOCS: dict[str, str | bytes] = {
    "index.md": "# Home\n\n![Logo](img/logo.png)\n\nSee [install](guide/install.md) and "
                "[tuning](guide/advanced/tuning.md).\n",
    "guide/install.md": "# Install\n\n![Diagram](../img/diagram.png)\n\nBack [home](../index.md).\n",
    "guide/advanced/tuning.md": "# Tuning\n\n![Logo again](../../img/logo.png)\n\nSee the "
                                "[API](../../reference/api.md).\n",
    "reference/api.md": "# API\n\nSome `code`.\n\n```python\nprint('hello')\n```\n",
    "css/extra.css": '@font-face { font-family: "Inter"; src: url("../fonts/inter.woff2") format("woff2"); }\n'
                     "body { background: url(../img/bg.png) repeat; font-family: Inter, sans-serif; }\n",
    "js/extra.js": 'document.documentElement.classList.add("extra-js");\n',
    "img/logo.png": LOGO,
    "img/diagram.png": DIAGRAM,
    "img/bg.png": BG,
    "fonts/inter.woff2": WOFF2,
}
MKDOCS_YML = """\
site_name: Generator Test
site_url: https://docs.example.com/
docs_dir: docs
theme:
  name: {theme}
use_directory_urls: {dir_urls}
extra_css: [css/extra.css]
extra_javascript: [js/extra.js]
nav:
  - Home: index.md
  - Guide:
    - Install: guide/install.md
    - Tuning: guide/advanced/tuning.md
  - Reference: reference/api.md
"""
MKDOCS_VARIANTS = {  # name -> (theme, use_directory_urls)
    "mkdocs-dirurls": ("mkdocs", True), "mkdocs-flat": ("mkdocs", False),
    "readthedocs-dirurls": ("readthedocs", True), "readthedocs-flat": ("readthedocs", False),
}
MKDOCS_THEME_CSS = {
    "mkdocs": ("css/base.css", "css/bootstrap.min.css"),
    "readthedocs": ("css/theme.css", "css/theme_extra.css"),
}


def _mkdocs(root: Path, name: str, theme: str, dir_urls: bool) -> Path:
    if not (root / "docs").is_dir():
        write_tree(root / "docs", MKDOCS_DOCS)
    cfg = root / f"mkdocs-{name}.yml"
    cfg.write_text(MKDOCS_YML.format(theme=theme, dir_urls=str(dir_urls).lower()), encoding="utf-8")
    site = root / f"site-{name}"
    _build([sys.executable, "-m", "mkdocs", "build", "-q", "-f", cfg, "-d", site])
    return site


@pytest.fixture(scope="module")
def mkdocs_sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Processed]:
    root = tmp_path_factory.mktemp("mkdocs")
    return {
        name: process(name, _mkdocs(root, name, theme, dir_urls), root / f"work-{name}")
        for name, (theme, dir_urls) in MKDOCS_VARIANTS.items()
    }


@pytest.fixture(scope="module")
def material_site(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    root = tmp_path_factory.mktemp("material")
    return process("material", _mkdocs(root, "material", "material", True), root / "work")


# ---------------------------------------------------------------------------------------------------------------
# Sphinx

SPHINX_SRC: dict[str, str | bytes] = {
    "conf.py": 'project = "Generator Test"\nauthor = "Tests"\nhtml_theme = "alabaster"\n'
               'html_static_path = ["_static"]\nhtml_css_files = ["css/site.css"]\nhtml_js_files = ["site.js"]\n',
    "_static/css/site.css": '@font-face { font-family: "Inter"; src: url("../fonts/inter.woff2") format("woff2"); }\n'
                            "body { background-image: url(../img/bg.png); }\n",
    "_static/fonts/inter.woff2": WOFF2,
    "_static/img/bg.png": BG,
    "_static/site.js": 'console.log("site");\n',
    "img/diagram.png": DIAGRAM,
    "img/logo.png": LOGO,
    # a scaled figure: Sphinx links the image to itself with <a href> as well as loading it with <img src>
    "index.rst": "Generator Test\n==============\n\n.. toctree::\n   :maxdepth: 2\n\n   guide/install\n"
                 "   guide/deep/tuning\n\n.. figure:: img/diagram.png\n   :alt: A diagram\n   :scale: 50%\n\n"
                 "   The caption.\n",
    # an image without :alt: - Sphinx writes alt="../_images/logo.png" (the URI)
    "guide/install.rst": "Install\n=======\n\n.. image:: ../img/logo.png\n\nSome ``code``.\n\n"
                         ".. code-block:: python\n\n   print('hello')\n",
    "guide/deep/tuning.rst": "Tuning\n======\n\n.. figure:: ../../img/diagram.png\n   :alt: The same diagram\n"
                             "   :scale: 50%\n\n   Scaled figure.\n\n:download:`The logo <../../img/logo.png>`\n",
}


@pytest.fixture(scope="module")
def sphinx_site(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    root = tmp_path_factory.mktemp("sphinx")
    write_tree(root / "src", SPHINX_SRC)
    _build([sys.executable, "-m", "sphinx", "-q", "-b", "html", root / "src", root / "html"])  # = sphinx-build
    return process("sphinx", root / "html", root / "work")


# ---------------------------------------------------------------------------------------------------------------
# Hugo (a self-made layouts directory: no theme download)

HUGO_SRC: dict[str, str | bytes] = {
    "config.toml": 'baseURL = "https://example.org/"\nlanguageCode = "en-us"\ntitle = "Hugo Generator Test"\n',
    "layouts/_default/baseof.html": """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ .Title }}</title>
<link rel="stylesheet" href="{{ "css/site.css" | relURL }}">
{{ $theme := resources.Get "css/theme.css" | minify | fingerprint }}
<link rel="stylesheet" href="{{ $theme.RelPermalink }}" integrity="{{ $theme.Data.Integrity }}">
<link rel="icon" href="{{ "img/logo.png" | relURL }}">
</head>
<body>
<nav><a href="{{ "/" | relURL }}">Home</a> <a href="{{ "posts/" | relURL }}">Posts</a></nav>
<main>{{ block "main" . }}{{ end }}</main>
<script src="{{ "js/app.js" | relURL }}"></script>
{{ $main := resources.Get "js/main.js" | minify | fingerprint }}
<script src="{{ $main.RelPermalink }}" integrity="{{ $main.Data.Integrity }}"></script>
</body>
</html>
""",
    "layouts/_default/single.html": '{{ define "main" }}<article><h1>{{ .Title }}</h1>{{ .Content }}</article>'
                                    "{{ end }}\n",
    "layouts/_default/list.html": '{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Pages }}'
                                  '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n',
    "layouts/index.html": '{{ define "main" }}<h1>{{ .Site.Title }}</h1><img src="{{ "img/logo.png" | relURL }}" '
                          'alt="logo">{{ .Content }}<ul>{{ range .Site.RegularPages }}'
                          '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n',
    # a full-content feed, as many themes have: the post HTML, images included, escaped in <description>
    "layouts/_default/rss.xml": """\
{{ printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0"><channel><title>{{ .Site.Title }}</title><link>{{ .Permalink }}</link>
{{ range .Pages }}<item><title>{{ .Title }}</title><link>{{ .Permalink }}</link>
<description>{{ .Content | html }}</description></item>
{{ end }}</channel></rss>
""",
    "static/css/site.css": '@font-face { font-family: "Inter"; src: url("/fonts/inter.woff2") format("woff2"); }\n'
                           "body { background: url(../img/bg.png); font-family: Inter, sans-serif; }\n",
    "static/fonts/inter.woff2": WOFF2,
    "static/img/bg.png": BG,
    "static/img/logo.png": LOGO,
    "static/js/app.js": 'document.body.dataset.js = "1";\n',
    "assets/css/theme.css": 'header { background-image: url("/img/bg.png"); }\nh1 { color: #333; }\n',
    "assets/js/main.js": 'console.log("fingerprinted by Hugo");\n',
    "content/_index.md": "---\ntitle: Home\n---\nWelcome.\n",
    "content/about.md": "---\ntitle: About\n---\nAbout this site. [Full-size logo](/img/logo.png)\n",
    "content/posts/first.md": "---\ntitle: First post\ndate: 2024-01-01\ntags: [demo]\n---\n"
                              "An image from static: ![bg](/img/bg.png)\n",
    "content/posts/second/index.md": "---\ntitle: Second post\ndate: 2024-01-02\n---\n"
                                     "A page-bundle image: ![diagram](diagram.png)\n",
    "content/posts/second/diagram.png": DIAGRAM,
}


@pytest.fixture(scope="module")
def hugo_site(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    hugo = shutil.which("hugo")
    if hugo is None:
        pytest.skip("hugo is not on PATH (./dev test installs Debian's hugo)")
    root = tmp_path_factory.mktemp("hugo")
    write_tree(root / "src", HUGO_SRC)
    _build([hugo, "--quiet", "-s", root / "src", "-d", root / "public"])
    return process("hugo", root / "public", root / "work", "--site-url", "https://example.org/")


# ---------------------------------------------------------------------------------------------------------------
# Vite (committed output, see fixtures/sites/vite/RECIPE.md)


@pytest.fixture(scope="module")
def vite_site(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    return process("vite", VITE_DIST, tmp_path_factory.mktemp("vite"))


# ---------------------------------------------------------------------------------------------------------------
# every site

SITES = [*MKDOCS_VARIANTS, "material", "sphinx", "hugo", "vite"]


@pytest.fixture
def generated(request: pytest.FixtureRequest) -> Callable[[str], Processed]:
    """name -> the processed site (each built once per module, on first use)."""
    def get(name: str) -> Processed:
        if name in MKDOCS_VARIANTS:
            return cast(Processed, request.getfixturevalue("mkdocs_sites")[name])
        return cast(Processed, request.getfixturevalue(f"{name}_site"))

    return get


@pytest.mark.parametrize("name", SITES)
def test_site_is_consistent(generated: Callable[[str], Processed], name: str) -> None:
    """siteassert: every subresource of every page and stylesheet resolves to an output file that is hashed or
    fingerprinted (or stable for a fixed-URL reason), and pages differ from the generator's only in URLs."""
    p = generated(name)
    assert_integrity_matches(p.out)
    counts = assert_site_consistent(source_with_output_integrity(p), p.out, p.manifest)
    assert counts["html"] >= 1 and counts["subresources"] >= 4 and counts["hashed_refs"] >= 1, counts
    assert p.stderr == "", f"warnings on a well-formed {name} site: {p.stderr}"


@pytest.mark.parametrize("name", SITES)
def test_manifest_describes_the_output(generated: Callable[[str], Processed], name: str) -> None:
    p = generated(name)
    src = read_tree(p.src)
    out = {k: v for k, v in read_tree(p.out).items() if not k.startswith(".hashdeploy/")}
    assert set(out) == set(p.files)
    for key, entry in p.files.items():
        assert entry["sha256"] == hashlib.sha256(out[key]).hexdigest(), key
        assert entry["size"] == len(out[key]), key
        assert entry["class"] in ("hashed", "fingerprinted", "stable"), key
        if entry["class"] == "hashed":  # (none of these sites has a cycle of hashed files sharing one hash)
            assert f".{entry['sha256'][:12]}." in key.rsplit("/", 1)[-1], f"{key}: name is not its final bytes' hash"
            assert p.manifest["assets"][entry["source"]] == key
        if entry["class"] == "fingerprinted":
            assert key == entry["source"] and out[key] == src[key], f"{key}: a fingerprinted file must be untouched"
        if entry["class"] == "stable":
            assert key == entry["source"], f"{key}: a stable file keeps its name"
    # nothing is lost: every file of the generated site is published under its own name or a hashed one
    assert {e["source"] for e in p.files.values()} == set(src)
    for old, new in p.manifest["assets"].items():
        assert p.files[new]["class"] == "hashed" and p.files[new]["source"] == old


# Vite: assets/lazy-<vite hash>.css is named only in __vite__mapDeps and its url(/grain.svg) is rewritten, so it is
# stable ("its build-tool hash went stale"); a second run must keep it stable, not call its name a fingerprint.
@pytest.mark.parametrize("name", list(SITES))
def test_rerun_on_output_changes_nothing(generated: Callable[[str], Processed], name: str) -> None:
    p = generated(name)
    again = p.work / "again"
    code, _out, err = hashdeploy(p.out, "--out", again, "--quiet", *p.flags, work=p.work)
    assert code == 0, err
    first, second = read_tree(p.out), read_tree(again)
    assert sorted(first) == sorted(second)
    changed = [k for k in first if first[k] != second[k]]
    assert changed == [], f"changed by a second run: {changed}"


def test_dry_run_json_reports_classes(generated: Callable[[str], Processed]) -> None:
    p = generated("mkdocs-dirurls")
    before = read_tree(p.src)
    siblings = sorted(x.name for x in p.src.parent.iterdir())
    code, stdout, err = hashdeploy(p.src, "--dry-run", "--json", work=p.work)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["dry_run"] is True
    assert doc["files"] == len(doc["details"]) == len(p.files)
    assert sum(doc["classes"].values()) == doc["files"] and set(doc["classes"]) == {"hashed", "fingerprinted", "stable"}
    assert doc["classes"]["hashed"] > 10 and doc["classes"]["stable"] >= 5
    assert {k: v["class"] for k, v in doc["details"].items()} == {k: v["class"] for k, v in p.files.items()}
    assert doc["renamed"] == p.manifest["assets"]
    assert set(doc["rewritten"]) >= {"index.html", "css/extra.css"}
    assert read_tree(p.src) == before and sorted(x.name for x in p.src.parent.iterdir()) == siblings


# ---------------------------------------------------------------------------------------------------------------
# per generator


@pytest.mark.parametrize("name", list(MKDOCS_VARIANTS))
def test_mkdocs_classes(generated: Callable[[str], Processed], name: str) -> None:
    p = generated(name)
    theme, dir_urls = MKDOCS_VARIANTS[name]
    pages = ["index.html", "404.html"] + [
        f"{page}/index.html" if dir_urls else f"{page}.html"
        for page in ("guide/install", "guide/advanced/tuning", "reference/api")
    ]
    for key in pages + ["search/search_index.json", "search/worker.js", "sitemap.xml", "sitemap.xml.gz"]:
        assert p.cls(key) == "stable", key
    for key in MKDOCS_THEME_CSS[theme] + ("css/extra.css", "js/extra.js", "search/main.js", "img/logo.png",
                                          "img/diagram.png", "img/bg.png", "fonts/inter.woff2"):
        assert p.files[p.new(key)]["class"] == "hashed", key
        assert key not in p.files, f"{key} is only loaded as a subresource, no copy should stay at its old name"
    # extra_css: its url()s point at the hashed image and font
    css = p.text(p.new("css/extra.css"))
    assert f'url("../{p.new("fonts/inter.woff2")}")' in css
    assert f"url(../{p.new('img/bg.png')})" in css
    # Markdown images on nested pages, relative to each page
    install = p.text(pages[2])
    up = "../../" if dir_urls else "../"
    assert f'src="{up}{p.new("img/diagram.png")}"' in install
    assert f'src="{up}{p.new("js/extra.js")}"' in install and f'href="{up}{p.new("css/extra.css")}"' in install
    # 404.html is served at any depth, so MkDocs writes root-relative URLs (site_url is set)
    assert f'href="/{p.new("css/extra.css")}"' in p.text("404.html")


def test_material_bundles_are_fingerprinted(generated: Callable[[str], Processed]) -> None:
    p = generated("material")
    bundles = [
        p.one(r"assets/stylesheets/main\.[0-9a-f]{8}\.min\.css"),
        p.one(r"assets/stylesheets/palette\.[0-9a-f]{8}\.min\.css"),
        p.one(r"assets/javascripts/bundle\.[0-9a-f]{8}\.min\.js"),
        p.one(r"assets/javascripts/workers/search\.[0-9a-f]{8}\.min\.js"),
    ]
    for key in bundles:
        assert p.cls(key) == "fingerprinted", key
        assert key not in p.manifest["assets"], f"{key} already carries Material's hash and must not be renamed"
        assert (p.out / key).read_bytes() == (p.src / key).read_bytes()
        for url, target in inner_refs(p.out, key):
            assert target is not None and (p.out / target).is_file(), f"{key}: {url} does not resolve"
    page = p.text("guide/install/index.html")
    assert f'href="../../{bundles[0]}"' in page and f'src="../../{bundles[2]}"' in page
    # the search worker is named in the page's JSON config, which hashdeploy does not rewrite: it must not move
    config_script = re.search(r'<script id="__config" type="application/json">(.*?)</script>', page, re.S)
    assert config_script is not None
    config = json.loads(config_script[1])
    assert _resolve("guide/install/index.html", config["search"]) == bundles[3]
    # the worker loads lunr's language files by computed URL: they stay where they are
    lunr = [k for k in p.files if k.startswith("assets/javascripts/lunr/")]
    assert lunr and all(p.cls(k) == "stable" for k in lunr)
    assert p.cls("search/search_index.json") == "stable"
    for key in ("css/extra.css", "js/extra.js", "img/logo.png", "fonts/inter.woff2", "assets/images/favicon.png"):
        assert p.files[p.new(key)]["class"] == "hashed", key


def test_sphinx_classes(generated: Callable[[str], Processed]) -> None:
    p = generated("sphinx")
    static_css = [k for k in read_tree(p.src) if k.startswith("_static/") and k.endswith(".css")]
    expected = {"_static/basic.css", "_static/pygments.css", "_static/alabaster.css", "_static/css/site.css"}
    assert expected <= set(static_css)
    for key in static_css:
        assert p.files[p.new(key)]["class"] == "hashed", key
    for key in ("_static/site.js", "_static/doctools.js", "_static/fonts/inter.woff2", "_static/img/bg.png"):
        assert p.files[p.new(key)]["class"] == "hashed", key
    site_css = p.text(p.new("_static/css/site.css"))
    assert p.new("_static/fonts/inter.woff2").rsplit("/", 1)[1] in site_css
    assert p.new("_static/img/bg.png").rsplit("/", 1)[1] in site_css
    # Sphinx's cache-busting query strings stay as written after the hashed name
    page = p.text("guide/install.html")
    assert re.search(rf'href="\.\./_static/basic\.{HEX12}\.css\?v=[0-9a-f]+"', page)
    # searchindex.js: whatever the engine decides, the search page loads a file that exists
    search_js = [t for u, t in subresource_urls(p.out, "search.html") if "searchindex" in t]
    assert len(search_js) == 1 and (p.out / search_js[0]).is_file()
    # builder files and downloads are not subresources
    for key in (".buildinfo", "objects.inv", "_sources/index.rst.txt", ".doctrees/environment.pickle"):
        assert p.cls(key) == "stable", key
    download = p.one(r"_downloads/[0-9a-f]+/logo\.png")
    assert p.cls(download) == "stable" and download not in p.manifest["assets"]


def test_sphinx_linked_figure_gets_hashed_copy_and_stays_linkable(generated: Callable[[str], Processed]) -> None:
    """A scaled figure is both <img src> and <a href>: hashed copy for the image, stable copy for the link."""
    p = generated("sphinx")
    new = p.new("_images/diagram.png")
    assert p.cls(new) == "hashed" and p.cls("_images/diagram.png") == "stable"
    page = p.text("guide/deep/tuning.html")
    assert 'href="../../_images/diagram.png"' in page and f'src="../../{new}"' in page


# Sphinx writes alt=<the image URI> for every image without :alt:; alt text is for people and must not pin it.
def test_sphinx_image_with_default_alt_is_hashed(generated: Callable[[str], Processed]) -> None:
    p = generated("sphinx")
    assert 'alt="../_images/logo.png"' in (p.src / "guide/install.html").read_text(encoding="utf-8")
    assert "_images/logo.png" in p.manifest["assets"], p.files["_images/logo.png"]["reason"]
    new = p.new("_images/logo.png")
    assert p.cls(new) == "hashed"
    assert f'src="../{new}"' in p.text("guide/install.html")


def test_hugo_classes(generated: Callable[[str], Processed]) -> None:
    p = generated("hugo")
    for key in ("css/site.css", "img/bg.png", "fonts/inter.woff2", "js/app.js", "posts/second/diagram.png"):
        assert p.files[p.new(key)]["class"] == "hashed", key
    site_css = p.text(p.new("css/site.css"))
    assert f'url("/{p.new("fonts/inter.woff2")}")' in site_css and f"url(../{p.new('img/bg.png')})" in site_css
    # the logo is a subresource (icon, <img>) and a link target (the about page): both
    assert p.cls(p.new("img/logo.png")) == "hashed" and p.cls("img/logo.png") == "stable"
    assert 'href="/img/logo.png"' in p.text("about/index.html")
    # Hugo-fingerprinted bundle without references: left alone, integrity untouched
    js = p.one(r"js/main\.min\.[0-9a-f]{64}\.js")
    assert p.cls(js) == "fingerprinted"
    # Hugo-fingerprinted stylesheet whose url() hashdeploy rewrote: Hugo's hash went stale, so it gets a new name
    # and every page's integrity="" follows its new bytes
    css = p.one(r"css/theme\.min\.[0-9a-f]{64}\.css")
    assert p.cls(p.new(css)) == "hashed" and css not in p.files
    assert f"url(/{p.new('img/bg.png')})" in p.text(p.new(css))
    integrity = {(t, v) for _page, _u, t, v in sri_attributes(p.out)}
    assert {t for t, _v in integrity} == {p.new(css), js}
    assert {v for t, v in integrity if t == js} == {v for _p, _u, t, v in sri_attributes(p.src) if t == js}
    assert assert_integrity_matches(p.out) == 2 * sum(1 for k in p.files if k.endswith(".html"))
    for key in ("sitemap.xml", "index.xml", "posts/index.xml", "tags/index.xml", "tags/demo/index.xml"):
        assert p.cls(key) == "stable", key


# Hugo's full-content RSS carries post HTML escaped in <description> (&lt;img src=&#34;https://example.org/img/bg.png
# &#34;&gt;): feed readers fetch that URL, so a copy must stay there while pages load the hashed one.
def test_hugo_feed_images_stay_reachable(generated: Callable[[str], Processed]) -> None:
    p = generated("hugo")
    src = read_tree(p.src)
    referenced = set()
    for key in (k for k in src if k.endswith("index.xml")):
        for url in re.findall(r'(?:src|href)="(https://example\.org/[^"]+)"', html.unescape(src[key].decode())):
            target = urlsplit(url).path.lstrip("/")
            if target in src and not target.endswith(".html") and not url.endswith("/"):
                referenced.add(target)
    assert "img/bg.png" in referenced
    missing = sorted(t for t in referenced if not (p.out / t).is_file())
    assert missing == [], f"named in a feed but no longer published at that URL: {missing}"


def test_vite_chunks_are_fingerprinted(generated: Callable[[str], Processed]) -> None:
    p = generated("vite")
    vite = r"-[A-Za-z0-9_-]{8}\."
    entry_js, entry_css = p.one(rf"assets/index{vite}js"), p.one(rf"assets/index{vite}css")
    lazy_js, lazy_css = p.one(rf"assets/lazy{vite}js"), p.one(rf"assets/lazy{vite}css")
    for key in (entry_js, entry_css, lazy_js, p.one(rf"assets/bg{vite}svg"), p.one(rf"assets/logo{vite}svg")):
        assert p.cls(key) == "fingerprinted", key
        assert (p.out / key).read_bytes() == (p.src / key).read_bytes()
        for url, target in inner_refs(p.out, key):
            assert target is not None and (p.out / target).is_file(), f"{key}: {url} does not resolve"
    # public/ files carry no hash: hashdeploy adds one
    assert p.cls(p.new("favicon.svg")) == "hashed" and p.cls(p.new("grain.svg")) == "hashed"
    page = p.text("index.html")
    assert f'src="/{entry_js}"' in page and f'href="/{entry_css}"' in page and f'href="/{p.new("favicon.svg")}"' in page
    # the lazy chunk's stylesheet is named only in the entry chunk's __vite__mapDeps (not rewritable), and its
    # url(/grain.svg) was rewritten: it keeps its (now stale) Vite name and is cached as stable
    assert lazy_css in p.text(entry_js)
    assert p.cls(lazy_css) == "stable" and f"url(/{p.new('grain.svg')})" in p.text(lazy_css)
    # the entry chunk imports the lazy one and the lazy one imports back: the cycle stays intact
    assert f'import("./{lazy_js[7:]}")' in p.text(entry_js) and f'from"./{entry_js[7:]}"' in p.text(lazy_js)
