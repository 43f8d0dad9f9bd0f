"""Find the URLs of a stylesheet (url(), @import, image-set(), sourceMappingURL) with tinycss2's CSS Syntax 3 tokenizer."""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

# Only a stylesheet that could hold a URL is tokenized: an escape (`\75 rl(`) can spell any name, so any `\` counts.
_MAYBE = re.compile(r"url\(|image-set|@import|sourcemappingurl", re.I)
# Raw extents, matched on the preprocessed text (newlines are all "\n", so whitespace is [ \t\n]).
_HEX = r"\\[0-9a-fA-F]{1,6}[ \t\n]?"
_IDENT = re.compile(rf"(?:[-0-9A-Za-z_\x80-\U0010ffff]|{_HEX}|\\[^\n])+")
_URL_BODY = re.compile(rf"\([ \t\n]*((?:[^ \t\n)\\]|{_HEX}|\\[^\n]|\\\Z)*)[ \t\n]*(?:\)|\Z)")
_STRING = {q: re.compile(rf"{q}((?:[^{q}\\\n]|{_HEX}|\\[\s\S]|\\\Z)*)") for q in "\"'"}
_MAP = re.compile(r"[#@][ \t\n]*sourceMappingURL=([^ \t\n]+)[ \t\n]*")
_LONG_NUMBER = re.compile(r"(?<![0-9])[0-9]{4000,}")
_IMAGE_SET = ("image-set", "-webkit-image-set")
_SHORT = 2048  # texts up to this length (style="" values, small <style> blocks) are cached
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|([\s\S])|\Z)")


def _unescape_one(m: re.Match[str]) -> str:
    hex_digits, newline, char = m.groups()
    if hex_digits:
        code = int(hex_digits, 16)
        return "\ufffd" if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else chr(code)
    if newline is not None:
        return ""  # an escaped newline (inside a string) is removed
    return char if char is not None else ""  # a `\` at the very end is dropped (the rule for strings)


def css_unescape(value: str) -> str:
    """Undo CSS escapes in the raw body of a URL token or string (CSS Syntax 3 rules; NUL becomes U+FFFD)."""
    if "\\" in value:
        value = _ESCAPE.sub(_unescape_one, value)
    return value.replace("\0", "\ufffd") if "\0" in value else value


def _tokens(pre: str) -> list[Any]:
    """tinycss2's component values of `pre`, comments kept; [] if it cannot tokenize it."""
    # Building one object per token would trigger the cyclic GC over and over (1.4-1.6x the time on big sheets);
    # the tree holds no cycles, so the collector is paused meanwhile (and left as it was found).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _tokenize(pre)
    finally:
        if paused:
            gc.enable()


def _tokenize(pre: str) -> list[Any]:
    from tinycss2 import parse_component_value_list  # (loaded by the first stylesheet, not by every run)

    try:
        return list(parse_component_value_list(pre, skip_comments=False))
    except ValueError:
        # A number of 4301+ digits exceeds int()'s limit: put a '.' in long digit runs (same length, same URL tokens).
        def dot(m: re.Match[str]) -> str:
            return "".join("." if i % 1000 == 999 else c for i, c in enumerate(m.group()))

        try:
            return list(parse_component_value_list(_LONG_NUMBER.sub(dot, pre), skip_comments=False))
        except Exception:  # noqa: BLE001 - a stylesheet must never stop the run
            return []
    except Exception:  # noqa: BLE001 - a stylesheet must never stop the run
        return []


def _spans(tokens: list[Any], pre: str, line_starts: list[int]) -> Iterator[tuple[int, int, str]]:
    """(start, end, context) in `pre` of the URLs among the tokens, walked without recursion (deep nesting is fine)."""
    stack: list[tuple[list[Any], str]] = [(tokens, "")]
    while stack:
        nodes, function = stack.pop()
        previous = ""  # the last token that is neither whitespace nor a comment, if "import" or "namespace"
        first = True
        for node in nodes:
            kind = node.type
            if kind == "whitespace":
                continue
            if kind == "comment":
                value: str = node.value
                m = _MAP.fullmatch(value) if "sourceMappingURL" in value else None
                pos = line_starts[node.source_line - 1] + node.source_column + 1  # just after the "/*"
                if m and pre.startswith("*/", pos + len(value)):
                    yield pos + m.start(1), pos + m.end(1), "css sourceMappingURL"
                continue
            if kind == "url":
                if previous != "namespace":  # an @namespace URL is a name, nothing fetches it
                    name = _IDENT.match(pre, line_starts[node.source_line - 1] + node.source_column - 1)
                    body = _URL_BODY.match(pre, name.end()) if name else None
                    if body:
                        yield body.start(1), body.end(1), "css url()"
            elif kind == "string":
                context = "css @import" if previous == "import" else "css image-set()" if function in _IMAGE_SET else ""
                if not context and function == "url" and first:
                    context = "css url()"
                pos = line_starts[node.source_line - 1] + node.source_column - 1
                pattern = _STRING.get(pre[pos : pos + 1])
                m = pattern.match(pre, pos) if context and pattern else None
                if m:
                    yield m.start(1), m.end(1), context
            elif kind == "function":
                if node.lower_name != "url" or previous != "namespace":
                    stack.append((node.arguments, node.lower_name))
            elif kind in ("() block", "[] block", "{} block"):
                stack.append((node.content, ""))
            first = False
            if kind == "at-keyword" and node.lower_value in ("import", "namespace"):
                previous = node.lower_value
            elif previous != "namespace" or kind == "{} block" or node == ";":
                previous = ""


def _find(text: str) -> list[tuple[int, int, str]]:
    """The sorted, non-empty URL spans of `text` (offset 0)."""
    # tinycss2 first turns \r\n, \r and \f into \n (and NUL into U+FFFD), then counts lines and columns (1-based, in
    # code points) in that text: do that here too, find the spans in it and map them back through the \r\n pairs.
    pre = text
    if "\r" in pre or "\f" in pre or "\0" in pre:
        pre = pre.replace("\0", "\ufffd").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    tokens = _tokens(pre)
    if not tokens:
        return []
    line_starts = [0, *(m.end() for m in re.finditer("\n", pre))] if "\n" in pre else [0]
    found = sorted(span for span in _spans(tokens, pre, line_starts) if span[0] < span[1])
    if len(pre) == len(text):
        return found
    crlf = [m.start() - i for i, m in enumerate(re.finditer("\r\n", text))]
    return [(s + bisect_left(crlf, s), e + bisect_left(crlf, e), context) for s, e, context in found]


@lru_cache(maxsize=4096)
def _find_short(text: str) -> tuple[tuple[int, int, str], ...]:
    """_find, remembered: the same style="" value recurs on page after page."""
    return tuple(_find(text))


def css_urls(text: str, offset: int = 0) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, context) spans of the URLs in CSS `text`, shifted by `offset`."""
    if "\\" not in text and not _MAYBE.search(text):
        return
    for s, e, context in _find_short(text) if len(text) <= _SHORT else _find(text):
        yield offset + s, offset + e, context
