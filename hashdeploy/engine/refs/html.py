"""Find the URLs of an HTML page with BeautifulSoup, as exact spans of the page's text."""

from __future__ import annotations

import bisect
import re
import warnings as _pywarnings
from collections.abc import Iterator

from bs4 import BeautifulSoup, Tag
from bs4.filter import ElementFilter

from hashdeploy.engine.refs.css import css_urls
from hashdeploy.engine.refs.unescape import html_attr_unescape
from hashdeploy.engine.refs.urls import MANIFEST_LINK, clean_url
from hashdeploy.model import RefKind

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
# tag -> ((attribute, kind, is_srcset), ...) for the attributes that always hold URLs
_URL_ATTRS: dict[str, tuple[tuple[str, RefKind, bool], ...]] = {
    "script": (("src", SUB, False),),
    "img": (("src", SUB, False), ("srcset", SUB, True)),
    "source": (("src", SUB, False), ("srcset", SUB, True)),
    "video": (("src", SUB, False), ("poster", SUB, False)),
    "audio": (("src", SUB, False),),
    "track": (("src", SUB, False),),
    "embed": (("src", SUB, False),),
    "object": (("data", SUB, False),),
    "image": (("href", SUB, False), ("xlink:href", SUB, False)),
    "use": (("href", SUB, False), ("xlink:href", SUB, False)),
    "a": (("href", NAV, False),),
    "area": (("href", NAV, False),),
    "iframe": (("src", NAV, False),),
    "frame": (("src", NAV, False),),
    "form": (("action", NAV, False),),
    "button": (("formaction", NAV, False),),
    "blockquote": (("cite", NAV, False),),
    "q": (("cite", NAV, False),),
}
_TAGS = frozenset(_URL_ATTRS) | {"link", "meta", "input", "style", "base"}
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
    """Yield the URL spans of one start tag found at `pos`."""
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
    for attr, kind, is_srcset in wanted:
        span = spans.get(attr)
        if span is None or span[0] == span[1]:
            continue
        if is_srcset:
            for s, e in srcset_spans(text[span[0] : span[1]], span[0]):
                yield s, e, kind, f"{name}[{attr}]", None
        elif name == "link" and attr == "href" and "manifest" in rels:
            yield span[0], span[1], kind, MANIFEST_LINK, None
        else:
            yield span[0], span[1], kind, f"{name}[{attr}]", sri if attr in ("src", "href") else None
    style = spans.get("style")
    if style and style[1] > style[0]:
        for s, e in style_spans(text[style[0] : style[1]], style[0]):
            yield s, e, SUB, "style attribute", None
    if name == "style":
        close = _STYLE_END.search(text, end)
        stop = close.start() if close else len(text)
        for s, e, _ctx in css_urls(text[end:stop], end):
            yield s, e, SUB, "<style>", None


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


class _OnlyUrlTags(ElementFilter):
    """Build tree nodes only for tags that can hold URLs; the parser still reads the whole page."""

    def allow_tag_creation(self, nsprefix: str | None, name: str, attrs: object) -> bool:
        return name in _TAGS or (isinstance(attrs, dict) and "style" in attrs)

    def allow_string_creation(self, string: str) -> bool:
        return False


_FILTER = _OnlyUrlTags()

# Markup the parser need not see: start/end tags that can hold no URL. Comments, declarations, and the raw
# text of <script>/<style> are matched first so that nothing inside them is touched.
_ATTRS_RE = r"""(?:[^>"']|"[^"]*"|'[^']*')*>"""
# One pass over the page: comments and declarations (skipped whole, so nothing inside them counts), <script> and
# <style> (start and end tags kept for the parser, raw text blanked), the tags that can hold a URL, links, tags with a
# style attribute, and every other tag (consumed, so a '<img' inside an attribute value is never mistaken for a tag).
_URL_TAG_NAMES = "|".join(sorted(_TAGS - {"script", "style"}))
_SCAN = re.compile(
    # runs of text, comments, end tags and tags that cannot matter, in one match (most of a page)
    r"(?:[^<]+|<!--.*?(?:-->|\Z)|<[!?][^>]*>|</[A-Za-z][^>]*>"
    r"|<(?!(?:" + _URL_TAG_NAMES + r"|script|style)\b)(?![A-Za-z][^>]*?[\s\"'/]style\s*=)[A-Za-z][^\s/>]*" + _ATTRS_RE
    + r"|<(?![A-Za-z!?/]))+"
    r"|(?P<raw><(?P<rawname>script|style)\b" + _ATTRS_RE + r")(?:.*?(?P<rawend></(?P=rawname)\s*>)|.*\Z)"
    r"|(?P<keep><(?:" + "|".join(sorted(_TAGS - {"a", "area", "script", "style"})) + r")\b" + _ATTRS_RE + ")"
    r"|(?P<link><(?:a|area)\b" + _ATTRS_RE + ")"
    r"|(?P<other></?[A-Za-z][^\s/>]*" + _ATTRS_RE + ")",
    re.S | re.I,
)
_STYLE_ATTR = re.compile(r"""[\s"'/]style\s*=""", re.I)
_HREF = re.compile(r"""[\s"'/]href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_FILE_EXT = re.compile(r"\.([A-Za-z0-9]{1,10})$")
_PAGE_EXTS = frozenset({"html", "htm", "xhtml", "php", "asp", "aspx", "jsp"})


def _links_a_page(tag: str) -> bool:
    """True for a link to a page or directory: pages are stable anyway, so the parser need not see it."""
    m = _HREF.search(tag)
    if not m:
        return True
    url = clean_url(html_attr_unescape(m.group(1) or m.group(2) or m.group(3) or "")[0])
    path = url.split("#", 1)[0].split("?", 1)[0]
    ext = _FILE_EXT.search(path.rsplit("/", 1)[-1])
    return ext is None or ext.group(1).lower() in _PAGE_EXTS


def mask_irrelevant(text: str) -> tuple[str, list[int], list[int]]:
    """Keep only the tags that can hold a URL hashdeploy needs, concatenated.

    Returns (the kept markup, where each kept piece starts in it, where it starts in the page), so the parser
    reads a few hundred bytes per page and positions map back to the page.
    """
    parts: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    size = 0
    for m in _SCAN.finditer(text):
        group = m.lastgroup
        if group == "other":
            tag = m.group()
            if "style" not in tag or tag[1] == "/" or not _STYLE_ATTR.search(tag):
                continue
            spans: tuple[tuple[int, int], ...] = (m.span(),)
        elif group is None:
            continue
        elif group == "keep":
            spans = (m.span(),)
        elif group == "link":
            tag = m.group()
            if _links_a_page(tag) and not _STYLE_ATTR.search(tag):
                continue
            spans = (m.span(),)
        else:
            spans = (m.span("raw"), m.span("rawend")) if m.group("rawend") else (m.span("raw"),)
        for s, e in spans:
            starts.append(size)
            origins.append(s)
            parts.append(text[s:e])
            size += e - s
    return "".join(parts), starts, origins


def html_refs(
    text: str,
) -> tuple[list[tuple[int, int, RefKind, str, int, tuple[int, int, str] | None]], str | None, list[str]]:
    """Return (URL spans with kind, context and line), the `<base href>` value, and warnings."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    masked, starts, origins = mask_irrelevant(text)
    masked_lines = [0] + [m.end() for m in re.finditer("\n", masked)]
    with _pywarnings.catch_warnings():  # bs4's hints about XHTML or file-name-like markup are noise here
        _pywarnings.simplefilter("ignore")
        soup = BeautifulSoup(masked, "html.parser", parse_only=_FILTER)  # type: ignore[arg-type]
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
