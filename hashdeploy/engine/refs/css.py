"""Find the URLs of a stylesheet: url(), @import, image-set() and sourceMappingURL; comments are skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator

_STR_DQ = r'"(?:[^"\\\n]|\\.)*"'
_STR_SQ = r"'(?:[^'\\\n]|\\.)*'"
_TOKENS = re.compile(
    r"""
    (?P<comment>/\*.*?(?:\*/|\Z))
  | (?P<url>\burl\(\s*(?:(?P<u_q>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<u_uq>(?:[^'"()\s\\]|\\.)*))\s*\))
  | (?P<import>@import\s*(?P<i_q>"""
    + _STR_DQ
    + "|"
    + _STR_SQ
    + r"""))
  | (?P<imageset>(?:-webkit-)?image-set\()
  | (?P<string>"""
    + _STR_DQ
    + "|"
    + _STR_SQ
    + r""")
  | (?P<close>\))
    """,
    re.S | re.X | re.I,
)
_MAP = re.compile(r"^/\*[#@]\s*sourceMappingURL=(\S+?)\s*\*/$", re.S)
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", re.S)


def css_unescape(value: str) -> str:
    """Undo CSS backslash escapes in a URL token."""
    if "\\" not in value:
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code) if 0 < code < 0x110000 else "\ufffd"
        return m.group(2)

    return _ESCAPE.sub(sub, value)


def css_urls(text: str, offset: int = 0) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, context) spans of the URLs in CSS `text`, shifted by `offset`."""
    depth = 0  # >0 while inside image-set(), where bare strings are URLs
    for m in _TOKENS.finditer(text):
        kind = m.lastgroup
        if kind == "comment":
            mm = _MAP.match(m.group())
            if mm:
                yield offset + m.start() + mm.start(1), offset + m.start() + mm.end(1), "css sourceMappingURL"
        elif m.group("url") is not None:
            if m.group("u_q") is not None:
                s, e = m.span("u_q")
                yield offset + s + 1, offset + e - 1, "css url()"
            else:
                s, e = m.span("u_uq")
                if e > s:
                    yield offset + s, offset + e, "css url()"
        elif m.group("import") is not None:
            s, e = m.span("i_q")
            yield offset + s + 1, offset + e - 1, "css @import"
        elif m.group("imageset") is not None:
            depth += 1
        elif m.group("string") is not None and depth:
            s, e = m.span("string")
            yield offset + s + 1, offset + e - 1, "css image-set()"
        elif m.group("close") is not None and depth:
            depth -= 1
