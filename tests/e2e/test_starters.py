"""The starter sites of generators nobody here wrote, processed by hashdeploy and used in headless Chromium.

Docusaurus (classic), VitePress (`vitepress init` defaults), Astro (blog), Next.js (create-next-app, static export),
Jekyll (`jekyll new`, minima), Pelican (quickstart, notmyidea) and Eleventy: fixtures/starters/RECIPE.md says how each
was made. Every site but Docusaurus is committed as its generator built it (fixtures/starters/<name>/site/);
Docusaurus' output is over the size budget, so its source project (fixtures/starters/docusaurus/project/, with its
package-lock.json) is built once per session, when its first test needs it, keeping node_modules between sessions.

hashdeploy runs through its command line (`python -m hashdeploy SITE --out OUT`). Then the generator's output and
hashdeploy's are each served at the root of a local server that answers like S3 (index.html for directories,
404.html with status 404), and in Chromium:

- every HTML page (at most MAX_PAGES per site: the home page, 404.html, the deepest pages, then the rest) is loaded
  and its failed requests (status >= 400, or no response) and console errors are recorded;
- from the home page, MIN_CLICKS to MAX_CLICKS internal links are clicked in sequence with real clicks (client-side
  routers navigate without a full load), waiting for the network to settle after each.

The processed site must show no failed request and no console error that the generator's own output does not show
too, compared with content hashes and the server's origin taken out. siteassert checks the output's references.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import chromium_browser, require_chromium, static_server
from conftest import ROOT, load_manifest
from siteassert import assert_site_consistent

STARTERS = ROOT / "fixtures" / "starters"
SITES = ["docusaurus", "vitepress", "astro", "next", "jekyll", "pelican", "eleventy"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hashdeploy-tests"
MAX_PAGES = 25
MIN_CLICKS, MAX_CLICKS = 3, 5
TIMEOUT_MS = 20_000
QUIET_S = 0.25  # the network counts as settled after this long with no request in flight
HASH = re.compile(r"\.[0-9a-f]{12}(?=\.)")  # hashdeploy's default: name.<12 hex>.ext


# ---------------------------------------------------------------------------------------------------------------
# the sites


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd} ({proc.returncode}):\n{tail}")


def build_docusaurus(out: Path) -> Path:
    """npm install (from the committed lock, npm cache under ~/.cache/hashdeploy-tests/npm) and docusaurus build.

    node_modules is kept between sessions in ~/.cache/hashdeploy-tests/starters/docusaurus-<lock hash>/, next to a
    fresh copy of the project's sources; the build itself is done every session, into `out`.
    """
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm/node is not on PATH: the Docusaurus starter is built from its sources in the test session")
    project = STARTERS / "docusaurus" / "project"
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256((project / "package-lock.json").read_bytes() + (project / "package.json").read_bytes()
                         + node_version.encode()).hexdigest()[:16]
    work = CACHE / "starters" / f"docusaurus-{key}"
    work.mkdir(parents=True, exist_ok=True)
    for entry in work.iterdir():  # everything but the installed dependencies comes fresh from the fixture
        if entry.name != "node_modules":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(project, work, dirs_exist_ok=True)
    env = dict(os.environ, npm_config_cache=str(CACHE / "npm"), npm_config_update_notifier="false",
               DOCUSAURUS_IGNORE_SSG_WARNINGS="true", CI="true")
    if not (work / "node_modules" / ".package-lock.json").is_file():
        # `npm ci` refuses this lock: npm records no entry for @swc/html's packages of other platforms at the
        # version it installs (they are not published at 1.16.22 on the registry this machine reaches), and npm ci
        # then calls the lock out of sync. `npm install` installs exactly the locked versions and leaves the lock as is.
        _run([npm, "install", "--no-audit", "--no-fund", "--prefer-offline", "--no-save"], work, env, 900)
    _run([npm, "exec", "--no", "--", "docusaurus", "build", "--out-dir", str(out)], work, env, 600)
    return out


@dataclass
class Processed:
    name: str
    src: Path
    out: Path
    code: int
    stdout: str
    stderr: str
    seconds: float
    build_seconds: float = 0.0

    @property
    def manifest(self) -> dict[str, Any]:
        return load_manifest(self.out)


def hashdeploy(src: Path, out: Path, work: Path) -> tuple[int, str, str, float]:
    """`python -m hashdeploy SRC --out OUT` in a subprocess, no HASHDEPLOY_* settings, its own parse cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHDEPLOY_")}
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hashdeploy", str(src), "--out", str(out),
                           "--cache-dir", str(work / "cache")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0


BUILDERS: dict[str, Callable[[Path], Path]] = {"docusaurus": build_docusaurus}


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Processed]:
    """name -> the starter processed by hashdeploy (built first when it is built in the session), once per module."""
    done: dict[str, Processed] = {}
    failed: dict[str, BaseException] = {}

    def get(name: str) -> Processed:
        if name in failed:  # a failed or skipped build is not retried by every test of the site
            raise failed[name]
        if name not in done:
            build_seconds = 0.0
            if name in BUILDERS:
                t0 = time.perf_counter()
                try:
                    src = BUILDERS[name](tmp_path_factory.mktemp(f"build-{name}") / "site")
                except BaseException as exc:  # noqa: B036 - pytest.skip too
                    failed[name] = exc
                    raise
                build_seconds = time.perf_counter() - t0
            else:
                src = STARTERS / name / "site"
            work = tmp_path_factory.mktemp(f"hd-{name}")
            code, stdout, stderr, seconds = hashdeploy(src, work / "out", work)
            done[name] = Processed(name, src, work / "out", code, stdout, stderr, seconds, build_seconds)
        return done[name]

    return get


def require_ok(p: Processed) -> None:
    assert p.code == 0, f"hashdeploy failed on the {p.name} starter ({p.code}):\n{p.stdout}\n{p.stderr}"


# ---------------------------------------------------------------------------------------------------------------
# the browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    require_chromium()
    with chromium_browser() as browser:
        yield browser


def page_url(key: str) -> str:
    """The URL path a site file is served at (directories serve their index.html)."""
    if key == "index.html":
        return "/"
    if key.endswith("/index.html"):
        return "/" + key[: -len("index.html")]
    return "/" + key


def pick_pages(site: Path) -> list[str]:
    """URL paths of the HTML pages to load: the home page, 404.html, the deepest pages, then the others by name."""
    keys = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    first = [k for k in ("index.html", "404.html") if k in keys]
    rest = [k for k in keys if k not in first]
    deepest = sorted(rest, key=lambda k: (-k.count("/"), k))[: (MAX_PAGES - len(first)) // 2]
    chosen = first + deepest + [k for k in rest if k not in deepest]
    return [page_url(k) for k in chosen[:MAX_PAGES]]


@dataclass
class Issue:
    """One failed request or console error, normalised (key) and as seen (raw), with where it happened."""

    key: str
    raw: str
    where: str


@dataclass
class Tracker:
    """Requests in flight, failures and console errors of one page; the origin is taken out of what it records."""

    origin: str
    where: str = ""
    inflight: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    issues: list[Issue] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def normal(self, text: str) -> str:
        return HASH.sub("", text.replace(self.origin, ""))

    def add(self, kind: str, text: str) -> None:
        raw = text.replace(self.origin, "")
        self.issues.append(Issue(f"{kind} {self.normal(text)}", f"{kind} {raw}", self.where))

    def attach(self, page: Any) -> None:
        def started(request: Any) -> None:
            self.inflight += 1
            self.last_activity = time.monotonic()
            if request.url.startswith(self.origin + "/"):
                self.requests.append(request.url.removeprefix(self.origin))

        def ended(request: Any) -> None:
            self.inflight = max(0, self.inflight - 1)
            self.last_activity = time.monotonic()

        def failed(request: Any) -> None:
            ended(request)
            # other origins are aborted on purpose; net::ERR_ABORTED is a cancelled request (the page moved on, or
            # a prefetch was dropped), and a refused one also shows its status in response()
            if request.url.startswith(self.origin + "/") and request.failure != "net::ERR_ABORTED":
                self.add("failed", f"{request.url} ({request.failure})")

        def response(resp: Any) -> None:
            if resp.status >= 400 and resp.url.startswith(self.origin + "/"):
                self.add(f"HTTP {resp.status}", resp.url)

        def console(msg: Any) -> None:
            if msg.type == "error":
                loc = msg.location.get("url", "") if isinstance(msg.location, dict) else ""
                self.add("console", f"{msg.text} [{loc}]" if loc else msg.text)

        page.on("request", started)
        page.on("requestfinished", ended)
        page.on("requestfailed", failed)
        page.on("response", response)
        page.on("console", console)
        page.on("pageerror", lambda exc: self.add("uncaught", str(exc)))

    def settle(self, page: Any, timeout_s: float = TIMEOUT_MS / 1000) -> None:
        """Wait until no request has been in flight for QUIET_S (events are delivered during wait_for_timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.inflight == 0 and time.monotonic() - self.last_activity >= QUIET_S:
                return
            page.wait_for_timeout(50)


def new_page(chromium: Any, origin: str) -> tuple[Any, Any, Tracker]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.route(re.compile(r"^(?!" + re.escape(origin) + r"/)"), lambda route: route.abort())  # nothing external
    page = context.new_page()
    tracker = Tracker(origin)
    tracker.attach(page)
    return context, page, tracker


def load_pages(chromium: Any, origin: str, paths: list[str]) -> tuple[list[Issue], dict[str, int | None]]:
    """Load each page in turn (one tab: a new one costs half a second here); return every issue and each status."""
    statuses: dict[str, int | None] = {}
    context, page, tracker = new_page(chromium, origin)
    try:
        for path in paths:
            tracker.where = path
            response = page.goto(origin + path, wait_until="load")
            statuses[path] = response.status if response else None
            tracker.settle(page)
    finally:
        context.close()
    return tracker.issues, statuses


NORM_JS = 'p => p.replace(/index\\.html?$/, "").replace(/\\/$/, "") || "/"'  # "/a/", "/a", "/a/index.html": one page
LINKS_JS = """(visited) => {
  const norm = """ + NORM_JS + """;
  const here = norm(location.pathname);
  const out = [];
  for (const a of document.querySelectorAll("a[href]")) {
    const href = a.getAttribute("href");
    if (!href || href.startsWith("#") || a.target === "_blank" || a.hasAttribute("download")) continue;
    let url;
    try { url = new URL(href, location.href); } catch (e) { continue; }
    if (url.origin !== location.origin || norm(url.pathname) === here) continue;
    const last = url.pathname.split("/").pop();
    if (last.includes(".") && !/\\.html?$/.test(last)) continue;  // a feed, an image: not a page
    const box = a.getBoundingClientRect();
    const style = getComputedStyle(a);
    if (box.width < 1 || box.height < 1 || style.visibility === "hidden") continue;
    out.push({href, fresh: !visited.map(norm).includes(norm(url.pathname))});
  }
  const fresh = out.filter(l => l.fresh);
  return (fresh.length ? fresh : out).map(l => l.href);
}"""


@dataclass
class Walk:
    clicked: list[str] = field(default_factory=list)  # href attributes, in order
    kinds: list[str] = field(default_factory=list)  # "client-side" or "full load" per click
    urls: list[str] = field(default_factory=list)  # the page's path after each click
    issues: list[Issue] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # everything requested after the home page settled
    missing: str | None = None  # the planned link the processed site did not show


def click_through(chromium: Any, origin: str, plan: list[str] | None) -> Walk:
    """From the home page, click internal links in sequence: choose them (plan None) or follow a plan."""
    walk = Walk()
    context, page, tracker = new_page(chromium, origin)
    try:
        tracker.where = "/"
        page.goto(origin + "/", wait_until="load")
        tracker.settle(page)
        tracker.issues.clear()  # the home page's own load is compared by the page test
        start = len(tracker.requests)
        visited = ["/"]
        steps = plan if plan is not None else [None] * MAX_CLICKS
        for step in steps:
            href = step
            if href is None:
                candidates = page.evaluate(LINKS_JS, visited)
                if not candidates:
                    break
                href = candidates[0]
            link = page.locator(f"a[href={json.dumps(href)}]").locator("visible=true").first
            if link.count() == 0:
                walk.missing = f"no visible link {href!r} on {urlsplit(page.url).path}"
                break
            before = urlsplit(page.url).path
            page.evaluate("window.__hashdeployMarker = true")
            tracker.where = f"click {len(walk.clicked) + 1} on {href!r} from {before}"
            link.click()
            page.wait_for_function(f"p => ({NORM_JS})(location.pathname) !== ({NORM_JS})(p)", arg=before,
                                   timeout=TIMEOUT_MS)
            page.wait_for_load_state("load")
            tracker.settle(page)
            soft = page.evaluate("window.__hashdeployMarker === true")
            walk.clicked.append(href)
            walk.kinds.append("client-side" if soft else "full load")
            walk.urls.append(urlsplit(page.url).path)
            visited.append(urlsplit(page.url).path)
        walk.issues = tracker.issues
        walk.requests = tracker.requests[start:]
    finally:
        context.close()
    return walk


def new_issues(hashed: list[Issue], plain: list[Issue]) -> list[Issue]:
    """Issues of the processed site whose normalised form the generator's own output does not show."""
    known = {(i.key, i.where) for i in plain}
    seen: set[tuple[str, str]] = set()
    out = []
    for issue in hashed:
        if (issue.key, issue.where) in known or (issue.key, issue.where) in seen:
            continue
        seen.add((issue.key, issue.where))
        out.append(issue)
    return out


def describe(issues: list[Issue]) -> str:
    return "\n".join(f"  {i.where}: {i.raw}" for i in issues)


# ---------------------------------------------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize("name", SITES)
def test_hashdeploy_processes_the_starter(processed: Callable[[str], Processed], name: str) -> None:
    p = processed(name)
    require_ok(p)
    manifest = p.manifest
    assert manifest["files"], f"{name}: empty manifest"
    print(f"{name}: {p.stdout.strip()} [hashdeploy {p.seconds:.1f} s, build {p.build_seconds:.1f} s]\n{p.stderr}")


@pytest.mark.parametrize("name", SITES)
def test_processed_starter_is_consistent(processed: Callable[[str], Processed], name: str) -> None:
    """siteassert: every page's and stylesheet's subresources resolve to hashed or fingerprinted files (or stable
    ones for a fixed-URL reason), and pages differ from the generator's only in URLs."""
    p = processed(name)
    require_ok(p)
    counts = assert_site_consistent(p.src, p.out, p.manifest)
    assert counts["html"] >= 1, counts


@pytest.mark.parametrize("name", SITES)
def test_every_page_loads_after_processing(processed: Callable[[str], Processed], chromium: Any, name: str) -> None:
    p = processed(name)
    require_ok(p)
    paths = pick_pages(p.src)
    assert "/" in paths, f"{name}: no home page"
    with static_server() as (plain_origin, plain_mounts), static_server() as (hashed_origin, hashed_mounts):
        plain_mounts["/"] = p.src
        hashed_mounts["/"] = p.out
        plain, plain_status = load_pages(chromium, plain_origin, paths)
        hashed, hashed_status = load_pages(chromium, hashed_origin, paths)
    assert plain_status["/"] == 200, f"{name}: the generator's own home page did not load: {plain_status}"
    assert hashed_status == plain_status, f"{name}: page statuses differ"
    fresh = new_issues(hashed, plain)
    assert not fresh, (f"{name}: {len(fresh)} failure(s) after hashdeploy that the generator's output does not have "
                       f"({len(paths)} pages loaded):\n{describe(fresh)}"
                       + (f"\nalready in the generator's output:\n{describe(plain)}" if plain else ""))


@pytest.mark.parametrize("name", SITES)
def test_clicking_internal_links_after_processing(processed: Callable[[str], Processed], chromium: Any,
                                                  name: str) -> None:
    p = processed(name)
    require_ok(p)
    with static_server() as (plain_origin, plain_mounts), static_server() as (hashed_origin, hashed_mounts):
        plain_mounts["/"] = p.src
        hashed_mounts["/"] = p.out
        plain = click_through(chromium, plain_origin, None)
        assert len(plain.clicked) >= MIN_CLICKS, f"{name}: only {plain.clicked} to click on the generator's own site"
        hashed = click_through(chromium, hashed_origin, plain.clicked)
    print(f"{name}: clicked {list(zip(plain.clicked, plain.kinds, strict=True))}")
    assert hashed.missing is None, f"{name}: {hashed.missing} (clicked so far: {hashed.clicked})"
    assert hashed.urls == plain.urls, f"{name}: the clicks led elsewhere"
    fresh = new_issues(hashed.issues, plain.issues)
    assert not fresh, (f"{name}: {len(fresh)} failure(s) while clicking through the processed site "
                       f"({' -> '.join(plain.urls)}):\n{describe(fresh)}")
