"""Unescaping a raw reference (HTML character references, CSS or JSON escapes) with a map back to its raw text."""

from __future__ import annotations

import html
import html.entities
import re
from collections.abc import Callable

# Unescaping a raw reference (entities, CSS or JSON escapes) with a map back to the raw text, so a rewrite changes
# only the bytes it must and keeps every entity and escape as written. `starts[i]` is where the raw text of decoded
# character i begins; `starts[len(value)] == len(raw)`.
Unescaped = tuple[str, tuple[int, ...]]
Unescaper = Callable[[str], Unescaped]


def as_is(raw: str) -> Unescaped:
    """No escapes (JavaScript specifiers, already decoded values)."""
    return raw, tuple(range(len(raw) + 1))


_CHARREF = re.compile(r"&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|([A-Za-z][A-Za-z0-9]*;?))")
_LONGEST_ENTITY = max(len(k) for k in html.entities.html5)


def html_attr_unescape(raw: str) -> Unescaped:
    """Decode character references as the HTML parser does in an attribute value.

    Numeric references (`&#47;`, `&#x2F;`, with or without `;`) and named ones (`&quot;`, `&sol;`, `&period;`);
    a legacy name without `;` (`&amp`, `&copy`) followed by `=` or an alphanumeric stays as written
    (`?a=1&copy=2` is not `?a=1©=2`).
    """
    if "&" not in raw:
        return as_is(raw)
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    for m in _CHARREF.finditer(raw):
        text, end = _charref(raw, m)
        if text is None:
            continue  # stays as written, copied with the text around it
        out.extend(raw[pos : m.start()])
        starts.extend(range(pos, m.start()))
        out.extend(text)
        starts.extend([m.start()] + [end] * (len(text) - 1))  # a second character is zero-width, at the end
        pos = end
    out.extend(raw[pos:])
    starts.extend(range(pos, len(raw) + 1))
    return "".join(out), tuple(starts)


def _charref(raw: str, m: re.Match[str]) -> tuple[str | None, int]:
    """(decoded text, end of the reference in raw) or (None, _) when it stays as written."""
    if m.group(1) is not None or m.group(2) is not None:
        return html.unescape(m.group()), m.end()
    name = m.group(3)
    if name.endswith(";") and name in html.entities.html5:
        return html.entities.html5[name], m.end()
    bare = name.rstrip(";")
    for k in range(min(len(bare), _LONGEST_ENTITY), 1, -1):
        prefix = bare[:k]
        if prefix in html.entities.html5:  # a legacy entity, valid without its semicolon
            end = m.start() + 1 + k
            nxt = raw[end : end + 1]
            if nxt == "=" or nxt.isalnum():
                return None, end
            return html.entities.html5[prefix], end
    return None, m.end()


_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|(.))", re.S)


def css_unescape_map(raw: str) -> Unescaped:
    """Undo CSS escapes (`\\2f`, `\\/`, `\\ `; a backslash before a newline is a line continuation)."""
    if "\\" not in raw:
        return as_is(raw)
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    for m in _CSS_ESCAPE.finditer(raw):
        for i in range(pos, m.start()):
            out.append(raw[i])
            starts.append(i)
        if m.group(1) is not None:
            code = int(m.group(1), 16)
            out.append(chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd")
            starts.append(m.start())
        elif m.group(3) is not None:
            out.append(m.group(3))
            starts.append(m.start())
        pos = m.end()
    for i in range(pos, len(raw)):
        out.append(raw[i])
        starts.append(i)
    starts.append(len(raw))
    return "".join(out), tuple(starts)


_JSON_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})(?:\\u([0-9a-fA-F]{4}))?|(["\\/bfnrt]))')
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def json_unescape_map(raw: str) -> Unescaped:
    """Undo JSON string escapes (`\\/`, `\\u002f`, surrogate pairs)."""
    if "\\" not in raw:
        return as_is(raw)
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    for m in _JSON_ESCAPE.finditer(raw):
        for i in range(pos, m.start()):
            out.append(raw[i])
            starts.append(i)
        end = m.end()
        if m.group(3) is not None:
            text = _JSON_SIMPLE[m.group(3)]
        else:
            hi = int(m.group(1), 16)
            lo = int(m.group(2), 16) if m.group(2) else None
            if lo is not None and 0xD800 <= hi < 0xDC00 and 0xDC00 <= lo < 0xE000:
                text = chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
            else:
                text = chr(hi)
                end = m.start() + 6
        out.append(text)
        starts.append(m.start())
        pos = end
    for i in range(pos, len(raw)):
        out.append(raw[i])
        starts.append(i)
    starts.append(len(raw))
    return "".join(out), tuple(starts)


def compose(outer: Unescaper, inner: Unescaper) -> Unescaper:
    """Unescape with `outer` (say HTML entities of an attribute), then `inner` (CSS escapes of its style)."""
    def both(raw: str) -> Unescaped:
        first, map1 = outer(raw)
        second, map2 = inner(first)
        return second, tuple(map1[i] for i in map2)

    return both
