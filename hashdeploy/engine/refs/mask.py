"""Masking an HTML page down to the tags that can hold a URL hashdeploy needs, before BeautifulSoup reads it."""

from __future__ import annotations

import re

from hashdeploy.engine.refs.unescape import html_attr_unescape
from hashdeploy.engine.refs.urls import clean_url
from hashdeploy.model import RefKind

SUB, NAV = RefKind.SUB, RefKind.NAV
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

# Markup the parser need not see: start/end tags that can hold no URL. Comments, declarations, and the raw
# text of <script>/<style> are matched first so that nothing inside them is touched.
# (a tag's attributes up to its '>', quoted values skipped whole; written as an unrolled loop, which the regex engine
# runs as a few long character runs instead of one alternation per character)
_ATTRS_RE = r"""[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>"""
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
    known = _LINKS_A_PAGE.get(tag)
    if known is None:
        known = _page_link(tag)
        if len(_LINKS_A_PAGE) < 100_000:
            _LINKS_A_PAGE[tag] = known
    return known


_LINKS_A_PAGE: dict[str, bool] = {}  # navigation repeats the same links on every page


def _page_link(tag: str) -> bool:
    m = _HREF.search(tag)
    if not m:
        return True
    url = clean_url(html_attr_unescape(m.group(1) or m.group(2) or m.group(3) or "")[0])
    path = url.split("#", 1)[0].split("?", 1)[0]
    ext = _FILE_EXT.search(path.rsplit("/", 1)[-1])
    return ext is None or ext.group(1).lower() in _PAGE_EXTS


def kept_units(text: str) -> list[tuple[int, int, int, int]]:
    """The tags that can hold a URL hashdeploy needs, in page order: (start, end) of the tag, and for `<script>`
    and `<style>` the (start, end) of their end tag ((-1, -1) when there is none; their raw text is left out)."""
    units: list[tuple[int, int, int, int]] = []
    for m in _SCAN.finditer(text):
        group = m.lastgroup
        if group == "other":
            tag = m.group()
            if "style" not in tag or tag[1] == "/" or not _STYLE_ATTR.search(tag):
                continue
        elif group is None:
            continue
        elif group == "link":
            tag = m.group()
            if _links_a_page(tag) and not _STYLE_ATTR.search(tag):
                continue
        elif group != "keep":
            s, e = m.span("raw")
            units.append((s, e, *m.span("rawend")) if m.group("rawend") else (s, e, -1, -1))
            continue
        units.append((*m.span(), -1, -1))
    return units


def mask_irrelevant(text: str) -> tuple[str, list[int], list[int]]:
    """Keep only the tags that can hold a URL hashdeploy needs, concatenated.

    Returns (the kept markup, where each kept piece starts in it, where it starts in the page), so the parser
    reads a few hundred bytes per page and positions map back to the page.
    """
    parts: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    size = 0
    for s, e, s2, e2 in kept_units(text):
        for a, b in ((s, e), (s2, e2)) if s2 >= 0 else ((s, e),):
            starts.append(size)
            origins.append(a)
            parts.append(text[a:b])
            size += b - a
    return "".join(parts), starts, origins
