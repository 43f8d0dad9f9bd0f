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
from conftest import AwsWorld, write_tree

from hashdeploy.records import from_bytes, history_from_bytes

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


CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}/[^"']+)\1""")


def css_urls(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in CSS_URL.finditer(CSS_COMMENT.sub("", text))]


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
    dist = aws.cf.create_distribution(DistributionConfig={
        "CallerReference": bucket, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{bucket}.s3.amazonaws.com",
                                              "OriginPath": "", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    })
    return Target(bucket, dist["Distribution"]["Id"])


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


def phase_of(method: str, path: str, headers: dict[str, str], t: Target, after_commit: bool) -> str:
    """Which step of a deploy a write belongs to."""
    key = unquote(path[len(t.bucket) + 2:]) if path.startswith(f"/{t.bucket}/") else ""
    if "/invalidation" in path:
        return "invalidate"
    if key == RESERVED + "lock.json":
        return "lock" if method == "PUT" else "unlock"
    if key.startswith(RESERVED + "stable/"):
        return "keep-copy"
    if key.startswith(RESERVED):
        return "record-update" if after_commit else "commit"
    if key.endswith(".html"):
        return "pages"
    if re.search(r"\.[0-9a-f]{12}\.", key):
        return "assets"
    return "stable"


class KillAt:
    """Fault hook: SIGKILL the deploy process at the k-th write to its target; fail that write and any later."""

    def __init__(self, k: int, t: Target) -> None:
        self.k, self.t = k, t
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
            if self.seen < self.k:
                return None
            if self.seen == self.k:
                self.ready.wait(10)
                assert self.pid is not None
                os.kill(self.pid, signal.SIGKILL)
                self.killed_on = (method, path)
        return 503, "ServiceUnavailable", "the client was killed"


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


KILLS = int(os.environ.get("HASHDEPLOY_CRASH_KILLS", "24"))


def test_sigkill_at_every_phase_then_rerun_converges(aws: AwsWorld, tmp_path: Path, run) -> None:
    started = time.monotonic()
    v1_src = write_tree(tmp_path / "v1", site_files(1))
    v2_src = write_tree(tmp_path / "v2", site_files(2))
    # the two processed trees, for the independent list of stable URLs that changed
    for name, src in (("v1", v1_src), ("v2", v2_src)):
        assert run(src, "--out", tmp_path / f"out-{name}", "--quiet")[0] == 0
    from conftest import load_manifest

    expected_urls = changed_stable_urls(load_manifest(tmp_path / "out-v1"), load_manifest(tmp_path / "out-v2"),
                                        tmp_path / "out-v1", tmp_path / "out-v2")
    assert "/robots.txt" in expected_urls and "/pages/p27/" in expected_urls and "/" in expected_urls
    assert "/pages/p01/" not in expected_urls, "the test site must keep some pages unchanged"

    shared_cache = tmp_path / "cache-v1"

    def fresh(tag: str) -> Target:
        t = new_target(aws, tag)
        code, _doc, err = run_deploy(v1_src, t, shared_cache, tmp_path)
        assert code == 0, err
        t.v1_invalidations = invalidation_ids(aws, t)
        return t

    # the reference: v1 then v2, never interrupted; its v2 writes give N and the phase of each write
    ref = fresh("ref")
    aws.recorder.clear()
    code, doc, err = run_deploy(v2_src, ref, tmp_path / "cache-ref", tmp_path)
    assert code == 0, err
    log = [r for r in aws.recorder.log if is_write(r.method) and ours(ref, r.path)]
    phases: list[str] = []
    for r in log:
        phases.append(phase_of(r.method, r.path, r.headers, ref, after_commit="invalidate" in phases))
    n = len(phases)
    reference = snapshot(aws, ref.bucket)
    assert broken_references(reference) == [] and unreadable_records(reference) == []
    ref_served, ref_kept = served(reference), kept_copies(reference)
    assert all(k.endswith(sha) for k, sha in ref_kept.items()), "a kept copy must hold the bytes its name says"
    ref_paths = invalidated_since_v1(aws, ref)
    assert all(covered(u, ref_paths) for u in expected_urls), sorted(u for u in expected_urls if not covered(u, ref_paths))
    print(f"\nuninterrupted v2 deploy: {n} writes: {dict(Counter(phases))}")

    outcomes: list[Outcome] = []
    for k in pick_kills(phases, KILLS):
        t0 = time.monotonic()
        t = fresh(f"k{k}")
        before = snapshot(aws, t.bucket)
        out = Outcome(k, phases[k - 1], "")
        cache = tmp_path / f"cache-k{k}"
        hook = KillAt(k, t)
        aws.recorder.fault = hook
        proc = subprocess.Popen(deploy_cmd(v2_src, t), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                                env=dict(os.environ, HASHDEPLOY_CACHE_DIR=str(cache)))
        hook.pid = proc.pid
        hook.ready.set()
        try:
            proc.communicate(timeout=120)
        finally:
            aws.recorder.fault = None
        if proc.returncode != -signal.SIGKILL:
            out.problems.append(f"the deploy was not killed (exit {proc.returncode}, {hook.seen} writes)")
        out.request = " ".join(hook.killed_on or ("?", "?"))
        after = snapshot(aws, t.bucket)
        out.problems += [f"after the kill: {p}" for p in broken_references(after)]
        out.problems += [f"after the kill: unreadable {p}" for p in unreadable_records(after)]
        lost = [key for key in before if key not in after]
        out.lost += len(lost)
        out.problems += [f"after the kill: {key} is gone" for key in lost]
        lock_left = RESERVED + "lock.json" in after
        # the rerun, without faults
        code, doc, err = run_deploy(v2_src, t, cache, tmp_path)
        if code != 0 or doc is None:
            out.problems.append(f"the rerun failed ({code}): {err.strip()}")
        else:
            did_work = doc["deploy_id"] is not None or bool(doc["invalidation"]["paths"])
            took_over = [w for w in doc["warnings"] if "took over the lock" in w and f"pid {proc.pid} " in w]
            if lock_left and did_work and not took_over:
                out.problems.append(f"the rerun did not report taking over the dead run's lock: {doc['warnings']}")
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
        out.problems += [f"after the rerun: {key} holds bytes of sha256 {sha[:12]}…, not the ones its name says"
                         for key, sha in kept.items() if not key.endswith(sha)]
        current = json.loads(final[RESERVED + "current.json"].body)
        if current["pending_invalidation"]:
            out.problems.append(f"invalidation still owed after the rerun: {current['pending_invalidation']}")
        if set(current["objects"]) != {k for k in got if k in current["objects"]} or \
                {k: (o["sha256"], o["content_type"], o["cache_control"]) for k, o in current["objects"].items()} != \
                {k: got[k] for k in current["objects"]}:
            out.problems.append("the live record does not describe what the bucket serves")
        paths = invalidated_since_v1(aws, t)
        missed = sorted(u for u in expected_urls if not covered(u, paths))
        if missed:
            out.problems.append(f"changed stable URLs never invalidated: {missed}")
        out.converged = not out.problems
        out.seconds = time.monotonic() - t0
        outcomes.append(out)

    lines = [f"k={o.k:>3} {o.phase:<13} {o.seconds:5.1f}s {'converged' if o.converged else 'FAILED'} {o.request}"
             + "".join(f"\n        {p}" for p in o.problems[:6]) for o in outcomes]
    by_phase = Counter(o.phase for o in outcomes)
    tried, converged, lost = len(outcomes), sum(o.converged for o in outcomes), sum(o.lost for o in outcomes)
    print("\n".join(lines))
    print(f"kills tried: {tried} (of N={n} writes; per phase {dict(by_phase)}), runs that converged: {converged}, "
          f"objects lost: {lost}; {time.monotonic() - started:.0f} s")
    assert tried >= min(20, n) and set(by_phase) == set(phases), (by_phase, set(phases))
    assert lost == 0
    assert converged == tried, "\n".join(lines)
