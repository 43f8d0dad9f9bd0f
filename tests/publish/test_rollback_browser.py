"""Rollback and roll forward, seen by a real browser: Debian's chromium driven by Playwright.

The demo site is deployed twice to a local directory target (`--target file:///…`); v2 changes the body colour in a
stylesheet and the text of two pages. The directory is served by the tests' local HTTP server (index.html for
directories, 404.html with status 404 for unknown URLs, like S3 behind CloudFront) and pages are loaded in a fresh
browser context after v1, after v2, after `hashdeploy rollback` (v1 back) and after `hashdeploy rollback <v2 id>`
(v2 back). Every time, every request the pages make must succeed (no failed request, no 4xx/5xx subresource, no
uncaught script error), the ES modules must run, and the text and a computed style from that version's stylesheet
must show.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from browser import chromium_browser, require_chromium, static_server
from conftest import DEMO, RunCli

require_chromium()
TIMEOUT_MS = 10_000
# what each version shows: body colour (css/site.css), the link text on the home page, the about page's heading
VERSIONS = {
    1: {"color": "rgb(34, 34, 34)", "home": "Annual report (PDF)", "about": "About this demo"},
    2: {"color": "rgb(204, 0, 0)", "home": "Annual report 2026 (PDF)", "about": "About this demo, again"},
}
PAGES = {"home": "", "about": "about/", "404": "no/such/page/"}


@dataclass
class Visit:
    status: int | None = None
    failed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    color: str = ""
    text: str = ""
    ready: str | None = None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


def visit(chromium: Any, origin: str, path: str) -> Visit:
    """Load origin/path in a fresh context (empty cache, no service worker) and let the network settle."""
    v = Visit()
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()

    def on_response(response: Any) -> None:
        main_document = response.request.is_navigation_request() and response.frame == page.main_frame
        if response.status >= 400 and not main_document:
            v.bad.append(f"{response.status} {response.url}")
        v.loaded.append(response.url.removeprefix(origin + "/"))

    context.route(re.compile(r"^(?!" + re.escape(origin) + r"/)"), lambda route: route.abort())
    page.on("response", on_response)
    page.on("requestfailed", lambda r: v.failed.append(f"{r.url} ({r.failure})"))
    page.on("pageerror", lambda e: v.errors.append(f"uncaught: {e}"))
    try:
        response = page.goto(f"{origin}/{path}", wait_until="load")
        v.status = response.status if response else None
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        v.color = page.evaluate("getComputedStyle(document.body).color")
        v.text = page.evaluate("document.body.innerText")
        v.ready = page.evaluate("document.body.dataset.ready ?? null")
    finally:
        context.close()
    return v


def make_v2(site: Path) -> None:
    css = site / "css/site.css"
    css.write_text(css.read_text().replace("color: #222;", "color: #c00;"))
    index = site / "index.html"
    index.write_text(index.read_text().replace("Annual report (PDF)", "Annual report 2026 (PDF)"))
    about = site / "about/index.html"
    about.write_text(about.read_text().replace("About this demo", "About this demo, again"))


def test_rollback_and_roll_forward_in_a_browser(run: RunCli, chromium: Any, tmp_path: Path) -> None:
    site, www = tmp_path / "site", tmp_path / "www"
    shutil.copytree(DEMO, site)
    target = ["--target", www.as_uri()]

    def deploy() -> str:
        code, out, err = run(site, *target, "--json")
        assert code == 0, err
        return cast(str, json.loads(out)["deploy_id"])

    with static_server() as (origin, mounts):
        mounts["/"] = www

        def check(version: int, when: str) -> None:
            want = VERSIONS[version]
            for name, path in PAGES.items():
                v = visit(chromium, origin, path)
                where = f"{when}, {name} page"
                assert v.status == (404 if name == "404" else 200), where
                assert v.failed == [] and v.bad == [], f"{where}: failed {v.failed}, 4xx/5xx {v.bad}"
                assert v.errors == [], f"{where}: {v.errors}"
                assert v.color == want["color"], f"{where}: body colour {v.color}, v{version} has {want['color']}"
                css = [u for u in v.loaded if re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", u)]
                assert len(css) == 1, f"{where}: stylesheets loaded {v.loaded}"
                if name == "home":
                    assert want["home"] in v.text and v.ready == "hello demo", f"{where}: {v.text!r} {v.ready!r}"
                    for pattern in (r"js/app\.[0-9a-f]{12}\.js", r"js/util\.[0-9a-f]{12}\.js",
                                    r"js/lazy\.[0-9a-f]{12}\.js", r"img/hero\.[0-9a-f]{12}\.png",
                                    r"fonts/inter\.[0-9a-f]{12}\.woff2", r"img/bg\.[0-9a-f]{12}\.png"):
                        assert any(re.fullmatch(pattern, u) for u in v.loaded), f"{where}: {pattern} not loaded"
                if name == "about":
                    heading = v.text.splitlines()[0]
                    assert heading == want["about"], f"{where}: heading {heading!r}"

        v1 = deploy()
        check(1, "after the v1 deploy")
        v1_css = {p.name for p in (www / "css").glob("site.*.css")}
        make_v2(site)
        v2 = deploy()
        assert v2 != v1
        check(2, "after the v2 deploy")

        code, out, err = run("rollback", *target, "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["rolled_back_to"] == v1 and doc["warnings"] == []
        assert sorted(doc["restored"]) == ["404.html", "about/index.html", "index.html"]
        check(1, "after `hashdeploy rollback`")

        code, out, err = run("rollback", v2, *target, "--json")
        assert code == 0, err
        assert json.loads(out)["rolled_back_to"] == v2
        check(2, f"after `hashdeploy rollback {v2}`")

        code, out, err = run("history", *target, "--json")
        kinds = [(e["kind"], e.get("rollback_of"), e["live"]) for e in json.loads(out)]
        assert kinds == [("rollback", v2, True), ("rollback", v1, False), ("deploy", None, False),
                         ("deploy", None, False)]
        assert v1_css < {p.name for p in (www / "css").glob("site.*.css")}, "v1's stylesheet is still there"
