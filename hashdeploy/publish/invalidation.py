"""CloudFront invalidation paths: every URL viewers use for a changed stable key, collapsed under a budget."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

MAX_PATHS = 3000  # CloudFront's limit of paths in flight
MAX_WILDCARDS = 15  # and of wildcard paths in flight
# Left unescaped in invalidation paths; '*' is escaped so a literal star in a name is never a wildcard.
_SAFE = "/-_.~!$&'()+,;=:@"


@dataclass(frozen=True, slots=True)
class Invalidation:
    """The paths to send, how many distinct URLs they stand for, and what wildcards flush needlessly."""

    paths: tuple[str, ...]
    changed_urls: int
    flushed_unchanged: int

    @property
    def billed(self) -> int:
        """CloudFront bills each path, a wildcard counting as one."""
        return len(self.paths)


def encode_path(path: str) -> str:
    """Percent-encode a viewer path as CloudFront expects (UTF-8, only unsafe characters)."""
    return quote(path, safe=_SAFE)


def viewer_urls(key: str, served_prefix: str) -> list[str]:
    """Every URL a viewer may use for a site key: /docs/index.html also as /docs/."""
    path = served_prefix + key
    urls = [path]
    if key == "index.html" or key.endswith("/index.html"):
        urls.append(path[: -len("index.html")])
    return urls


def _dirs(url: str) -> Iterable[str]:
    """Ancestor directories of a URL path, deepest first: /a/b/c.html -> /a/b/, /a/, /."""
    i = url.rfind("/", 0, len(url) - 1 if url.endswith("/") else len(url))
    while i >= 0:
        yield url[: i + 1]
        i = url.rfind("/", 0, i)


def plan_invalidation(changed: Iterable[str], all_keys: Iterable[str], served_prefix: str,
                      budget: int) -> Invalidation:
    """URLs of the changed keys; above `budget`, replace groups by the wildcards that flush the fewest others."""
    urls = sorted({u for k in changed for u in viewer_urls(k, served_prefix)})
    if not urls:
        return Invalidation((), 0, 0)
    limit = max(1, min(budget, MAX_PATHS))
    if len(urls) <= limit:
        return Invalidation(tuple(encode_path(u) for u in urls), len(urls), 0)
    changed_set = set(urls)
    others = {u for k in all_keys for u in viewer_urls(k, served_prefix)} - changed_set
    under_other: dict[str, int] = defaultdict(int)
    for u in others:
        for d in _dirs(u):
            under_other[d] += 1
    chosen: list[str] = []
    remaining = set(urls)
    while len(remaining) + len(chosen) > limit and len(chosen) < MAX_WILDCARDS:
        gain: dict[str, int] = defaultdict(int)  # paths one wildcard at d would replace
        for u in remaining:
            for d in _dirs(u):
                gain[d] += 1
        for c in chosen:
            for d in _dirs(c):
                gain[d] += 1
        # least collateral flush per path saved, then the biggest saving, then the most specific directory
        candidates = [(under_other[d] / (n - 1), -(n - 1), -len(d), d) for d, n in gain.items() if n > 1]
        if not candidates:
            break
        d = min(candidates)[3]
        chosen = [c for c in chosen if not c.startswith(d)] + [d]
        remaining = {u for u in remaining if not u.startswith(d)}
    if len(remaining) + len(chosen) > limit:
        chosen, remaining = [served_prefix], set()
    flushed = sum(1 for u in others if any(u.startswith(c) for c in chosen))
    paths = sorted(encode_path(c) + "*" for c in chosen) + sorted(encode_path(u) for u in remaining)
    return Invalidation(tuple(paths), len(urls), flushed)


def caller_reference(base_id: str | None, content: str, paths: Iterable[str], distribution: str | None = None) -> str:
    """Same deploy from the same base -> same reference, so a retried request never invalidates twice."""
    h = hashlib.sha256(f"{base_id}\0{content}\0".encode())
    if distribution:  # each distribution gets its own reference
        h.update(f"{distribution}\0".encode())
    for p in sorted(paths):
        h.update(p.encode() + b"\n")
    return "hashdeploy-" + h.hexdigest()[:40]
