"""Parse one file into its references and its unrewritable mentions of file names (pure over bytes)."""

from __future__ import annotations

import bisect
import codecs
import re
from collections.abc import Callable

from hashdeploy.engine.refs.css import css_urls
from hashdeploy.engine.refs.js import js_scan
from hashdeploy.model import Parsed, RawRef, RefKind

HTML_EXT = (".html", ".htm", ".xhtml")
CSS_EXT = (".css",)
JS_EXT = (".js", ".mjs", ".cjs")
MANIFEST_EXT = (".webmanifest",)
JSON_EXT = (".json",)
SVG_EXT = (".svg",)
XML_EXT = (".xml", ".rss", ".atom")  # feeds and sitemaps: scanned for names readers fetch as they are
MAX_PARSE_BYTES = 64 * 1024 * 1024

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_CSS_CHARSET = re.compile(rb'^@charset\s+"([A-Za-z0-9_\-:.]+)"\s*;')
# A path-like token that ends in a file extension: what runtime code could turn into a URL.
# (It starts only where a token can start, so a long word is not retried from each of its letters.)
_TOKEN = re.compile(r"(?<![\w\-.~%@+!/])[\w\-.~%@+!/]*[\w\-~%@+!]\.[A-Za-z][A-Za-z0-9]{0,9}(?![\w])")
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,9}(?![\w\-.~%@+!/])")
_TOKEN_ENDING = re.compile(r"(?<![\w\-.~%@+!/])[\w\-.~%@+!/]*[\w\-~%@+!]\.[A-Za-z][A-Za-z0-9]{0,9}\Z")
_TOKEN_RUN = re.compile(r"[\w\-.~%@+!/]*")
_SCRIPT_BODY = re.compile(r"<script\b[^>]*>(.*?)(?:</script\s*>|\Z)", re.S | re.I)
# Attributes that hold text for people, not URLs a script could load (Sphinx writes alt="../_images/x.png").
_TEXT_ATTRS = re.compile(
    r"""[\s"'](?:alt|title|aria-[\w-]+|placeholder|label|summary|abbr)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I
)
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_MANIFEST_SRC = re.compile(r'"src"\s*:\s*"((?:[^"\\]|\\.)*)"')


def kind_of(key: str) -> str | None:
    """Return the parser a file needs ('html', 'css', 'js', 'manifest', 'json', 'svg') or None."""
    low = key.lower()
    for kind, exts in (("html", HTML_EXT), ("css", CSS_EXT), ("js", JS_EXT), ("manifest", MANIFEST_EXT)):
        if low.endswith(exts):
            return kind
    if low.endswith(JSON_EXT):
        return "manifest" if low.rsplit("/", 1)[-1] in ("manifest.json", "site.json") else "json"
    if low.endswith(SVG_EXT):
        return "svg"
    if low.endswith(XML_EXT):
        return "xml"
    return None


def decode(data: bytes, kind: str) -> tuple[str, str, int, list[str]]:
    """Decode bytes losslessly: return (text, codec, BOM length, warnings); text re-encodes to `data`."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            candidates = [codec]
            skip = len(bom)
            break
    else:
        skip = 0
        candidates = []
        head = data[:2048]
        m = _META_CHARSET.search(head) if kind in ("html", "svg") else _CSS_CHARSET.match(head)
        if m:
            try:
                candidates.append(codecs.lookup(m.group(1).decode("ascii")).name)
            except LookupError:
                pass
        candidates.append("utf-8")
    body = data[skip:]
    for codec in candidates:
        try:
            text = body.decode(codec, "surrogateescape")
            if text.encode(codec, "surrogateescape") == body:
                return text, codec, skip, []
        except (UnicodeError, LookupError):
            continue
    warning = "could not decode losslessly as " + "/".join(candidates) + "; read as latin-1 (non-ASCII URLs not matched)"
    return body.decode("latin-1"), "latin-1", skip, [warning]


def encode(text: str, codec: str, bom: bytes) -> bytes:
    """Inverse of decode()."""
    return bom + text.encode(codec, "surrogateescape")


def _outside(spans: list[tuple[int, int]], s: int, e: int) -> bool:
    """True when [s, e) overlaps none of the (sorted) spans."""
    i = bisect.bisect_right(spans, (s, 1 << 62)) - 1
    for j in (i, i + 1):
        if 0 <= j < len(spans) and spans[j][0] < e and s < spans[j][1]:
            return False
    return True


def _tokens(text: str, regions: list[tuple[int, int]], refs: list[tuple[int, int]]) -> list[str]:
    """Collect path-like tokens inside `regions` that are not part of an understood reference."""
    refs = sorted(refs)
    out: set[str] = set()
    for rs, re_ in regions:
        for m in _TOKEN.finditer(text, rs, re_):
            if _outside(refs, m.start(), m.end()):
                out.add(m.group())
    return sorted(out)


def _html_mentions(text: str, excluded: list[tuple[int, int]]) -> list[str]:
    """Path-like tokens inside tags (data-src, onclick…) or inline scripts, outside understood references.

    Prose between tags is not scanned, nor links to pages (pages keep their URLs anyway).
    """
    excluded = sorted(excluded)
    scripts = [m.span(1) for m in _SCRIPT_BODY.finditer(text)]
    out: set[str] = set()
    # Find extensions first (a literal '.' the regex engine scans for quickly), then the token that ends there.
    for x in _EXTENSION.finditer(text):
        if x.group().lower() in (".html", ".htm", ".xhtml") or not _outside(excluded, x.start(), x.end()):
            continue  # a link to a page, or part of a reference (the token around it overlaps that reference too)
        m = _token_ending(text, x.start(), x.end())
        if m is None or m.end() != x.end():
            continue
        token = m.group()
        s, e = m.span()
        lt = text.rfind("<", 0, s)
        in_tag = lt >= 0 and text.find(">", lt, s) == -1 and text[lt + 1 : lt + 2].isalpha()
        if not (in_tag or not _outside(scripts, s, e)) or not _outside(excluded, s, e):
            continue
        if in_tag:
            gt = text.find(">", e)
            tag = text[lt : gt if gt != -1 else len(text)]
            if not _outside([(lt + a.start(1), lt + a.end(1)) for a in _TEXT_ATTRS.finditer(tag)], s, e):
                continue  # alt/title text is for people
        out.add(token)
    return sorted(out)


def _token_ending(text: str, start: int, end: int) -> re.Match[str] | None:
    """`_TOKEN_ENDING.search(text, max(0, start - 256), end)`, for the extension at start:end, without trying every
    start in the window: a token starts only after a character that cannot be in one, so only the start of the
    run of token characters ending at `end` can match (and nothing does when that run begins before the window)."""
    window = max(0, start - 256)
    run = _TOKEN_RUN.match(text[window:end][::-1])  # the run read backwards from end
    first = end - (run.end() if run else 0)
    if first == window and window > 0 and _TOKEN_RUN.fullmatch(text, window - 1, window):
        return None
    return _TOKEN_ENDING.match(text, first, end)


def _line_finder(text: str) -> Callable[[int], int]:
    """pos -> 1-based line number, with one pass over the text (not one per reference)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return lambda pos: bisect.bisect_right(starts, pos)


def parse(data: bytes, kind: str) -> Parsed:
    """Parse one file of the given kind."""
    text, codec, bom_len, warnings = decode(data, kind)
    spans: list[tuple[int, int, RefKind, str, int, tuple[int, int, str] | None]] = []
    regions: list[tuple[int, int]] = []
    base_href = None
    ignored: list[tuple[int, int]] = []
    if kind == "html":
        from hashdeploy.engine.refs.tagmemo import page_refs

        try:
            spans, base_href, more = page_refs(text)
        except Exception as exc:  # noqa: BLE001 - broken markup must never stop the run
            spans, more = [], [f"HTML could not be parsed ({type(exc).__name__}); left unchanged"]
        warnings += more
    elif kind == "css":
        line = _line_finder(text)
        spans = [(s, e, RefKind.SUB, ctx, line(s), None) for s, e, ctx in css_urls(text)]
    elif kind == "js":
        found, regions = js_scan(text)
        line = _line_finder(text)
        spans = [(s, e, RefKind.SUB, ctx, line(s), None) for s, e, ctx in found]
    elif kind == "manifest":
        line = _line_finder(text)
        spans = [(m.start(1), m.end(1), RefKind.SUB, "manifest src", line(m.start(1)), None)
                 for m in _MANIFEST_SRC.finditer(text)]
        regions = [m.span(1) for m in _JSON_STRING.finditer(text)]
    elif kind == "json":
        regions = [m.span(1) for m in _JSON_STRING.finditer(text) if _TOKEN.fullmatch(m.group(1))]
    elif kind in ("svg", "xml"):
        regions = [(0, len(text))]
    refs = tuple(RawRef(s, e, text[s:e], k, ctx, line, sri) for s, e, k, ctx, line, sri in sorted(spans, key=lambda x: x[0]))
    understood = [(r.start, r.end) for r in refs] + ignored
    mentions = _html_mentions(text, understood) if kind == "html" else _tokens(text, regions, understood)
    return Parsed(
        encoding=f"{codec}:{bom_len}", refs=refs, mentions=tuple(mentions), base_href=base_href,
        warnings=tuple(warnings),
    )

