"""Hashed MkDocs sites in a real browser: Debian's chromium driven by Playwright (no browser download).

Each theme (mkdocs, readthedocs, Material) is built twice from the same docs, with the plugin and without it, and
both are served by a tiny local server under the site_url path, answering unknown URLs with 404.html and status 404
like an S3/CloudFront error page. For the home page, a deep page and a deep unknown URL, the hashed site must load
every subresource, apply the theme's CSS and ours, show no console error the unhashed site did not show, and
find a word through the theme's search box.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from browser import SEARCH_WORD, built, chromium_browser, require_chromium, static_server, write_config

if TYPE_CHECKING:
    from playwright.sync_api import Page

require_chromium()
sync_api = pytest.importorskip("playwright.sync_api")
TIMEOUT_MS = 10_000
THEMES = ("mkdocs", "readthedocs", "material")
PAGES = {"home": "", "deep": "guide/advanced/tuning/", "404": "no/such/deep/page/"}
# (selector, property, value): set by the theme's own stylesheet, not by the browser's defaults
THEME_STYLE = {
    "mkdocs": (".navbar", "display", "flex"),  # Bootstrap; a <nav> is display: block by default
    "readthedocs": (".wy-nav-side", "position", "fixed"),  # theme.css; static by default
    "material": (".md-header", "position", "sticky"),  # main.css; static by default
}
# readthedocs' 404.html posts its search form to "{{ base_url }}/search.html", and MkDocs gives 404.html a base_url
# ending in "/" (site_url's path): "//search.html" (a protocol-relative URL when site_url has no path). Broken
# without hashdeploy too, so there is nothing to compare.
SEARCH_BROKEN_UPSTREAM = {("readthedocs", "404")}
HASHED = re.compile(r"\.[0-9a-f]{12}(?=\.)")
STYLES_JS = """([sel, prop]) => {
  const style = (el, pseudo) => el ? getComputedStyle(el, pseudo || null) : null;
  const h1 = document.querySelector("h1");
  return {
    theme: style(document.querySelector(sel))?.[prop] ?? null,
    bodyFont: style(document.body).fontFamily,
    h1Font: style(h1)?.fontFamily ?? null,
    h1Background: style(h1)?.backgroundImage ?? null,
    overrideBackground: style(document.body, "::after").backgroundImage,
    extraJs: document.documentElement.classList.contains("hd-extra-js"),
    hashfont: [...document.fonts].filter(f => f.family === "Hashfont").map(f => f.status),
  };
}"""


@dataclass
class Visit:
    """What one page load (plus a search) showed."""

    status: int | None = None
    failed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    styles: dict[str, Any] = field(default_factory=dict)
    result: str | None = None


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """(origin, mount names): every theme hashed at /<theme>/ and unhashed at /<theme>-plain/."""
    root = tmp_path_factory.mktemp("browser")
    with static_server() as (origin, mounts):
        for theme in THEMES:
            for name, plugin in ((theme, True), (f"{theme}-plain", False)):
                cfg = write_config(root, name, theme=theme, site_url=f"{origin}/{name}/", hashdeploy=plugin)
                mounts[f"/{name}/"] = built(cfg)
        yield origin, [m.strip("/") for m in mounts]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


def _search(page: Page, theme: str) -> str | None:
    """Type the word into the theme's search box; return the first result's href."""
    if theme == "mkdocs":  # the box is in a modal, opened from the navbar
        page.click('a[data-bs-target="#mkdocs_search_modal"]')
        box, result = page.locator("#mkdocs-search-query"), "#mkdocs-search-results article a"
    elif theme == "readthedocs":  # the sidebar form goes to search.html?q=, which lists the results
        box, result = page.locator("#rtd-search-form input[name=q]"), "#mkdocs-search-results article a"
    else:
        box, result = page.locator("input.md-search__input"), ".md-search-result__item a"
    box.wait_for(state="visible")
    box.click()
    box.press_sequentially(SEARCH_WORD)  # key events: the themes search on keyup/input
    if theme == "readthedocs":
        box.press("Enter")
        page.wait_for_url(f"**/search.html?q={SEARCH_WORD}")
    first = page.locator(result).first
    first.wait_for(state="attached")
    return first.get_attribute("href")


def visit(chromium: Any, origin: str, mount: str, theme: str, path: str) -> Visit:
    """Load origin/mount/path in a fresh context, wait for the network to settle, read styles, search."""
    v = Visit()
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    site = f"{origin}/{mount}/"

    def on_request(request: Any) -> None:
        if not request.url.startswith(origin + "/"):
            v.external.append(request.url)

    def on_response(response: Any) -> None:
        main_document = response.request.is_navigation_request() and response.frame == page.main_frame
        if response.status >= 400 and not main_document:
            v.bad.append(f"{response.status} {response.url}")
        elif response.ok:
            v.loaded.append(response.url.removeprefix(site))

    def normal(text: str) -> str:  # the same error on both sites: no mount name, no content hash
        return HASHED.sub("", text.replace(site, "<site>/"))

    context.route(re.compile(r"^(?!" + re.escape(origin) + r"/)"), lambda route: route.abort())
    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", lambda r: v.failed.append(f"{r.url} ({r.failure})"))
    page.on("console", lambda m: v.errors.append(normal(m.text)) if m.type == "error" else None)
    page.on("pageerror", lambda e: v.errors.append(normal(f"uncaught: {e}")))
    try:
        response = page.goto(site + path, wait_until="load")
        v.status = response.status if response else None
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        page.evaluate("document.fonts.ready.then(() => true)")
        v.styles = page.evaluate(STYLES_JS, list(THEME_STYLE[theme][:2]))
        if (theme, path) not in {(t, PAGES[p]) for t, p in SEARCH_BROKEN_UPSTREAM}:
            try:
                v.result = _search(page, theme)
            except sync_api.TimeoutError as exc:  # reported after the load checks, which say more
                v.result = f"no search result: {str(exc).splitlines()[0]}"
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    finally:
        context.close()
    return v


@pytest.fixture
def visits(chromium: Any, sites: tuple[str, list[str]]) -> Callable[[str, str], tuple[Visit, Visit]]:
    origin, _mounts = sites

    def both(theme: str, page: str) -> tuple[Visit, Visit]:
        return (visit(chromium, origin, theme, theme, PAGES[page]),
                visit(chromium, origin, f"{theme}-plain", theme, PAGES[page]))

    return both


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("theme", THEMES)
def test_hashed_site_works_in_a_browser(visits: Callable[[str, str], tuple[Visit, Visit]], theme: str,
                                        page: str) -> None:
    hashed, plain = visits(theme, page)
    assert plain.status == hashed.status == (404 if page == "404" else 200)
    # every subresource loaded, from the test server only
    assert hashed.failed == [] and hashed.bad == [] and hashed.external == []
    assert plain.failed == [] and plain.bad == [], "the unhashed site must load too, or the comparison means nothing"
    for pattern in (r"css/extra\.[0-9a-f]{12}\.css", r"css/override\.[0-9a-f]{12}\.css", r"js/extra\.[0-9a-f]{12}\.js",
                    r"fonts/solid\.[0-9a-f]{12}\.woff2", r"img/bg\.[0-9a-f]{12}\.png", r"img/brand\.[0-9a-f]{12}\.png"):
        if page == "404" and ("override" in pattern or "brand" in pattern):
            continue  # the custom_dir override is main.html: 404.html extends base.html directly
        assert any(re.fullmatch(pattern, url) for url in hashed.loaded), f"{pattern} not loaded: {hashed.loaded}"
    # the theme's stylesheet applies, and so do extra_css (font, background) and extra_javascript
    selector, prop, value = THEME_STYLE[theme]
    assert hashed.styles["theme"] == plain.styles["theme"] == value, f"{selector} {prop}"
    assert hashed.styles["bodyFont"] == plain.styles["bodyFont"] != '"Times New Roman"'
    assert hashed.styles["h1Font"] == "Hashfont, sans-serif" and hashed.styles["hashfont"] == ["loaded"]
    assert re.search(r"/img/bg\.[0-9a-f]{12}\.png", hashed.styles["h1Background"])
    if page != "404":
        assert re.search(r"/img/brand\.[0-9a-f]{12}\.png", hashed.styles["overrideBackground"])
    assert hashed.styles["extraJs"] is True
    # nothing breaks that worked before hashing
    assert [e for e in hashed.errors if e not in plain.errors] == []
    # the search box finds the page the word is on
    if (theme, page) in SEARCH_BROKEN_UPSTREAM:
        return
    assert hashed.result is not None and re.search(r"guide/install/(#.*)?$", hashed.result), hashed.result
    assert plain.result is not None and plain.result.replace(f"/{theme}-plain/", f"/{theme}/") == hashed.result
