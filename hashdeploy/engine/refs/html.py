"""Find the URLs of an HTML page with BeautifulSoup, as exact spans of the page's text."""

from __future__ import annotations

import bisect
import re
import warnings as _pywarnings
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hashdeploy.engine.refs.css import css_urls
from hashdeploy.engine.refs.mask import _TAGS, _URL_ATTRS
from hashdeploy.engine.refs.mask import mask_irrelevant as mask_irrelevant  # html_refs reads it from here
from hashdeploy.engine.refs.unescape import html_attr_unescape
from hashdeploy.engine.refs.urls import MANIFEST_LINK
from hashdeploy.model import RefKind

if TYPE_CHECKING:
    from bs4 import Tag

SUB, NAV = RefKind.SUB, RefKind.NAV
_SUB_RELS = frozenset(
    "stylesheet icon apple-touch-icon apple-touch-icon-precomposed mask-icon fluid-icon "
    "preload modulepreload prefetch manifest".split()
)
_META_IMAGE = frozenset(
    "og:image og:image:url og:image:secure_url twitter:image twitter:image:src msapplication-tileimage "
    "msapplication-square70x70logo msapplication-square150x150logo msapplication-wide310x150logo "
    "msapplication-square310x310logo".split()
)
_TAG_NAME = re.compile(r"<[^\s/>]+")
_ATTR = re.compile(
    r"""[\s/]*(?P<name>[^\s/>=][^\s/>=]*)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s>]+)))?"""
)
_STYLE_END = re.compile(r"</style", re.I)
_SRCSET_URL = re.compile(r"[\s,]*([^\s,][^\s]*)(?:\s+[^,]*)?")

Span = tuple[int, int, RefKind, str, tuple[int, int, str] | None]


def attr_spans(text: str, pos: int) -> tuple[dict[str, tuple[int, int]], int]:
    """Lex the start tag at `pos`: map lower-case attribute names to value spans; return the tag's end."""
    m = _TAG_NAME.match(text, pos)
    if not m:
        return {}, pos
    i = m.end()
    spans: dict[str, tuple[int, int]] = {}
    while True:
        am = _ATTR.match(text, i)
        if not am or am.end() == i:
            break
        name = am.group("name").lower()
        for group in ("dq", "sq", "uq"):
            if am.group(group) is not None:
                spans.setdefault(name, am.span(group))
                break
        else:
            spans.setdefault(name, (am.end(), am.end()))
        i = am.end()
    while i < len(text) and text[i] in " \t\r\n\f/":
        i += 1
    return spans, i + 1 if i < len(text) and text[i] == ">" else i


def srcset_spans(value: str, offset: int) -> Iterator[tuple[int, int]]:
    """Yield the spans of the URLs in a srcset value (an attribute's raw text: split once its entities are decoded)."""
    decoded, starts = html_attr_unescape(value)
    for m in _SRCSET_URL.finditer(decoded):
        s, e = m.span(1)
        while e > s and decoded[e - 1] == ",":
            e -= 1
        if e > s:
            yield offset + starts[s], offset + starts[e]


def style_spans(value: str, offset: int) -> Iterator[tuple[int, int]]:
    """Yield the spans of the URLs in a style attribute's raw text: its CSS is read once its entities are decoded
    (`url(&quot;a.png&quot;)`, as React writes inline styles, is `url("a.png")`)."""
    decoded, starts = html_attr_unescape(value)
    for s, e, _ctx in css_urls(decoded):
        yield offset + starts[s], offset + starts[e]


def _tag_refs(tag: Tag, text: str, pos: int) -> Iterator[Span]:
    """Yield the URL spans of one start tag found at `pos` (and of the CSS a `<style>` element holds)."""
    found, end = tag_refs(tag, text, pos)
    yield from found
    if tag.name == "style":
        yield from style_block_refs(text, end)


def style_block_refs(text: str, end: int) -> Iterator[Span]:
    """Yield the URL spans of the CSS in a `<style>` element whose start tag ends at `end`."""
    close = _STYLE_END.search(text, end)
    stop = close.start() if close else len(text)
    for s, e, _ctx in css_urls(text[end:stop], end):
        yield s, e, SUB, "<style>", None


def tag_refs(tag: Tag, text: str, pos: int) -> tuple[list[Span], int]:
    """The URL spans in the attributes of the start tag at `pos` (a function of that tag's text), and its end."""
    spans, end = attr_spans(text, pos)
    name = tag.name
    wanted: list[tuple[str, RefKind, bool]] = list(_URL_ATTRS.get(name, ()))
    rels: set[str] = set()
    if name == "link":
        rels = {r.lower() for r in (tag.get_attribute_list("rel") or []) if r}
        kind = SUB if rels & _SUB_RELS or "shortcut" in rels else NAV
        wanted += [("href", kind, False), ("imagesrcset", SUB, True)]
    elif name == "meta":
        prop = str(tag.get("property") or tag.get("name") or "").lower()
        if prop in _META_IMAGE:
            wanted.append(("content", SUB, False))
    elif name == "input" and str(tag.get("type", "")).lower() == "image":
        wanted.append(("src", SUB, False))
    sri = _sri_slot(tag, text, spans, end)
    found: list[Span] = []
    for attr, kind, is_srcset in wanted:
        span = spans.get(attr)
        if span is None or span[0] == span[1]:
            continue
        if is_srcset:
            found += ((s, e, kind, f"{name}[{attr}]", None) for s, e in srcset_spans(text[span[0] : span[1]], span[0]))
        elif name == "link" and attr == "href" and "manifest" in rels:
            found.append((span[0], span[1], kind, MANIFEST_LINK, None))
        else:
            found.append((span[0], span[1], kind, f"{name}[{attr}]", sri if attr in ("src", "href") else None))
    style = spans.get("style")
    if style and style[1] > style[0]:
        found += ((s, e, SUB, "style attribute", None) for s, e in style_spans(text[style[0] : style[1]], style[0]))
    return found, end


def _sri_slot(tag: Tag, text: str, spans: dict[str, tuple[int, int]], end: int) -> tuple[int, int, str] | None:
    """Where integrity="" is (with its strongest algorithm) or goes (""), for scripts and stylesheet links."""
    if tag.name == "link":
        rels = {r.lower() for r in (tag.get_attribute_list("rel") or []) if r}
        if not rels & {"stylesheet", "modulepreload"}:
            return None
    elif tag.name != "script":
        return None
    if "integrity" in spans:
        s, e = spans["integrity"]
        algos = re.findall(r"sha(256|384|512)-", text[s:e])
        return (s, e, "sha" + max(algos, key=int)) if algos else (s, e, "sha384")
    if end <= 0 or end > len(text) or text[end - 1] != ">":
        return None
    pos = end - 1
    while pos > 0 and text[pos - 1] in "/ \t\r\n\f" and text[pos - 1] == "/":
        pos -= 1
    return (pos, pos, "")


@lru_cache(maxsize=1)
def url_tags_only() -> Any:
    """The filter that builds tree nodes only for tags that can hold URLs (the parser still reads the whole page).

    BeautifulSoup is imported here, the first time a page needs it, not with this module: a re-run whose pages'
    tags are all memoised (engine/patch.py) never loads it.
    """
    from bs4.filter import ElementFilter

    class OnlyUrlTags(ElementFilter):
        def allow_tag_creation(self, nsprefix: str | None, name: str, attrs: object) -> bool:
            return name in _TAGS or (isinstance(attrs, dict) and "style" in attrs)

        def allow_string_creation(self, string: str) -> bool:
            return False

    return OnlyUrlTags()


def html_refs(
    text: str,
) -> tuple[list[tuple[int, int, RefKind, str, int, tuple[int, int, str] | None]], str | None, list[str]]:
    """Return (URL spans with kind, context and line), the `<base href>` value, and warnings."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    from bs4 import BeautifulSoup

    masked, starts, origins = mask_irrelevant(text)
    masked_lines = [0] + [m.end() for m in re.finditer("\n", masked)]
    with _pywarnings.catch_warnings():  # bs4's hints about XHTML or file-name-like markup are noise here
        _pywarnings.simplefilter("ignore")
        soup = BeautifulSoup(masked, "html.parser", parse_only=url_tags_only())
    found: list[tuple[int, int, RefKind, str, int, tuple[int, int, str] | None]] = []
    warnings: list[str] = []
    base_href: str | None = None
    for tag in soup.find_all(lambda t: t.name in _TAGS or t.has_attr("style")):
        if tag.sourceline is None or tag.sourcepos is None:
            continue
        # position in the kept markup -> position in the page
        kept = masked_lines[tag.sourceline - 1] + tag.sourcepos
        piece = bisect.bisect_right(starts, kept) - 1
        pos = origins[piece] + kept - starts[piece] if piece >= 0 else -1
        if pos < 0 or not text.startswith("<", pos):
            warnings.append(f"line {tag.sourceline}: could not locate <{tag.name}> in the source; left unchanged")
            continue
        if tag.name == "base" and base_href is None and tag.get("href"):
            base_href = str(tag["href"])
        for s, e, kind, context, sri in _tag_refs(tag, text, pos):
            line = bisect.bisect_right(line_starts, s)
            found.append((s, e, kind, context, line, sri))
    return found, base_href, warnings
