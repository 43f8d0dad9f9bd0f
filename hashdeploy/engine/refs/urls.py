"""Resolve URLs found in a site's files to site keys, and rewrite them to hashed names."""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote

from hashdeploy.engine.content_types import split_suffix

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters left as they are when a new file name has to be percent-encoded from scratch.
_SAFE = "-._~!$*+,;=:@"


@dataclass(frozen=True, slots=True)
class UrlContext:
    """How root-relative and absolute URLs map onto the site: its base path and own origin."""

    base_path: str = "/"  # the path the site is served under, always with a trailing slash
    site_url: str | None = None  # e.g. "https://example.com/docs/"

    @property
    def origins(self) -> tuple[str, ...]:
        """The site's own origins as lowercase prefixes, with and without a scheme."""
        if not self.site_url:
            return ()
        m = re.match(r"^(https?:)(//[^/?#]+)", self.site_url, re.I)
        if not m:
            return ()
        return (m.group(0).lower(), m.group(2).lower())


def split_url(url: str) -> tuple[str, str]:
    """Split a URL into its path and the query/fragment suffix, kept exactly as written."""
    cut = len(url)
    for ch in "?#":
        i = url.find(ch)
        if i != -1 and i < cut:
            cut = i
    return url[:cut], url[cut:]


def resolve(url: str, source_key: str, ctx: UrlContext, base_dir: str | None = None) -> tuple[str | None, str]:
    """Resolve `url` found in `source_key` to a site key, or return (None, why not)."""
    directory = base_dir if base_dir is not None else posixpath.dirname(source_key)
    if url.startswith("/") and not url.startswith("//"):
        directory = ""  # a root-relative URL means the same from every page: one cache entry
    return _resolve(url, directory, ctx)


@lru_cache(maxsize=1 << 16)
def _resolve(url: str, directory: str, ctx: UrlContext) -> tuple[str | None, str]:
    url = url.strip(" \t\n\r\f")
    if not url:
        return None, "empty"
    if url.startswith("#"):
        return None, "fragment"
    lowered = url.lower()
    if lowered.startswith("//") or _SCHEME.match(url):
        for origin in ctx.origins:
            if lowered.startswith(origin + "/") or lowered == origin:
                url = url[len(origin) :] or "/"
                break
        else:
            return None, "external"
    path, _suffix = split_url(url)
    if not path:
        return None, "self"
    decoded = unquote(path) if "%" in path else path
    if "\x00" in decoded or "\\" in decoded:
        return None, "outside"
    if decoded.startswith("/"):
        if not decoded.startswith(ctx.base_path):
            if decoded + "/" == ctx.base_path:
                decoded = ctx.base_path
            else:
                return None, "outside-base"
        rel = decoded[len(ctx.base_path) :]
        joined = rel
    else:
        joined = posixpath.join(directory, decoded)
    is_dir = decoded.endswith("/") or decoded.endswith("/.") or decoded in (".", "..")
    norm = posixpath.normpath(joined) if joined else "."
    if norm == ".." or norm.startswith("../") or norm.startswith("/"):
        return None, "outside"
    if norm == ".":
        norm = ""
    if is_dir or not norm:
        norm = posixpath.join(norm, "index.html") if norm else "index.html"
    return norm, ""


@lru_cache(maxsize=1 << 16)
def rewrite_url(raw: str, old_key: str, new_key: str, decode: Callable[[str], str]) -> str:
    """Return `raw` with its file name changed from old_key's to new_key's; all else stays as written."""
    path, rest = split_url(raw)
    slash = path.rfind("/")
    head, seg = path[: slash + 1], path[slash + 1 :]
    old_name = old_key.rsplit("/", 1)[-1]
    new_name = new_key.rsplit("/", 1)[-1]
    stem, suffix = split_suffix(old_name)
    if new_name.startswith(stem) and new_name.endswith(suffix) and decode(seg) == old_name:
        insert = new_name[len(stem) : len(new_name) - len(suffix)]
        if suffix and seg.endswith(suffix):
            return head + seg[: len(seg) - len(suffix)] + insert + suffix + rest
        if not suffix:
            return head + seg + insert + rest
    return head + quote(new_name, safe=_SAFE) + rest


def plain_decode(seg: str) -> str:
    """Percent-decode a URL segment."""
    return unquote(seg) if "%" in seg else seg


def html_value(raw: str) -> str:
    """Decode an attribute value as the browser sees it (character references)."""
    return html.unescape(raw) if "&" in raw else raw
