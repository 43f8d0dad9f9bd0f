"""Helpers for the MkDocs plugin tests: a small docs project, `mkdocs build`, and a static server like S3's.

The docs project exercises what the plugin must understand: Markdown images at several depths, extra_css with
url() to an image and a font, extra_javascript, a theme custom_dir override carrying its own stylesheet and
image, the search plugin, sitemaps and 404.html. Nothing binary is committed: the PNGs are generated and the
font is Font Awesome's, copied from MkDocs' own theme.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import mkdocs
from conftest import png, write_tree

SEARCH_WORD = "pineapple"  # appears in one page only (guide/install.md)
FONT = Path(mkdocs.__file__).parent / "themes" / "mkdocs" / "webfonts" / "fa-solid-900.woff2"


PROJECT: dict[str, str | bytes] = {
    "docs/index.md": "# Home\n\n![Logo](img/logo.png)\n\nSee [install](guide/install.md) and "
                     "[tuning](guide/advanced/tuning.md).\n",
    "docs/guide/install.md": f"# Install\n\n![Diagram](../img/diagram.png)\n\nThe {SEARCH_WORD} setting lives here.\n",
    "docs/guide/advanced/tuning.md": "# Tuning\n\n![Logo again](../../img/logo.png)\n\nBack [home](../../index.md).\n",
    "docs/css/extra.css": '@font-face { font-family: "Hashfont"; src: url("../fonts/solid.woff2") format("woff2"); }\n'
                          "h1 { font-family: Hashfont, sans-serif; background-image: url(../img/bg.png); }\n",
    "docs/js/extra.js": 'document.documentElement.classList.add("hd-extra-js");\n',
    "docs/img/logo.png": png(2, 2, (200, 30, 30)),
    "docs/img/diagram.png": png(3, 2, (30, 200, 30)),
    "docs/img/bg.png": png(1, 1, (30, 30, 200)),
    # theme custom_dir: a template override that adds a stylesheet, which loads an image of the override's own
    "overrides/main.html": '{% extends "base.html" %}\n{% block extrahead %}{{ super() }}'
                           "<link rel=\"stylesheet\" href=\"{{ 'css/override.css' | url }}\">{% endblock %}\n",
    "overrides/css/override.css": 'body::after { content: ""; display: block; width: 1px; height: 1px; '
                                  "background-image: url(../img/brand.png); }\n",
    "overrides/img/brand.png": png(2, 1, (90, 90, 90)),
}
NAV = [{"Home": "index.md"}, {"Guide": [{"Install": "guide/install.md"}, {"Tuning": "guide/advanced/tuning.md"}]}]
# Keep every theme off the network: no highlight.js from cdnjs, no Google Fonts.
THEME_OPTIONS: dict[str, dict[str, Any]] = {
    "mkdocs": {"highlightjs": False}, "readthedocs": {"highlightjs": False}, "material": {"font": False},
}


def write_project(root: Path) -> Path:
    """Write the docs project (docs/, overrides/) under root once; return root."""
    if not (root / "docs").is_dir():
        write_tree(root, PROJECT)
        (root / "docs" / "fonts").mkdir()
        (root / "docs" / "fonts" / "solid.woff2").write_bytes(FONT.read_bytes())
    return root


def write_config(root: Path, name: str, *, theme: str = "mkdocs", dir_urls: bool = True,
                 site_url: str | None = "https://example.com/", plugin: dict[str, Any] | None = None,
                 hashdeploy: bool = True, **extra: Any) -> Path:
    """Write root/<name>.yml building into root/site-<name>; plugin = the hashdeploy options.

    YAML is a superset of JSON, so the file is written with json.dumps.
    """
    write_project(root)
    doc: dict[str, Any] = {
        "site_name": "Plugin Test", "docs_dir": "docs", "site_dir": f"site-{name}", "use_directory_urls": dir_urls,
        "theme": {"name": theme, "custom_dir": "overrides", **THEME_OPTIONS.get(theme, {})},
        "extra_css": ["css/extra.css"], "extra_javascript": ["js/extra.js"], "nav": NAV,
        "plugins": ["search", {"hashdeploy": plugin or {}}] if hashdeploy else ["search"],
    }
    if site_url:
        doc["site_url"] = site_url
    doc.update(extra)
    cfg = root / f"{name}.yml"
    cfg.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return cfg


def mkdocs_build(cfg: Path, *args: str, env: dict[str, str] | None = None, quiet: bool = True
                 ) -> subprocess.CompletedProcess[str]:
    """Run `mkdocs build` on cfg in a subprocess (the plugin is found through its entry point)."""
    # SOURCE_DATE_EPOCH: the build date MkDocs writes into pages and sitemaps is the same in every build
    full_env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONDONTWRITEBYTECODE="1", SOURCE_DATE_EPOCH="1700000000",
                    **(env or {}))
    cmd = [sys.executable, "-m", "mkdocs", "build", *(["-q"] if quiet else []), "-f", str(cfg), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=120, cwd=cfg.parent)


def built(cfg: Path, *args: str, env: dict[str, str] | None = None) -> Path:
    """mkdocs build that must succeed; returns the site_dir."""
    proc = mkdocs_build(cfg, *args, env=env)
    assert proc.returncode == 0, f"mkdocs build -f {cfg.name} failed:\n{proc.stdout}\n{proc.stderr}"
    return cfg.parent / cast(str, json.loads(cfg.read_text(encoding="utf-8"))["site_dir"])


# ---------------------------------------------------------------------------------------------------------------
# a static server that answers like S3/CloudFront: index.html for directories, 404.html with status 404

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript",
          ".json": "application/json", ".png": "image/png", ".ico": "image/x-icon", ".svg": "image/svg+xml",
          ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".map": "application/json",
          ".xml": "application/xml", ".gz": "application/gzip", ".txt": "text/plain",
          ".webp": "image/webp", ".avif": "image/avif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".gif": "image/gif", ".eot": "application/vnd.ms-fontobject", ".otf": "font/otf",
          ".mjs": "text/javascript", ".webmanifest": "application/manifest+json", ".rss": "application/rss+xml"}


class _Handler(http.server.BaseHTTPRequestHandler):
    mounts: dict[str, Path]  # "/name/" -> site dir, set on the server class

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send(self, status: int, path: Path, body: bool) -> None:
        if status == 404 and not path.is_file():  # a site without 404.html: S3's own error page
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", _TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        mount = next((m for m in self.server.mounts if path.startswith(m)), None)  # type: ignore[attr-defined]
        if mount is None:
            self.send_error(404)
            return
        root: Path = self.server.mounts[mount]  # type: ignore[attr-defined]
        rel = path[len(mount):]
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
            self._send(404, root / "404.html", body)  # S3 keys are literal: "a//b" is no file of the site
            return
        target = root / rel
        if target.is_dir() and not path.endswith("/"):
            self.send_response(301)
            self.send_header("Location", path + "/")
            self.end_headers()
            return
        if target.is_dir():
            target = target / "index.html"
        if target.is_file():
            self._send(200, target, body)
        else:  # an error page configured for 404, as on S3 website hosting and CloudFront
            self._send(404, root / "404.html", body)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(False)


@contextmanager
def static_server() -> Iterator[tuple[str, dict[str, Path]]]:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) in a thread; yields (origin, mounts) - add mounts later."""
    mounts: dict[str, Path] = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.mounts = mounts  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", mounts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Skip the calling test module when Playwright or Debian's chromium is missing (./dev test installs both)."""
    import pytest

    pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)", allow_module_level=True)


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()
