"""The Pelican plugin, through real Pelican builds: the default theme, feeds, {static} files, regeneration, deploys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, chromium_browser, static_server
from conftest import AwsWorld, load_manifest, png, read_tree, write_tree
from siteassert import assert_site_consistent, subresource_urls

pytest.importorskip("pelican")

CONTENT: dict[str, str | bytes] = {
    "content/first.md": "Title: First post\nDate: 2024-01-01\nCategory: news\nTags: demo\n\n"
                        "An image: ![photo]({static}/images/photo.png)\n\n[Second]({filename}/second.md)\n",
    "content/second.md": "Title: Second post\nDate: 2024-01-02\nCategory: news\n\nMore text.\n",
    "content/pages/about.md": "Title: About\n\nAbout this blog. [Full size]({static}/images/photo.png)\n",
    "content/images/photo.png": png(3, 2, (120, 60, 200)),
}


def conf(hook: bool = True, **hashdeploy: Any) -> str:
    lines = ["AUTHOR = 'Tester'", "SITENAME = 'Hook blog'", "SITEURL = ''", "PATH = 'content'",
             "TIMEZONE = 'UTC'", "DEFAULT_LANG = 'en'", "STATIC_PATHS = ['images']",
             "FEED_ALL_ATOM = 'feeds/all.atom.xml'", "CATEGORY_FEED_ATOM = 'feeds/{slug}.atom.xml'",
             "DEFAULT_PAGINATION = False", "SOCIAL = ()", "LINKS = ()"]
    if hook:
        lines += ["PLUGINS = ['hashdeploy.pelican']", f"HASHDEPLOY = {hashdeploy!r}"]
    return "\n".join(lines) + "\n"


def project(root: Path, hook: bool = True, **hashdeploy: Any) -> Path:
    write_tree(root, CONTENT | {"pelicanconf.py": conf(hook, **hashdeploy)})
    return root


def pelican(root: Path, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root,
                          env=dict(os.environ, COLUMNS="400", **(env or {})))  # Pelican's log wraps at the width
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(plain output, processed output) of the same project."""
    root = tmp_path_factory.mktemp("pelican")
    pelican(project(root / "plain", hook=False))
    pelican(project(root / "site"))
    return root / "plain" / "output", root / "site" / "output"


def test_output_is_hashed_and_consistent(sites: tuple[Path, Path]) -> None:
    plain, site = sites
    manifest = load_manifest(site)
    assert_site_consistent(plain, site, manifest)
    files = manifest["files"]
    by_source = {v["source"]: (k, v["class"]) for k, v in files.items()}
    assert by_source["theme/css/main.css"][1] == "hashed"  # the theme's static files
    assert by_source["feeds/all.atom.xml"] == ("feeds/all.atom.xml", "stable")
    assert by_source["images/photo.png"][1] == "stable"  # also linked from the about page: keeps its URL
    hashed_photo = [k for k in files if re.fullmatch(r"images/photo\.[0-9a-f]{12}\.png", k)]
    assert hashed_photo, "the <img> gets a hashed copy"
    assert not (site / "theme" / "css" / "main.css").exists()


def test_a_second_build_over_the_output_is_the_same(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    pelican(root)
    first = read_tree(root / "output")
    pelican(root)  # Pelican writes into the processed output again (DELETE_OUTPUT_DIRECTORY is off)
    assert read_tree(root / "output") == first


def test_invalid_option_stops_the_build(tmp_path: Path) -> None:
    root = project(tmp_path / "p", hash_length=5)
    proc = pelican(root, check=False)
    assert proc.returncode != 0
    said = " ".join((proc.stdout + proc.stderr).split())  # Pelican's log wraps long lines
    assert "hashdeploy: ConfigError: Config value 'hash_length': 5 is not between 8 and 64" in said, said


def test_deploy_to_a_directory_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "www"
    root = project(tmp_path / "p", target=f"file://{target}")
    pelican(root)
    assert not target.exists()
    pelican(root, env={"HASHDEPLOY_DEPLOY": "1"})
    served = {k: v for k, v in read_tree(target).items() if not k.startswith(".hashdeploy/")}
    assert served == {k: v for k, v in read_tree(root / "output").items() if not k.startswith(".hashdeploy/")}


def test_deploy_to_s3(tmp_path: Path, aws: AwsWorld) -> None:
    root = project(tmp_path / "p", bucket=aws.bucket, distribution_id=aws.distribution_id, deploy=True)
    pelican(root)
    objects = aws.objects()
    css = next(k for k in objects if k.startswith("theme/css/main.") and k.endswith(".css"))
    assert aws.head(css)["CacheControl"] == "public, max-age=31536000, immutable"
    assert aws.head("index.html")["CacheControl"].startswith("public, max-age=0, must-revalidate")
    assert "feeds/all.atom.xml" in objects


def test_regenerating_over_the_output_after_an_edit(tmp_path: Path, run: Any) -> None:
    """What `pelican --autoreload` does on each change: write into the processed output again. The result is what
    processing Pelican's own regenerated output gives, and every subresource of every page exists."""
    edited = "Title: Second post\nDate: 2024-01-02\nCategory: news\n\nEdited after the first build.\n"
    for name, hook in (("site", True), ("plain", False)):
        root = project(tmp_path / name, hook=hook)
        pelican(root)
        (root / "content" / "second.md").write_text(edited, encoding="utf-8")
        (root / "content" / "images" / "photo.png").write_bytes(png(5, 5, (1, 2, 3)))
        pelican(root)
    out = tmp_path / "site" / "output"
    code, _, err = run(tmp_path / "plain" / "output", "--out", tmp_path / "expected", "--quiet")
    assert code == 0, err
    assert read_tree(out) == read_tree(tmp_path / "expected")
    assert "Edited after the first build" in (out / "second-post.html").read_text(encoding="utf-8")
    photos = [k for k in read_tree(out) if k.startswith("images/photo.")]
    assert len(photos) == 2, photos  # the linked original and one hashed copy: no stale copy piles up
    for page in sorted(out.rglob("*.html")):
        key = page.relative_to(out).as_posix()
        for _tag, url in subresource_urls(out, key):
            if url.startswith("/"):
                assert (out / url.lstrip("/").split("?")[0]).is_file(), (key, url)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    with chromium_browser() as browser:
        yield browser


def _visit(browser: Any, url: str) -> tuple[list[str], dict[str, str]]:
    page = browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    style = page.evaluate("() => { const s = getComputedStyle(document.body); "
                          "return {font: s.fontFamily, bg: s.backgroundColor, color: s.color}; }")
    page.close()
    return [u for u in failed if u.startswith("http://127.0.0.1")], style


def test_every_page_works_in_a_browser(sites: tuple[Path, Path], chromium: Any) -> None:
    plain, site = sites
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert len(pages) >= 6
    with static_server() as (origin, mounts):
        # SITEURL is empty: Pelican writes root-relative URLs, so each output is served at the root in turn
        for key in pages:
            mounts.clear()
            mounts["/"] = plain
            _, plain_style = _visit(chromium, f"{origin}/{key}")
            mounts["/"] = site
            failed, style = _visit(chromium, f"{origin}/{key}")
            assert failed == [], (key, failed)
            assert style == plain_style, key
