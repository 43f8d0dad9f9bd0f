"""The Sphinx extension, through real `sphinx-build` runs: themes, builders, -W, incremental builds, deploys, a browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, chromium_browser, static_server
from bs4 import BeautifulSoup
from conftest import AwsWorld, load_manifest, png, read_tree, write_tree
from siteassert import assert_site_consistent

WORD = "pineapple"  # in guide/deep/tuning.rst only
SRC: dict[str, str | bytes] = {
    "index.rst": "Home\n====\n\n.. image:: img/logo.png\n   :alt: logo\n\nSee :doc:`guide/install`.\n\n"
                 ".. toctree::\n\n   guide/install\n   guide/deep/tuning\n",
    "guide/install.rst": "Install\n=======\n\n.. figure:: ../img/diagram.png\n   :alt: diagram\n\n   A figure.\n\n"
                         ".. code-block:: python\n\n   print('hello')\n",
    "guide/deep/tuning.rst": f"Tuning\n======\n\nThe {WORD} setting.\n\n.. figure:: ../../img/diagram.png\n"
                             "   :alt: scaled\n   :scale: 50%\n\n   Scaled figure (wrapped in a link).\n\n"
                             ":download:`The logo <../../img/logo.png>`\n",
    "_static/custom.css": "body { background-image: url(bg.png); }\n",
    "_static/bg.png": png(1, 1, (250, 250, 240)),
    "img/logo.png": png(2, 2, (200, 30, 30)),
    "img/diagram.png": png(4, 2, (30, 200, 30)),
}
THEMES = ["alabaster", "furo", "sphinx_rtd_theme"]


def conf(theme: str, **values: Any) -> str:
    lines = ["project = 'Hook test'", f"html_theme = {theme!r}", "html_static_path = ['_static']",
             "html_css_files = ['custom.css']", "extensions = ['hashdeploy.sphinx']" if values.pop("hook", True)
             else "extensions = []"]
    lines += [f"{k} = {v!r}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def project(root: Path, theme: str = "alabaster", **values: Any) -> Path:
    write_tree(root, SRC | {"conf.py": conf(theme, **values)})
    return root


def sphinx(src: Path, out: Path, *args: str, builder: str = "html", env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    # -d outside the output: doctrees are Sphinx's cache, not part of the site
    cmd = [sys.executable, "-m", "sphinx", "-q", "-b", builder, "-d", str(out) + ".doctrees", *args, str(src), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, **(env or {})))
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Path]]:
    """(theme, builder) -> (plain output, processed output)."""
    out = {}
    for theme in THEMES:
        for builder in ("html", "dirhtml"):
            root = tmp_path_factory.mktemp(f"{theme}-{builder}")
            sphinx(project(root / "plain-src", theme, hook=False), root / "plain", builder=builder)
            sphinx(project(root / "src", theme), root / "site", builder=builder)
            out[(theme, builder)] = (root / "plain", root / "site")
    return out


@pytest.mark.parametrize("builder", ["html", "dirhtml"])
@pytest.mark.parametrize("theme", THEMES)
def test_output_is_hashed_and_consistent(built: dict[tuple[str, str], tuple[Path, Path]], theme: str,
                                         builder: str) -> None:
    plain, site = built[(theme, builder)]
    manifest = load_manifest(site)
    assert_site_consistent(plain, site, manifest)
    files = manifest["files"]
    by_source = {v["source"]: (k, v["class"]) for k, v in files.items()}
    assert by_source["_static/custom.css"][1] == "hashed"
    assert by_source["_static/bg.png"][1] == "hashed"
    page = "guide/deep/tuning.html" if builder == "html" else "guide/deep/tuning/index.html"
    assert by_source[page] == (page, "stable")
    # the scaled figure is wrapped in <a href> to its full-size image: that URL stays, the <img> gets a hashed copy
    soup = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser")
    link = soup.select_one("a.image-reference")
    assert link is not None and str(link["href"]).endswith("_images/diagram.png")
    img = link.find("img")
    assert img is not None and re.search(r"_images/diagram\.[0-9a-f]{12}\.png$", str(img["src"]))
    assert files["_images/diagram.png"]["class"] == "stable"
    downloads = [k for k in files if k.startswith("_downloads/")]
    assert downloads and all(files[k]["class"] == "stable" for k in downloads)  # a link, not a subresource
    assert not (site / "_static" / "custom.css").exists()


def test_incremental_build_equals_processing_sphinx_own_incremental_output(tmp_path: Path, run: Any) -> None:
    """Sphinx without -E rewrites only some pages over an output hashdeploy already processed; the result is
    exactly what processing Sphinx's own incremental output gives, and no old hashed copy stays behind."""
    for name, hook in (("site", True), ("plain", False)):
        src = project(tmp_path / f"{name}-src", hook=hook)
        sphinx(src, tmp_path / name)
        (src / "_static" / "custom.css").write_text("body { background-image: url(bg.png); color: #222; }\n")
        (src / "guide" / "install.rst").write_text("Install\n=======\n\nChanged text.\n")
        sphinx(src, tmp_path / name)  # no -E: Sphinx rewrites only what it thinks changed
    code, _, err = run(tmp_path / "plain", "--out", tmp_path / "expected", "--stable", "/searchindex.js", "--quiet")
    assert code == 0, err
    assert read_tree(tmp_path / "site") == read_tree(tmp_path / "expected")
    copies = [k for k in read_tree(tmp_path / "site") if k.startswith("_static/custom.")]
    assert len(copies) == 1, copies
    assert_site_consistent(tmp_path / "plain", tmp_path / "site", load_manifest(tmp_path / "site"))
    # Sphinx read its last search index back: the unchanged pages are still found
    assert '"pineappl"' in (tmp_path / "site" / "searchindex.js").read_text(encoding="utf-8")  # stemmed


def test_warning_fails_sphinx_build_W_and_deploys_nothing(tmp_path: Path) -> None:
    target = tmp_path / "www"
    src = project(tmp_path / "src", hashdeploy_target=f"file://{target}")
    (src / "_static" / "custom.css").write_text("body { background-image: url(missing.png); }\n")
    proc = sphinx(src, tmp_path / "site", "-W", env={"HASHDEPLOY_DEPLOY": "1"}, check=False)
    assert proc.returncode != 0
    assert "missing.png" in proc.stderr and "not deploying" in proc.stderr, proc.stderr
    assert not target.exists()


def test_invalid_option_is_a_config_error(tmp_path: Path) -> None:
    proc = sphinx(project(tmp_path / "src", hashdeploy_hash_length=5), tmp_path / "site", check=False)
    assert proc.returncode != 0
    assert "hashdeploy: Config value 'hash_length': 5 is not between 8 and 64" in proc.stderr, proc.stderr
    assert not (tmp_path / "site" / "index.html").exists()  # checked before anything is built


def test_other_builders_are_left_alone(tmp_path: Path) -> None:
    sphinx(project(tmp_path / "src"), tmp_path / "text", builder="text")
    assert not (tmp_path / "text" / ".hashdeploy").exists()


def test_deploy_to_a_directory_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "www"
    src = project(tmp_path / "src", hashdeploy_target=f"file://{target}")
    sphinx(src, tmp_path / "site")
    assert not target.exists()
    proc = sphinx(src, tmp_path / "site", env={"HASHDEPLOY_DEPLOY": "1"})
    assert (target / "index.html").is_file() and (target / ".hashdeploy" / "current.json").is_file(), proc.stderr
    served = {k: v for k, v in read_tree(target).items() if not k.startswith(".hashdeploy/")}
    site = {k: v for k, v in read_tree(tmp_path / "site").items() if not k.startswith(".hashdeploy/")}
    assert served == site


def test_deploy_to_s3(tmp_path: Path, aws: AwsWorld) -> None:
    src = project(tmp_path / "src", hashdeploy_bucket=aws.bucket, hashdeploy_distribution_id=aws.distribution_id,
                  hashdeploy_deploy=True)
    sphinx(src, tmp_path / "site")
    objects = aws.objects()
    css = next(k for k in objects if k.startswith("_static/custom.") and k.endswith(".css"))
    assert aws.head(css)["CacheControl"] == "public, max-age=31536000, immutable"
    assert aws.head("index.html")["CacheControl"].startswith("public, max-age=0, must-revalidate")
    assert json.loads(objects[".hashdeploy/current.json"])["objects"]


# ---------------------------------------------------------------------------------------------------------------
# in a browser: every page of each theme and builder, as served; search finds a word


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    with chromium_browser() as browser:
        yield browser


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if "_static" not in p.parts)


def _visit(browser: Any, url: str) -> tuple[list[str], dict[str, str]]:
    page = browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    style = page.evaluate("() => { const s = getComputedStyle(document.body); "
                          "return {font: s.fontFamily, bg: s.backgroundColor, image: s.backgroundImage !== 'none'}; }")
    page.close()
    return failed, style


@pytest.mark.parametrize("builder", ["html", "dirhtml"])
@pytest.mark.parametrize("theme", THEMES)
def test_every_page_works_in_a_browser(built: dict[tuple[str, str], tuple[Path, Path]], chromium: Any, theme: str,
                                       builder: str) -> None:
    plain, site = built[(theme, builder)]
    with static_server() as (origin, mounts):
        mounts["/plain/"], mounts["/site/"] = plain, site
        pages = _pages(site)
        assert len(pages) >= 5
        for key in pages:
            url = key[: -len("index.html")] if builder == "dirhtml" and key.endswith("index.html") else key
            failed, style = _visit(chromium, f"{origin}/site/{url}")
            assert failed == [], (key, failed)
            _, plain_style = _visit(chromium, f"{origin}/plain/{url}")
            assert style == plain_style, key  # the theme's CSS (and our background image) applied as before
        search = chromium.new_page()
        search.goto(f"{origin}/site/{'search/' if builder == 'dirhtml' else 'search.html'}?q={WORD}",
                    wait_until="networkidle")
        search.wait_for_selector("ul.search li, #search-results li", timeout=15_000)
        assert "Tuning" in search.inner_text("body")
        search.close()
