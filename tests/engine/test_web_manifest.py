"""The web app manifest keeps its URL: browsers key an installed app's updates by the manifest's URL.

web.dev's "How Chrome handles updates to the web app manifest": do not change the name or location of the manifest
file. A hashed manifest.<hash>.webmanifest would leave every installed app on its first manifest. The icons it lists
may still be hashed: the manifest (revalidated, invalidated when it changes) is rewritten to name them.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pytest
from conftest import MakeSite, load_manifest

from hashdeploy.engine import build
from hashdeploy.model import FileClass
from hashdeploy.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _app(manifest_key: str, href: str, page: str = "index.html") -> dict[str, str | bytes]:
    depth = manifest_key.count("/")
    up = "../" * depth
    return {
        page: f'<!doctype html><link rel="manifest" href="{href}"><link rel="icon" href="/icons/192.png">',
        manifest_key: json.dumps({
            "name": "App", "start_url": "/", "scope": "/",
            "icons": [{"src": f"{up}icons/192.png", "sizes": "192x192"}, {"src": "/icons/512.png", "sizes": "512x512"}],
            "screenshots": [{"src": f"{up}shots/wide.png"}],
            "shortcuts": [{"name": "New", "url": "/new/", "icons": [{"src": f"{up}icons/new.png"}]}],
        }, indent=2),
        "icons/192.png": PNG + b"192", "icons/512.png": PNG + b"512", "icons/new.png": PNG + b"new",
        "shots/wide.png": PNG + b"wide", "new/index.html": "<p>new</p>",
    }


@pytest.mark.parametrize(
    ("key", "href"),
    [
        ("manifest.webmanifest", "/manifest.webmanifest"),
        ("site.webmanifest", "site.webmanifest"),
        ("manifest.json", "./manifest.json"),
        ("static/app.webmanifest", "static/app.webmanifest"),
        ("assets/pwa.json", "/assets/pwa.json"),  # any name: what a manifest link points at keeps its URL
        ("manifest.3f2a9c0e.webmanifest", "manifest.3f2a9c0e.webmanifest"),  # not immutable either
        ("assets/pwa.3f2a9c0e.json", "/assets/pwa.3f2a9c0e.json"),
    ],
)
def test_manifest_keeps_its_url_and_names_hashed_icons(site: MakeSite, tmp_path: Path, key: str, href: str) -> None:
    root = site(_app(key, href))
    out = tmp_path / "o"
    result = build(Settings(site=root, out=out, strict=True))
    files = {f.key: f for f in result.files}
    assert key not in result.assets, f"{key} must keep its URL"
    assert files[key].cls is FileClass.STABLE, files[key]
    assert "manifest" in files[key].reason, files[key].reason
    assert f'href="{href}"' in (out / "index.html").read_text(), "the page still links the same manifest URL"
    # every image it lists exists in the output, at the URL the manifest now gives
    doc = json.loads((out / key).read_text())
    srcs = [i["src"] for i in doc["icons"]] + [s["src"] for s in doc["screenshots"]]
    srcs += [i["src"] for s in doc["shortcuts"] for i in s["icons"]]
    base = key.rpartition("/")[0]
    for src in srcs:
        target = src[1:] if src.startswith("/") else posixpath.normpath(posixpath.join(base, src))
        assert (out / target).is_file(), f"{key}: {src} -> {target} is missing"
    assert doc["start_url"] == "/" and doc["shortcuts"][0]["url"] == "/new/", "navigation URLs are kept"


def test_manifest_icons_are_hashed_and_manifest_changes_with_them(site: MakeSite, tmp_path: Path) -> None:
    files = _app("manifest.webmanifest", "/manifest.webmanifest")
    root = site(files)
    first = build(Settings(site=root, out=tmp_path / "o1"))
    assert {"icons/192.png", "icons/512.png", "icons/new.png", "shots/wide.png"} <= set(first.assets)
    text = (tmp_path / "o1/manifest.webmanifest").read_text()
    assert first.assets["icons/192.png"] in text and first.assets["icons/512.png"] in text
    (root / "icons/512.png").write_bytes(PNG + b"512 v2")
    second = build(Settings(site=root, out=tmp_path / "o2"))
    m1, m2 = ({f.key: f for f in r.files}["manifest.webmanifest"] for r in (first, second))
    assert m1.sha256 != m2.sha256, "a new icon changes the manifest's bytes at the same URL: it gets invalidated"
    assert load_manifest(tmp_path / "o2")["files"]["manifest.webmanifest"]["class"] == "stable"


def test_manifest_linked_from_pages_at_every_depth(site: MakeSite, tmp_path: Path) -> None:
    files = _app("manifest.webmanifest", "/manifest.webmanifest")
    files["docs/guide/index.html"] = '<link rel="manifest" href="../../manifest.webmanifest">'
    root = site(files)
    out = tmp_path / "o"
    build(Settings(site=root, out=out))
    assert 'href="../../manifest.webmanifest"' in (out / "docs/guide/index.html").read_text()
    assert (out / "manifest.webmanifest").is_file()
