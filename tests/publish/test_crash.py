"""Crash consistency: a deploy killed with SIGKILL at many points, then rerun, ends exactly like one never killed.

A generated site (30 pages, stylesheets with @import and url(), ES modules, images, a font, robots.txt, a sitemap)
is deployed as v1; v2 changes an image a stylesheet uses, a script module, robots.txt, the sitemap and a few
pages, and deletes one page. The v2 deploy runs as a subprocess (`python -m hashdeploy`) against the moto server,
whose fault hook SIGKILLs it at exactly the k-th state-changing request it receives (that request, and any later
one, fails: the process is dead). For every k, from a fresh bucket holding v1:

- every page the bucket serves (old or new) references only objects that exist, through stylesheets (`url()`,
  `@import`) and module imports too, and no object the bucket held before the kill is gone;
- `.hashdeploy/current.json`, `history.json` and every `deploys/*.json` parse (as JSON and as hashdeploy records);
- a rerun of the same deploy, without faults, takes over the dead run's lock (and says so), and leaves the bucket
  exactly as an uninterrupted v1-then-v2 deploy does: the same served keys, bytes, Content-Type and
  Cache-Control, the same set of kept stable copies (each holding the bytes its name says);
- the invalidations sent after v1 cover every stable URL that changed between the two processed trees (computed
  here, independently), including the ones the killed run had already uploaded.

The figures (kills tried, runs that converged, objects lost) are printed; set CRASH_TEST_TABLE=1 for one line per
kill. Three more kills check what a rerun must also get right: a rollback to v1 afterwards serves v1's bytes, a
deploy killed before its history line stays in the history, and deploying v1 again (instead of rerunning v2)
puts v1 back and invalidates what the killed run had replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from conftest import AwsWorld, RunCli, make_distribution, write_tree

from hashdeploy.publish.records import from_bytes, history_from_bytes

RESERVED = ".hashdeploy/"
PAGES = 28  # pages/p00 … pages/p27, plus index.html and 404.html: 30 pages
GONE = "pages/p27/index.html"  # deleted in v2
TEXT_ONLY = ("pages/p05/index.html", "pages/p07/index.html")  # v2 changes their text only


# ---------------------------------------------------------------------------------------------------------------
# the site


def _blob(tag: str, size: int = 300) -> bytes:
    """Deterministic binary content (the deploy never decodes images)."""
    out = b""
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{tag}:{i}".encode()).digest()
        i += 1
    return b"\x89PNG\r\n\x1a\n" + out[:size]


def _page(i: int, text: str, pages: int) -> str:
    css = "../../css/site.css" if i % 2 == 0 else "../../css/print.css"
    js = "../../js/app.js" if i % 3 == 0 else "../../js/standalone.js"
    nxt = f'<a href="../p{i + 1:02d}/">next</a>' if i + 1 < pages else ""
    return (f'<!doctype html>\n<html><head><meta charset="utf-8"><title>Page {i}</title>\n'
            f'<link rel="stylesheet" href="{css}">\n<script type="module" src="{js}"></script></head>\n'
            f'<body><img src="../../img/p{i % 6}.png" alt=""> <img src="/img/logo.png" alt="">\n'
            f'<p>{text}</p>{nxt} <a href="/">home</a></body></html>\n')


def site_files(version: int) -> dict[str, str | bytes]:
    """The source tree of version 1 or 2."""
    pages = PAGES if version == 1 else PAGES - 1
    files: dict[str, str | bytes] = {
        "index.html": '<!doctype html>\n<html><head><meta charset="utf-8"><title>Home</title>\n'
                      '<link rel="stylesheet" href="css/site.css"><link rel="icon" href="/favicon.ico">\n'
                      '<script type="module" src="js/app.js"></script></head>\n'
                      '<body style="background-image: url(\'img/p1.png\')"><img src="img/logo.png" alt="logo">\n'
                      + "".join(f'<a href="pages/p{i:02d}/">{i}</a>\n' for i in range(pages))
                      + '<a href="docs/guide.pdf">guide</a></body></html>\n',
        "404.html": '<!doctype html>\n<html><head><meta charset="utf-8"><title>Not found</title>\n'
                    '<link rel="stylesheet" href="/css/site.css"></head>\n'
                    '<body><img src="/img/logo.png" alt=""><a href="/">home</a></body></html>\n',
        "css/site.css": '@import url("base.css");\n@font-face { font-family: F; src: url(../fonts/f.woff2) '
                        'format("woff2"); }\nbody { background: url("../img/bg.png") repeat; }\n',
        "css/base.css": ".logo { background-image: url('../img/logo.png'); }\n",
        "css/print.css": "body { color: #333; }\n",
        "js/app.js": "import { greet } from './util.js';\ndocument.title += greet();\n",
        "js/util.js": "export function greet() { return ' v1'; }\n",
        "js/standalone.js": "console.log('standalone');\n",
        "img/bg.png": _blob("bg"),
        "img/logo.png": _blob("logo"),
        "fonts/f.woff2": _blob("font", 900),
        "favicon.ico": _blob("icon", 100),
        "docs/guide.pdf": b"%PDF-1.4\n" + _blob("pdf", 500),
        "robots.txt": "User-agent: *\nAllow: /\n",
        "sitemap.xml": '<?xml version="1.0"?>\n<urlset>' + "".join(
            f"<url><loc>https://example.com/pages/p{i:02d}/</loc></url>" for i in range(pages)) + "</urlset>\n",
    }
    for n in range(6):
        files[f"img/p{n}.png"] = _blob(f"p{n}")
    for i in range(pages):
        key = f"pages/p{i:02d}/index.html"
        files[key] = _page(i, f"Page {i}" + (" (revised in v2)" if version == 2 and key in TEXT_ONLY else ""), pages)
    if version == 2:
        files["img/bg.png"] = _blob("bg-v2")  # an image a stylesheet uses: site.css gets a new name
        files["js/util.js"] = "export function greet() { return ' v2'; }\n"  # a module: app.js gets a new name
        files["robots.txt"] = "User-agent: *\nDisallow: /drafts/\n"  # a stable non-HTML file
    return files


# ---------------------------------------------------------------------------------------------------------------
# what the bucket holds


@dataclass
class Obj:
    body: bytes
    content_type: str
    cache_control: str


def snapshot(aws: AwsWorld, bucket: str) -> dict[str, Obj]:
    """Every object with its bytes and the headers a viewer gets."""
    out: dict[str, Obj] = {}
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            r = aws.s3.get_object(Bucket=bucket, Key=o["Key"])
            out[o["Key"]] = Obj(r["Body"].read(), r.get("ContentType", ""), r.get("CacheControl", ""))
    return out


class _Refs(HTMLParser):
    """URLs an HTML page makes the browser load or lets the user follow."""

    ATTRS = {"src", "href", "poster", "data"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in self.ATTRS:
                self.urls.append(value)
            elif name in ("srcset", "imagesrcset"):
                self.urls += [part.strip().split()[0] for part in value.split(",") if part.strip()]
            elif name == "style":
                self.css.append(value)
            elif name == "content" and tag == "meta" and value.startswith(("/", ".")):
                self.urls.append(value)
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


# a string literal (skipped: `content: "url(x)"` is no reference), url(), @import "…", or image-set("…" 1x, …)
CSS_TOKEN = re.compile(r"""("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')"""
                       r"""|url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)"""
                       r"""|@import\s+(?:"([^"]*)"|'([^']*)')"""
                       r"""|image-set\(((?:[^()]|\([^()]*\))*)\)""")
CSS_STRING = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)')""")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}/[^"']+)\1""")


def css_urls(text: str) -> list[str]:
    """URLs a stylesheet loads: url() in any quoting, @import, and strings in image-set()."""
    out: list[str] = []
    for m in CSS_TOKEN.finditer(CSS_COMMENT.sub("", text)):
        if m.group(7) is not None:  # image-set: its candidates are url()s or strings
            for part in re.split(r",(?![^(]*\))", m.group(7)):
                s = CSS_STRING.match(part)
                out += [s.group(1) or s.group(2)] if s else css_urls(part)
        else:
            out += [g for g in m.groups()[1:6] if g is not None]
    return out


def resolve(base_key: str, url: str) -> str | None:
    """The bucket key a URL on page `base_key` names; None for external and non-fetching URLs."""
    if not url or url.startswith(("#", "data:", "mailto:", "javascript:", "blob:", "tel:")):
        return None
    full = urljoin("https://site.test/" + base_key, url)
    parts = urlsplit(full)
    if parts.netloc != "site.test":
        return None
    key = unquote(parts.path).lstrip("/")
    return key + "index.html" if key == "" or key.endswith("/") else key


def broken_references(objects: dict[str, Obj]) -> list[str]:
    """Every reference from a served page, and from the stylesheets and scripts it loads, to a missing object."""
    problems: list[str] = []
    seen: set[str] = set()
    todo = [k for k in objects if k.endswith(".html") and not k.startswith(RESERVED)]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        text = objects[key].body.decode("utf-8", "replace")
        if key.endswith(".html"):
            parser = _Refs()
            parser.feed(text)
            urls = parser.urls + [u for block in parser.css for u in css_urls(block)]
        elif key.endswith(".css"):
            urls = css_urls(text)
        elif key.endswith((".js", ".mjs")):
            urls = [m.group(2) for m in JS_IMPORT.finditer(text)]
        else:
            continue
        for url in urls:
            target = resolve(key, url)
            if target is None:
                continue
            if target not in objects:
                problems.append(f"{key} -> {url} (missing {target})")
            elif target.endswith((".css", ".js", ".mjs")):
                todo.append(target)
    return problems


def unreadable_records(objects: dict[str, Obj]) -> list[str]:
    """Records that do not parse, as JSON and as what hashdeploy reads them as."""
    bad = []
    for key, obj in objects.items():
        if not key.startswith(RESERVED) or key.startswith(RESERVED + "stable/"):
            continue
        try:
            json.loads(obj.body)
            if key == RESERVED + "current.json" or key.startswith(RESERVED + "deploys/"):
                from_bytes(obj.body, key)
            elif key == RESERVED + "history.json":
                history_from_bytes(obj.body, key)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            bad.append(f"{key}: {exc}")
    return bad


def served(objects: dict[str, Obj]) -> dict[str, tuple[str, str, str]]:
    """Site objects (records and kept copies excluded): key -> (sha256, Content-Type, Cache-Control)."""
    return {k: (hashlib.sha256(o.body).hexdigest(), o.content_type, o.cache_control)
            for k, o in objects.items() if not k.startswith(RESERVED)}


def kept_copies(objects: dict[str, Obj]) -> dict[str, str]:
    """Kept stable copies: key -> sha256 of the bytes it actually holds."""
    return {k: hashlib.sha256(o.body).hexdigest() for k, o in objects.items() if k.startswith(RESERVED + "stable/")}


def changed_stable_urls(old: dict[str, Any], new: dict[str, Any], old_tree: Path, new_tree: Path) -> set[str]:
    """Viewer URLs of stable files whose bytes changed, or that left the site, between two processed trees."""
    def stable(manifest: dict[str, Any]) -> set[str]:
        return {k for k, v in manifest_files(manifest).items() if v == "stable"}

    keys = set()
    for key in stable(old):
        if key not in stable(new) or (old_tree / key).read_bytes() != (new_tree / key).read_bytes():
            keys.add(key)
    urls = set()
    for key in keys:
        urls.add("/" + key)
        if key == "index.html" or key.endswith("/index.html"):
            urls.add("/" + key[: -len("index.html")])
    return urls


def manifest_files(manifest: dict[str, Any]) -> dict[str, str]:
    """key -> class."""
    return {k: v["class"] for k, v in manifest["files"].items()}


def covered(url: str, paths: set[str]) -> bool:
    return url in paths or any(p.endswith("*") and url.startswith(p[:-1]) for p in paths)


# ---------------------------------------------------------------------------------------------------------------
# running deploys


@dataclass
class Target:
    bucket: str
    distribution_id: str
    v1_invalidations: set[str] = field(default_factory=set)


_names = iter(range(10**6))


def new_target(aws: AwsWorld, tag: str) -> Target:
    bucket = f"crash-{tag}-{next(_names)}-{os.getpid()}"
    aws.s3.create_bucket(Bucket=bucket)
    return Target(bucket, make_distribution(aws.cf, bucket))


def invalidation_ids(aws: AwsWorld, t: Target) -> set[str]:
    items = aws.cf.list_invalidations(DistributionId=t.distribution_id)["InvalidationList"].get("Items", [])
    return {it["Id"] for it in items}


def invalidated_since_v1(aws: AwsWorld, t: Target) -> set[str]:
    paths: set[str] = set()
    for inv_id in invalidation_ids(aws, t) - t.v1_invalidations:
        inv = aws.cf.get_invalidation(DistributionId=t.distribution_id, Id=inv_id)["Invalidation"]
        paths |= set(inv["InvalidationBatch"]["Paths"].get("Items", []))
    return paths


def deploy_cmd(site: Path, t: Target) -> list[str]:
    return [sys.executable, "-m", "hashdeploy", str(site), "--bucket", t.bucket, "--distribution-id",
            t.distribution_id, "--json"]


def run_deploy(site: Path, t: Target, cache: Path, cwd: Path) -> tuple[int, dict[str, Any] | None, str]:
    proc = subprocess.run(deploy_cmd(site, t), capture_output=True, text=True, cwd=cwd, timeout=120,
                          env=dict(os.environ, HASHDEPLOY_CACHE_DIR=str(cache)))
    doc = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
    return proc.returncode, doc, proc.stderr


def is_write(method: str) -> bool:
    return method in ("PUT", "POST", "DELETE", "PATCH")


def ours(t: Target, path: str) -> bool:
    return path.startswith(f"/{t.bucket}") or f"/distribution/{t.distribution_id}/" in path


def phase_of(method: str, path: str, t: Target, earlier: list[str]) -> str:
    """Which step of a deploy a write belongs to, given the phases of the writes before it."""
    key = unquote(path[len(t.bucket) + 2:]) if path.startswith(f"/{t.bucket}/") else ""
    if "/invalidation" in path:
        return "invalidate"
    if key == RESERVED + "lock.json":
        return "lock" if method == "PUT" else "unlock"
    if key.startswith(RESERVED + "stable/"):
        return "keep-copy"
    if key.startswith(RESERVED + "deploys/") and "invalidate" not in earlier:
        return "commit"
    if key.startswith(RESERVED):
        if "invalidate" in earlier:
            return "record-update"
        return "commit" if "commit" in earlier else "mark-dirty"  # current.json noting keys about to change
    if key.endswith(".html"):
        return "pages"
    if re.search(r"\.[0-9a-f]{12}\.", key):
        return "assets"
    return "stable"


class KillAt:
    """Fault hook: SIGKILL the deploy process at the k-th write to its target (or the first write `when` accepts);
    fail that write and every later one (the process is dead anyway)."""

    def __init__(self, t: Target, k: int | None = None, when: Any = None) -> None:
        self.k, self.t, self.when = k, t, when
        self.pid: int | None = None
        self.ready = threading.Event()
        self.seen = 0
        self.killed_on: tuple[str, str] | None = None
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        if not is_write(method) or not ours(self.t, path):
            return None
        with self.lock:
            self.seen += 1
            if self.killed_on is None:
                if self.seen != self.k and not (self.when is not None and self.when(method, path, headers)):
                    return None
                self.ready.wait(10)
                assert self.pid is not None
                os.kill(self.pid, signal.SIGKILL)
                self.killed_on = (method, path)
        return 503, "ServiceUnavailable", "the client was killed"


def killed_deploy(aws: AwsWorld, site: Path, t: Target, hook: KillAt, cache: Path, cwd: Path) -> int:
    """Run a deploy of `site` that `hook` kills; return the dead process's pid."""
    aws.recorder.fault = hook
    proc = subprocess.Popen(deploy_cmd(site, t), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            env=dict(os.environ, HASHDEPLOY_CACHE_DIR=str(cache)))
    hook.pid = proc.pid
    hook.ready.set()
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        aws.recorder.fault = None
    assert proc.returncode == -signal.SIGKILL, f"the deploy was not killed (exit {proc.returncode}): {err!r}"
    return proc.pid


# ---------------------------------------------------------------------------------------------------------------
# the test


@dataclass
class Outcome:
    k: int
    phase: str
    request: str
    problems: list[str] = field(default_factory=list)
    converged: bool = False
    lost: int = 0
    seconds: float = 0.0
    took_over: bool = False
    corrupt_copies: list[str] = field(default_factory=list)
    lock_left_after_rerun: bool = False


def pick_kills(phases: list[str], want: int) -> list[int]:
    """At least `want` distinct k in 1..N, spread evenly, with every phase's first and last write included."""
    n = len(phases)
    if n <= want:
        return list(range(1, n + 1))
    ks = {round(1 + i * (n - 1) / (want - 1)) for i in range(want)}
    for ph in set(phases):
        idx = [i + 1 for i, p in enumerate(phases) if p == ph]
        ks |= {idx[0], idx[-1]}
    return sorted(ks)


KILLS = 24  # distinct kill points at least (every write when the deploy makes fewer)


@dataclass
class Sites:
    v1: Path
    v2: Path
    out_v1: Path
    out_v2: Path
    changed_urls: set[str]
    tmp: Path
    cache_v1: Path

    def fresh(self, aws: AwsWorld, tag: str) -> Target:
        """A new bucket and distribution with v1 deployed (uninterrupted)."""
        t = new_target(aws, tag)
        code, _doc, err = run_deploy(self.v1, t, self.cache_v1, self.tmp)
        assert code == 0, err
        t.v1_invalidations = invalidation_ids(aws, t)
        return t


@pytest.fixture
def sites(tmp_path: Path, run: RunCli) -> Sites:
    """Sources of v1 and v2, their processed trees, and the stable URLs that changed (computed from the trees)."""
    from conftest import load_manifest

    v1 = write_tree(tmp_path / "v1", site_files(1))
    v2 = write_tree(tmp_path / "v2", site_files(2))
    for name, src in (("v1", v1), ("v2", v2)):
        assert run(src, "--out", tmp_path / f"out-{name}", "--quiet")[0] == 0
    urls = changed_stable_urls(load_manifest(tmp_path / "out-v1"), load_manifest(tmp_path / "out-v2"),
                               tmp_path / "out-v1", tmp_path / "out-v2")
    assert "/robots.txt" in urls and "/pages/p27/" in urls and "/" in urls and "/pages/p05/" in urls
    assert "/pages/p01/" not in urls, "the test site must keep some pages unchanged"
    return Sites(v1, v2, tmp_path / "out-v1", tmp_path / "out-v2", urls, tmp_path, tmp_path / "cache-v1")


def page_write(method: str, path: str, headers: dict[str, str]) -> bool:
    return method == "PUT" and path.endswith(".html") and f"/{RESERVED}" not in path


def crash_and_rerun(aws: AwsWorld, sites: Sites, k: int, phase: str, ref_served: dict[str, tuple[str, str, str]],
                    ref_kept: dict[str, str]) -> Outcome:
    """From a fresh bucket holding v1: the v2 deploy killed at its k-th write, the checks, the rerun, the checks."""
    t0 = time.monotonic()
    t = sites.fresh(aws, f"k{k}")
    before = snapshot(aws, t.bucket)
    out = Outcome(k, phase, "")
    cache = sites.tmp / f"cache-k{k}"  # the killed run and its rerun share a cache, as on one machine
    hook = KillAt(t, k=k)
    try:
        pid = killed_deploy(aws, sites.v2, t, hook, cache, sites.tmp)
    except AssertionError as exc:
        pid = -1
        out.problems.append(str(exc))
    out.request = " ".join(hook.killed_on or ("?", "?"))
    # right after the kill: the site is consistent, the records parse, nothing is gone
    after = snapshot(aws, t.bucket)
    out.problems += [f"after the kill: {p}" for p in broken_references(after)]
    out.problems += [f"after the kill: unreadable {p}" for p in unreadable_records(after)]
    lost = [key for key in before if key not in after]
    out.lost += len(lost)
    out.problems += [f"after the kill: {key} is gone" for key in lost]
    lock_left = RESERVED + "lock.json" in after
    # the rerun, without faults: it takes over the dead run's lock and says so
    code, doc, err = run_deploy(sites.v2, t, cache, sites.tmp)
    if code != 0 or doc is None:
        out.problems.append(f"the rerun failed ({code}): {err.strip()}")
    else:
        did_work = doc["deploy_id"] is not None or bool(doc["invalidation"]["paths"])
        out.took_over = any("took over the lock" in w and f"pid {pid} " in w for w in doc["warnings"])
        if lock_left and did_work and not out.took_over:
            out.problems.append(f"the rerun did not report taking over the dead run's lock: {doc['warnings']}")
    # after the rerun: the state of an uninterrupted deploy
    final = snapshot(aws, t.bucket)
    out.problems += [f"after the rerun: {p}" for p in broken_references(final)]
    out.problems += [f"after the rerun: unreadable {p}" for p in unreadable_records(final)]
    got = served(final)
    for key in sorted(set(got) | set(ref_served)):
        if key not in got:
            out.lost += 1
            out.problems.append(f"after the rerun: {key} is missing")
        elif got[key] != ref_served.get(key):
            out.problems.append(f"after the rerun: {key} differs: {got[key]} != {ref_served.get(key)}")
    kept = kept_copies(final)
    if set(kept) != set(ref_kept):
        out.problems.append(f"kept copies differ: extra {sorted(set(kept) - set(ref_kept))}, "
                            f"missing {sorted(set(ref_kept) - set(kept))}")
    # a kept copy must hold the bytes its name says, or a rollback would serve something else
    out.corrupt_copies = sorted(key for key, sha in kept.items() if not key.endswith(sha))
    out.problems += [f"after the rerun: {key} holds other bytes than its name says" for key in out.corrupt_copies]
    record = json.loads(final[RESERVED + "current.json"].body)
    if record["pending_invalidation"]:
        out.problems.append(f"invalidation still owed after the rerun: {record['pending_invalidation']}")
    said = {key: (o["sha256"], o["content_type"], o["cache_control"]) for key, o in record["objects"].items()}
    if said != {key: got.get(key) for key in said}:
        out.problems.append("the live record does not describe what the bucket serves")
    paths = invalidated_since_v1(aws, t)
    missed = sorted(u for u in sites.changed_urls if not covered(u, paths))
    if missed:
        out.problems.append(f"changed stable URLs never invalidated: {missed}")
    out.lock_left_after_rerun = RESERVED + "lock.json" in final
    out.converged = not out.problems
    out.seconds = time.monotonic() - t0
    return out


def describe(o: Outcome) -> str:
    notes = (["lock taken over"] if o.took_over else []) + (
        ["lock.json left behind: the rerun had nothing to do"] if o.lock_left_after_rerun else [])
    return (f"k={o.k:>3} {o.phase:<13} {o.seconds:4.1f}s {'converged' if o.converged else 'FAILED   '} "
            f"{o.request}{'  [' + '; '.join(notes) + ']' if notes else ''}"
            + "".join(f"\n        {p}" for p in o.problems[:6]))


def test_sigkill_at_every_phase_then_rerun_converges(aws: AwsWorld, sites: Sites, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    # the reference: v1 then v2, never interrupted; its v2 writes give N and the phase of each write
    ref = sites.fresh(aws, "ref")
    aws.recorder.clear()
    code, doc, err = run_deploy(sites.v2, ref, sites.tmp / "cache-ref", sites.tmp)
    assert code == 0, err
    phases: list[str] = []
    for r in aws.recorder.log:
        if is_write(r.method) and ours(ref, r.path):
            phases.append(phase_of(r.method, r.path, ref, phases))
    n = len(phases)
    reference = snapshot(aws, ref.bucket)
    assert broken_references(reference) == [] and unreadable_records(reference) == []
    ref_served, ref_kept = served(reference), kept_copies(reference)
    assert all(k.endswith(sha) for k, sha in ref_kept.items()), "a kept copy must hold the bytes its name says"
    ref_paths = invalidated_since_v1(aws, ref)
    assert all(covered(u, ref_paths) for u in sites.changed_urls), sites.changed_urls - ref_paths

    outcomes = [crash_and_rerun(aws, sites, k, phases[k - 1], ref_served, ref_kept) for k in pick_kills(phases, KILLS)]

    table = "\n".join(describe(o) for o in outcomes)
    by_phase = Counter(o.phase for o in outcomes)
    tried, converged, lost = len(outcomes), sum(o.converged for o in outcomes), sum(o.lost for o in outcomes)
    summary = (f"crash test: uninterrupted v2 deploy N={n} writes {dict(Counter(phases))}; kills tried: {tried} "
               f"{dict(by_phase)}; runs that converged: {converged}; objects lost: {lost}; reruns that took over the "
               f"lock: {sum(o.took_over for o in outcomes)}; {time.monotonic() - started:.0f} s")
    with capsys.disabled():
        print("\n" + summary + ("\n" + table if os.environ.get("CRASH_TEST_TABLE") else ""))
    assert tried >= min(20, n) and set(by_phase) == set(phases), (by_phase, set(phases))
    assert lost == 0, table
    assert converged == tried, table
    assert sum(o.took_over for o in outcomes) >= tried - 4, "most reruns find the dead run's lock"


# ---------------------------------------------------------------------------------------------------------------
# what a rerun after a kill must also get right: rollback copies, the history, going back instead of forward


def lifecycle(run: RunCli, t: Target, *args: str) -> tuple[int, Any, str]:
    code, out, err = run(*args, "--bucket", t.bucket, "--distribution-id", t.distribution_id, "--json")
    return code, (json.loads(out) if code == 0 and out.strip() else None), err


def stable_tree(out: Path) -> dict[str, str]:
    """Stable keys of a processed tree -> sha256 of their bytes."""
    from conftest import load_manifest

    return {k: hashlib.sha256((out / k).read_bytes()).hexdigest()
            for k, c in manifest_files(load_manifest(out)).items() if c == "stable"}


@pytest.mark.parametrize("killed", [True, False], ids=["killed", "uninterrupted"])
def test_rollback_after_a_killed_deploy_restores_v1_bytes(aws: AwsWorld, sites: Sites, run: RunCli, killed: bool) -> None:
    """The rerun must not keep the bytes a killed run left at a key as the kept copy of the body the record names
    (found: deploy.preserve copied v2's robots.txt over .hashdeploy/stable/<v1 sha256>; rollback then served v2)."""
    t = sites.fresh(aws, "keep")
    v1_stable = stable_tree(sites.out_v1)
    # v2 without the page deletion, so that the rollback does not depend on removed pages
    v2 = write_tree(sites.tmp / "v2-keep", site_files(2) | {GONE: _page(27, "Page 27", PAGES)})
    if killed:  # killed at its first page write: robots.txt and sitemap.xml already hold v2, every page v1
        killed_deploy(aws, v2, t, KillAt(t, when=page_write), sites.tmp / "cache-keep", sites.tmp)
    assert run_deploy(v2, t, sites.tmp / "cache-keep", sites.tmp)[0] == 0
    code, doc, err = lifecycle(run, t, "rollback")
    assert code == 0, err
    objects = snapshot(aws, t.bucket)
    wrong = sorted(k for k, sha in v1_stable.items() if hashlib.sha256(objects[k].body).hexdigest() != sha)
    bad_copies = sorted(k for k, sha in kept_copies(objects).items() if not k.endswith(sha))
    assert not wrong and not bad_copies, (f"after rolling back to v1, {wrong} do not hold v1's bytes; "
                                          f"kept copies holding other bytes than their name says: {bad_copies}")


def test_history_keeps_a_deploy_killed_before_its_history_line(aws: AwsWorld, sites: Sites, run: RunCli) -> None:
    """A deploy killed between the swap of current.json and its history.json line is still listed once later
    deploys are made (found: the rerun only invalidated, and the next deploy appended its line without it)."""
    t = sites.fresh(aws, "hist")
    history_put = lambda m, p, h: m == "PUT" and p.endswith("/.hashdeploy/history.json")  # noqa: E731
    killed_deploy(aws, sites.v2, t, KillAt(t, when=history_put), sites.tmp / "cache-hist", sites.tmp)
    code, doc, err = run_deploy(sites.v2, t, sites.tmp / "cache-hist", sites.tmp)
    assert code == 0, err
    v2_id = json.loads(snapshot(aws, t.bucket)[RESERVED + "current.json"].body)["id"]
    v3 = write_tree(sites.tmp / "v3", site_files(2) | {"robots.txt": "User-agent: *\nDisallow: /v3/\n"})
    code, doc, err = run_deploy(v3, t, sites.tmp / "cache-hist", sites.tmp)
    assert doc is not None, err
    assert code == 0 and doc["deploy_id"], err
    code, entries, err = lifecycle(run, t, "history")
    assert code == 0, err
    assert len(entries) == 3 and v2_id in [e["id"] for e in entries], (
        f"history lists {[e['id'] for e in entries]}; the v2 deploy {v2_id} was live and is missing")


def test_deploying_v1_again_after_a_killed_v2_restores_v1(aws: AwsWorld, sites: Sites, run: RunCli) -> None:
    """Going back instead of forward after a kill (found: the stable files the killed run had replaced were
    recorded nowhere, so the v1 deploy planned against v1's record, had nothing to do, and left them live)."""
    t = sites.fresh(aws, "back")
    v1_served = served(snapshot(aws, t.bucket))
    # killed after robots.txt, sitemap.xml and 5 pages were replaced with v2
    pages = iter(range(10**6))
    fifth_page = lambda m, p, h: page_write(m, p, h) and next(pages) == 5  # noqa: E731
    killed_deploy(aws, sites.v2, t, KillAt(t, when=fifth_page), sites.tmp / "cache-back", sites.tmp)
    code, doc, err = run_deploy(sites.v1, t, sites.tmp / "cache-back", sites.tmp)
    assert code == 0, err
    got = served(snapshot(aws, t.bucket))
    differ = sorted(k for k in v1_served if got.get(k) != v1_served[k])
    assert differ == [], f"after deploying v1 again, these still differ from v1: {differ}"
    paths = invalidated_since_v1(aws, t)
    assert "/robots.txt" in paths, f"robots.txt was replaced by the killed run and never invalidated: {paths}"
