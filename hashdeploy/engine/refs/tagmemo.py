"""A page's URL spans from a memo of its distinct tags: pages made from templates repeat the same tags.

What BeautifulSoup makes of a start tag, and the URL spans `html.tag_refs` finds in it, depend only on the
tag's text when the tag is *plain*: a name, then attributes separated by ASCII whitespace, each value quoted or
a run without quotes, `=`, `<`, `>` or backquotes, then `>` or `/>`. On such a tag html.parser, the masking scan
and `attr_spans` all agree where it ends, and html.parser is back in its ordinary state after it (or after the
end tag of a `<script>`/`<style>`), so parsing the page's kept tags one by one gives what parsing them together
gives. A page with any other tag goes through `html.html_refs` whole, as before.
"""

from __future__ import annotations

import re
import warnings as _pywarnings
from html.parser import HTMLParser

from hashdeploy.engine.refs.html import Span, html_refs, style_block_refs, tag_refs, url_tags_only
from hashdeploy.engine.refs.mask import _TAGS, kept_units
from hashdeploy.model import RawRef, RefKind

Found = tuple[int, int, RefKind, str, int, tuple[int, int, str] | None]
# (URL spans relative to the tag, its <base href> value, where the start tag ends relative to it or -1 if not <style>)
Info = tuple[tuple[Span, ...], str | None, int]

_WS = "[ \t\n\r\f]"
_PLAIN = re.compile(
    rf"""<[a-zA-Z][a-zA-Z0-9:_.\-]*(?:{_WS}+[^\s/>"'=<`\x00]+"""
    rf"""(?:{_WS}*={_WS}*(?:"[^"\x00]*"|'[^'\x00]*'|[^\s"'=<>`\x00]+))?)*{_WS}*/?>"""
)
_PLAIN_END = re.compile(rf"</(?:script|style){_WS}*>", re.I)
_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9:_.\-]*)")
# elements whose content html.parser reads as raw text on this Python: after one, the next tag is not a tag
_RAW_TEXT = frozenset(getattr(HTMLParser, "CDATA_CONTENT_ELEMENTS", ())) | frozenset(
    getattr(HTMLParser, "RCDATA_CONTENT_ELEMENTS", ())
) | {"plaintext"}
_MEMO: dict[str, Info | None] = {}  # tag text -> Info, or None for a tag that is not plain
_MEMO_LIMIT = 200_000


def page_refs(text: str) -> tuple[list[Found], str | None, list[str]]:
    """What `html.html_refs(text)` returns, computed from the memo wherever the page allows it."""
    units = kept_units(text)
    fresh: dict[str, tuple[int, int, int, int]] = {}
    for unit in units:
        key = text[unit[0] : unit[1]]
        if key in _MEMO:
            if _MEMO[key] is None:
                return html_refs(text)
        elif key not in fresh:
            if not _plain(key, text, unit):
                _remember(key, None)
                return html_refs(text)
            fresh[key] = unit
    try:
        learnt = _learn(text, fresh) if fresh else {}
    except Exception:  # noqa: BLE001 - the whole-page parse decides what a failure means
        learnt = None
    if learnt is None:
        return html_refs(text)
    found: list[Found] = []
    base_href: str | None = None
    line, at = 1, 0
    for start, end, _s2, _e2 in units:
        info = _MEMO.get(text[start:end]) or learnt[text[start:end]]
        line += text.count("\n", at, start)
        at = start
        spans, base, style_end = info
        if base is not None and base_href is None:
            base_href = base
        for s, e, kind, context, sri in spans:
            found.append((start + s, start + e, kind, context, line + text.count("\n", start, start + s),
                          None if sri is None else (start + sri[0], start + sri[1], sri[2])))
        if style_end >= 0:
            for s, e, kind, context, sri in style_block_refs(text, start + style_end):
                found.append((s, e, kind, context, line + text.count("\n", start, s), sri))
    return found, base_href, []


def _plain(key: str, text: str, unit: tuple[int, int, int, int]) -> bool:
    """Whether a kept tag (and the end tag that closes it) can be parsed on its own."""
    if not _PLAIN.fullmatch(key):
        return False
    name = _NAME.match(key)
    lower = name.group(1).lower() if name else ""
    if lower in ("script", "style"):
        # a missing end tag is only at the end of the page (the masking scan ran the raw text to its end)
        return unit[2] < 0 or _PLAIN_END.fullmatch(text, unit[2], unit[3]) is not None
    return lower not in _RAW_TEXT and unit[2] < 0


def _learn(text: str, fresh: dict[str, tuple[int, int, int, int]]) -> dict[str, Info] | None:
    """Parse the page's new plain tags together (one BeautifulSoup run) and memoise what each holds; return
    what it found (the memo may be full), or None when the tags cannot be told apart (the page is parsed whole)."""
    pieces: list[str] = []
    offsets: dict[int, str] = {}
    size = 0
    # a <script> or <style> without its end tag is the page's last kept tag: it goes last here too
    last = max(u[0] for u in fresh.values())
    ordered = sorted(fresh.items(), key=lambda kv: kv[1][0] == last)
    for key, (_s, _e, s2, e2) in ordered:
        offsets[size] = key
        pieces += (key, text[s2:e2]) if s2 >= 0 else (key,)
        size += len(key) + (e2 - s2 if s2 >= 0 else 0)
    batch = "".join(pieces)
    line_starts = [0] + [m.end() for m in re.finditer("\n", batch)]
    from bs4 import BeautifulSoup

    with _pywarnings.catch_warnings():  # bs4's hints about XHTML or file-name-like markup are noise here
        _pywarnings.simplefilter("ignore")
        soup = BeautifulSoup(batch, "html.parser", parse_only=url_tags_only())
    infos: dict[str, Info] = {key: ((), None, -1) for key in fresh}
    for tag in soup.find_all(lambda t: t.name in _TAGS or t.has_attr("style")):
        if tag.sourceline is None or tag.sourcepos is None:
            return None
        key_or_none = offsets.get(line_starts[tag.sourceline - 1] + tag.sourcepos)
        if key_or_none is None:
            return None
        key = key_or_none
        spans, end = tag_refs(tag, key, 0)
        base = str(tag["href"]) if tag.name == "base" and tag.get("href") else None
        infos[key] = (tuple(spans), base, end if tag.name == "style" else -1)
    for key, info in infos.items():
        _remember(key, info)
    return infos


def remember_page(text: str, refs: tuple[RawRef, ...], base_href: str | None) -> bool:
    """Memoise the tags of a page parsed before, from its text and that parse's references, as `_learn` would.

    Only for a page whose every kept tag is plain: its parse then came from the memo, each tag's references lie
    within it, and a tag's references depend on its text alone. Returns whether it did (an edit of the page then
    needs no BeautifulSoup for the tags it kept).
    """
    units = kept_units(text)
    infos: dict[str, Info] = {}
    bases = 0
    for unit in units:
        key = text[unit[0] : unit[1]]
        if key in _MEMO and _MEMO[key] is None or not _plain(key, text, unit):
            return False
        name = _NAME.match(key)
        lower = name.group(1).lower() if name else ""
        bases += lower == "base"
        start, end = unit[0], unit[1]
        spans = tuple((r.start - start, r.end - start, r.kind, r.context,
                       None if r.sri is None else (r.sri[0] - start, r.sri[1] - start, r.sri[2]))
                      for r in refs if start <= r.start < end)
        info = (spans, base_href if lower == "base" else None, len(key) if lower == "style" else -1)
        if infos.setdefault(key, info) != info or _MEMO.get(key, info) != info:
            return False
    if bases > 1 or len(infos) + len(_MEMO) > _MEMO_LIMIT:
        return False  # which <base> gave the page's base URL is not known
    inside = sum(1 for r in refs for u in units if u[0] <= r.start < u[1])
    if inside + sum(1 for r in refs if r.context == "<style>") != len(refs):
        return False  # a reference outside every tag: not a parse this memo made
    _MEMO.update(infos)
    return True


def _remember(key: str, info: Info | None) -> None:
    if len(_MEMO) < _MEMO_LIMIT:
        _MEMO[key] = info
