"""The check through the CDN after a deploy (--check-url): fetch changed pages and what they load, compare sha256.

What is fetched: the stable files this deploy uploaded or re-headered (all the live stable files when it changed
nothing, so the same deploy run again re-checks), HTML first, at most --check-max-pages of them, each at every URL
a viewer uses (`/docs/index.html` and `/docs/`), plus everything they load, found the way hashdeploy reads pages:
the deployed bytes are parsed (the same bytes the CDN must serve) and their subresource references (stylesheets,
scripts, images, fonts, ES-module imports, what a stylesheet loads…) followed recursively. Links to other pages,
external URLs and `data:` are not followed.

What fails: any answer but 200; a redirect (reported with its Location, never followed: every URL fetched is
one a viewer uses, so a redirect means the CDN or origin is set up otherwise than the deploy assumes); a body
whose sha256 differs from the deployed object's (sent `Accept-Encoding: identity`; a gzip or deflate body is
still decoded, any other encoding cannot be compared and fails); a reference to a file that is not part of the
deploy; no answer (unreachable, or not answered before --check-timeout: a URL the check could not confirm is a
failure, never a pass). Changed pages beyond --check-max-pages are counted and reported, not failed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import queue
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError

from hashdeploy.errors import ConfigError
from hashdeploy.model import FileClass, RefKind
from hashdeploy.publish.invalidation import encode_path, viewer_urls
from hashdeploy.publish.records import RemoteObject
from hashdeploy.publish.report import CheckFailure, CheckResult, DeployReport
from hashdeploy.settings import Settings, deploy_target

FOLLOWED = ("html", "css", "js", "manifest")  # the kinds of files whose references are loaded by a browser
CHUNK = 64 * 1024
USER_AGENT = "hashdeploy-check"


def check_count(settings: Settings) -> None:
    """One check URL per distribution (in --distribution-id order); a file:// target takes exactly one."""
    urls, target = settings.check_url, deploy_target(settings)
    if not urls or target is None:
        return
    if target[0] == "file" and len(urls) > 1:
        raise ConfigError(f"Config value 'check_url': {len(urls)} URLs for a file:// target, which takes one "
                          "(the URL of the web server that serves the directory)")
    if target[0] == "s3" and len(urls) > max(1, len(settings.distribution_id)):  # no CDN: the bucket's website
        raise ConfigError(f"Config value 'check_url': {len(urls)} URL(s) for {len(settings.distribution_id)} "
                          "distribution(s); give one --check-url per --distribution-id, in the same order")


def pages_to_check(report: DeployReport) -> list[str]:
    """Stable keys this deploy uploaded or re-headered (all live stable keys if it changed nothing), HTML first."""
    stable = [a for a in report.plan.actions if a.file.cls is FileClass.STABLE]
    changed = [a for a in stable if a.action != "skip"] or stable
    html = ("text/html", "application/xhtml")
    return [a.key for a in sorted(changed, key=lambda a: (not a.file.content_type.startswith(html), a.key))]


def loaded_by(pages: list[str], root: Path, objects: dict[str, RemoteObject],
              settings: Settings) -> tuple[list[str], list[tuple[str, str]]]:
    """The pages and every deployed key they load, recursively (in discovery order), and the references
    (page key, what) to files that are not part of the deploy."""
    from hashdeploy.engine.parse import resolve_refs
    from hashdeploy.engine.refs import kind_of, parse

    order, seen, missing = list(pages), set(pages), []
    keys = set(objects)
    i = 0
    while i < len(order):
        key = order[i]
        i += 1
        kind = kind_of(key)
        if kind not in FOLLOWED:
            continue
        try:
            data = (root / key).read_bytes()
        except OSError:
            continue  # not in the processed folder (a file kept from an earlier deploy): nothing to follow
        refs, _warnings = resolve_refs({key: parse(data, kind)}, keys, settings)
        for ref in refs[key]:
            if ref.raw.kind is not RefKind.SUB:
                continue
            if ref.target is None:
                if ref.note in ("missing", "case"):
                    missing.append((key, f"loads {ref.raw.raw} (line {ref.raw.line}), which is not part of the deploy"))
                continue
            if ref.target not in seen:
                seen.add(ref.target)
                order.append(ref.target)
    return order, missing


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects as they are: urllib raises HTTPError with the 3xx status instead of following."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _read(resp: http.client.HTTPResponse, deadline: float, limit: int) -> bytes:
    """The body, chunk by chunk so a server that trickles bytes cannot outlast the deadline."""
    parts, size = [], 0
    while size <= limit:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = resp.read(CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _decoded(body: bytes, encoding: str) -> bytes | str:
    """The body without its Content-Encoding, or why it cannot be compared."""
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error):
        return f"the {encoding} body is corrupt"
    return f"served with Content-Encoding: {encoding} although identity was asked for; cannot compare the bytes"


def fetch(opener: urllib.request.OpenerDirector, url: str, want: RemoteObject, deadline: float,
          timeout_text: str) -> CheckFailure | None:
    """GET one URL; None when it answers 200 with the deployed bytes."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return CheckFailure(url, None, timeout_text)
    req = urllib.request.Request(url, headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT})
    try:
        with opener.open(req, timeout=remaining) as resp:
            status = resp.status
            body = _read(resp, deadline, want.size + CHUNK)
            encoding = resp.headers.get("Content-Encoding", "")
    except HTTPError as exc:
        where = exc.headers.get("Location") if exc.headers else None
        exc.close()
        moved = f" redirect to {where} (not followed)" if 300 <= exc.code < 400 and where else ""
        return CheckFailure(url, exc.code, f"{exc.code}{moved}")
    except URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return CheckFailure(url, None, timeout_text)
        return CheckFailure(url, None, f"unreachable ({exc.reason})")
    except TimeoutError:
        return CheckFailure(url, None, timeout_text)
    except (OSError, http.client.HTTPException) as exc:
        return CheckFailure(url, None, f"the connection failed ({type(exc).__name__}: {exc})")
    if status != 200:
        return CheckFailure(url, status, str(status))
    got = _decoded(body, encoding)
    if isinstance(got, str):
        return CheckFailure(url, status, got)
    digest = hashlib.sha256(got).hexdigest()
    if digest != want.sha256:
        return CheckFailure(url, status, f"bytes differ from the deployed object (sha256 {digest[:12]}…, deployed "
                                         f"{want.sha256[:12]}…, {len(got)} bytes, deployed {want.size})")
    return None


def _collapse(base: str, failures: list[CheckFailure], total: int) -> list[CheckFailure]:
    """A base URL nothing could be fetched through is one failure, not one per URL."""
    if total and len(failures) == total and all(f.problem.startswith("unreachable") for f in failures):
        return [CheckFailure(base, None, f"{failures[0].problem}; nothing was checked through it")]
    return failures


def run_fetches(jobs: list[tuple[str, RemoteObject]], settings: Settings, opener: urllib.request.OpenerDirector,
                deadline: float) -> tuple[list[CheckFailure | None], int]:
    """Fetch every (url, deployed object) with check_concurrency threads until the deadline; return each job's
    failure (None: fine) and how many got no answer in time."""
    late = f"not checked: no answer before the time limit (--check-timeout {settings.check_timeout:g} s)"
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(jobs)):
        todo.put(i)
    found: dict[int, CheckFailure | None] = {}
    bugs: list[BaseException] = []

    def worker() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                found[i] = fetch(opener, *jobs[i], deadline, late)
            except BaseException as exc:  # a bug: raised in the calling thread below
                bugs.append(exc)
                return

    # daemon threads: a request still blocked after the deadline (it ends by its own socket timeout) or after
    # Ctrl-C never holds the process back
    threads = [threading.Thread(target=worker, name="hashdeploy-check", daemon=True)
               for _ in range(min(settings.check_concurrency, len(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 0.5)
    if bugs:
        raise bugs[0]
    out = [found[i] if i in found else CheckFailure(url, None, late) for i, (url, _want) in enumerate(jobs)]
    return out, sum(1 for f in out if f is not None and f.problem == late)


def check_deploy(report: DeployReport, root: Path, served_prefixes: Sequence[str], settings: Settings,
                 opener_factory: Callable[[], urllib.request.OpenerDirector] | None = None) -> CheckResult:
    """Fetch the changed stable URLs and what they load through every --check-url; report what is not as deployed."""
    started = time.monotonic()
    bases = tuple(u.rstrip("/") for u in settings.check_url)
    if report.pending:
        return CheckResult(bases, 0, 0, 0, 0, (), 0.0, skipped="the invalidation is owed to the next run, so the "
                           "CDN may still serve the previous pages; run the deploy again to invalidate and check")
    objects = report.plan.objects
    pages = pages_to_check(report)
    chosen = pages[: settings.check_max_pages]
    deadline = started + settings.check_timeout  # for all the base URLs together
    keys, missing = loaded_by(chosen, root, objects, settings)
    is_page = set(chosen)
    opener = (opener_factory or (lambda: urllib.request.build_opener(_NoRedirect)))()
    failures: list[CheckFailure] = []
    checked = late = 0
    for base, served_prefix in zip(bases, served_prefixes, strict=False):  # each through its distribution's prefix
        # pages are fetched at every URL viewers use; what they load at its own URL
        jobs = [(base + encode_path(url), objects[key]) for key in keys if key in objects
                for url in (viewer_urls(key, served_prefix) if key in is_page else [served_prefix + key])]
        found, n_late = run_fetches(jobs, settings, opener, deadline)
        failures += _collapse(base, [f for f in found if f is not None], len(jobs))
        failures += [CheckFailure(base + encode_path(served_prefix + page), None, what) for page, what in missing]
        checked += len(jobs) - sum(1 for f in found if f is not None and f.status is None)
        late += n_late
    return CheckResult(bases, checked, len(chosen), len(pages) - len(chosen), late, tuple(failures),
                       time.monotonic() - started)
