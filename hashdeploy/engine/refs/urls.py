"""Resolve URLs found in a site's files to site keys, and rewrite them to hashed names."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote

from hashdeploy.engine.content_types import split_suffix
from hashdeploy.engine.refs.unescape import Unescaper, as_is

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# The context of a <link rel="manifest"> reference. Browsers key an installed web app's updates by its manifest's
# URL, so what it points at keeps its name (and is revalidated), whatever it is called; its icons may be hashed.
MANIFEST_LINK = "link[rel=manifest]"
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


# ---------------------------------------------------------------------------------------------------------------
# What a browser does to a URL string before resolving it (the WHATWG URL parser): strip leading and trailing C0
# controls and spaces, remove every tab and newline, and, in http(s) URLs and relative ones (their base is http),
# read a backslash before the query as a slash. `%2e` is a dot in "." and ".." segments.

_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_SPECIAL = frozenset({"http", "https", "ws", "wss", "ftp", "file"})
_DOT = frozenset({".", "%2e"})
_DOT_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def clean_url(url: str) -> str:
    """`url` as the browser's URL parser reads it: trimmed, without tabs and newlines, `\\` as `/` where special."""
    url = url.strip(_C0_OR_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_TAB_OR_NEWLINE)
    if "\\" in url:
        m = _SCHEME.match(url)
        if m is None or m.group()[:-1].lower() in _SPECIAL:
            path, rest = split_url(url)
            url = path.replace("\\", "/") + rest
    return url


def resolve(url: str, source_key: str, ctx: UrlContext, base_dir: str | None = None) -> tuple[str | None, str]:
    """Resolve `url` found in `source_key` to a site key, or return (None, why not)."""
    directory = base_dir if base_dir is not None else posixpath.dirname(source_key)
    if url.startswith("/") and not url.startswith("//"):
        directory = ""  # a root-relative URL means the same from every page: one cache entry
    return _resolve(url, directory, ctx)


@lru_cache(maxsize=1 << 16)
def _resolve(url: str, directory: str, ctx: UrlContext) -> tuple[str | None, str]:
    url = clean_url(url)
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
    decoded = _decode_path(path)
    if decoded is None:
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
    is_dir = decoded.endswith("/") or decoded.endswith("/.") or decoded.endswith("/..") or decoded in (".", "..")
    norm = posixpath.normpath(joined) if joined else "."
    if norm == ".." or norm.startswith("../") or norm.startswith("/"):
        return None, "outside"
    if norm == ".":
        norm = ""
    if is_dir or not norm:
        norm = posixpath.join(norm, "index.html") if norm else "index.html"
    return norm, ""


# resolve() for a URL that is not root-relative, given the directory it is relative to (callers resolving many
# URLs of one page look that directory up once)
resolve_in = _resolve


def _decode_path(path: str) -> str | None:
    """The percent-decoded path, `%2e` dot segments read as dots; None for what no site file can be (a NUL, a
    backslash, or dot segments made of encoded slashes, which S3 would take literally)."""
    if "%" not in path:
        return None if "\x00" in path or "\\" in path else path
    segments = []
    for seg in path.split("/"):
        low = seg.lower()
        if low in _DOT:
            segments.append(".")
        elif low in _DOT_DOT:
            segments.append("..")
        else:
            seg = unquote(seg)
            if "/" in seg and any(part in (".", "..") for part in seg.split("/")):
                return None
            segments.append(seg)
    decoded = "/".join(segments)
    return None if "\x00" in decoded or "\\" in decoded else decoded


def plain_decode(seg: str) -> str:
    """Percent-decode a URL segment."""
    return unquote(seg) if "%" in seg else seg


# ---------------------------------------------------------------------------------------------------------------
# Rewriting


@lru_cache(maxsize=1 << 16)
def rewrite_url(raw: str, old_key: str, new_key: str, unescape: Unescaper = as_is) -> str:
    """Return `raw` with its file name changed from old_key's to new_key's.

    Everything else stays as written (entities, escapes, surrounding spaces, query, fragment), except what a
    browser's URL parser reads differently from what it sees: backslashes in the path are written as `/`, and
    tabs and newlines inside the path are dropped.
    """
    value, starts = unescape(raw)
    a, b = 0, len(value)
    while a < b and value[a] in _C0_OR_SPACE:
        a += 1
    while b > a and value[b - 1] in _C0_OR_SPACE:
        b -= 1
    cut = min([i for i in (value.find("?", a, b), value.find("#", a, b)) if i != -1] or [b])
    kept = [i for i in range(a, cut) if value[i] not in "\t\n\r"]  # the path characters the browser keeps
    clean = "".join("/" if value[i] == "\\" else value[i] for i in kept)
    seg_at = clean.rfind("/") + 1  # where the file name begins, in `kept`
    seg = clean[seg_at:]
    old_name = old_key.rsplit("/", 1)[-1]
    new_name = new_key.rsplit("/", 1)[-1]
    stem, suffix = split_suffix(old_name)
    if new_name.startswith(stem) and new_name.endswith(suffix) and plain_decode(seg) == old_name and (
        not suffix or seg.endswith(suffix)
    ):
        # insert the hash before the suffix: the name keeps its spelling (entities, percent-encoding)
        at, replace_from = len(kept) - len(suffix), None
        new = new_name[len(stem) : len(new_name) - len(suffix)]
    else:
        at, replace_from = seg_at, seg_at
        new = quote(new_name, safe=_SAFE)
    # the raw text of each kept path character (entities and escapes as written), a backslash written as "/"
    pieces = ["/" if value[i] == "\\" else raw[starts[i] : starts[i + 1]] for i in kept]
    head = pieces[:at]
    tail = [] if replace_from is not None else pieces[at:]
    return raw[: starts[a]] + "".join(head) + new + "".join(tail) + raw[starts[cut] :]
