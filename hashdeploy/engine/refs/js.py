"""Find the rewritable URLs of a script (ES-module specifiers, sourceMappingURL) and the strings it holds."""

from __future__ import annotations

import re

_TOKENS = re.compile(
    r"""
    (?P<lc>//[^\n]*)
  | (?P<bc>/\*.*?(?:\*/|\Z))
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<tpl>`(?:[^`\\]|\\.)*`)
  | (?P<slash>/)
    """,
    re.S | re.X,
)
_REGEX_LITERAL = re.compile(r"/(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*\])+/[a-z]*")
_KEYWORDS_BEFORE_REGEX = frozenset(
    "return typeof case do else in of void yield await delete instanceof new throw".split()
)
_WORD_BEFORE = re.compile(r"([\w$]+)\s*$")
_MAP_COMMENT = re.compile(r"^//[#@]\s*sourceMappingURL=(\S+)\s*$")
_STATIC_BEFORE = re.compile(r"(?:(?<![\w$.])import|(?<![\w$.])from)\s*$")
_DYNAMIC_BEFORE = re.compile(r"(?<![\w$.])import\s*\(\s*$")
_DYNAMIC_AFTER = re.compile(r"\s*[),]")
_RELATIVE = re.compile(r"^(?:\.{1,2}/|/)")


def _regex_allowed(text: str, pos: int) -> bool:
    """Decide whether a '/' at pos starts a regular expression literal rather than a division."""
    i = pos - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    if i < 0:
        return True
    ch = text[i]
    if ch in ")]":
        return False
    if ch.isalnum() or ch in "_$":
        m = _WORD_BEFORE.search(text, max(0, i - 20), i + 1)
        return bool(m and m.group(1) in _KEYWORDS_BEFORE_REGEX)
    return True


def js_scan(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Return (rewritable URL spans with context, spans of string/template contents)."""
    refs: list[tuple[int, int, str]] = []
    strings: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKENS.search(text, pos)
        if not m:
            break
        kind = m.lastgroup
        if kind == "slash":
            if _regex_allowed(text, m.start()):
                rm = _REGEX_LITERAL.match(text, m.start())
                if rm:
                    pos = rm.end()
                    continue
            pos = m.end()
            continue
        if kind == "lc":
            mm = _MAP_COMMENT.match(m.group())
            if mm:
                refs.append((m.start() + mm.start(1), m.start() + mm.end(1), "js sourceMappingURL"))
        elif kind == "str":
            s, e = m.start() + 1, m.end() - 1
            value = text[s:e]
            head = text[max(0, m.start() - 40) : m.start()]
            if _RELATIVE.match(value) and "\\" not in value and (
                _STATIC_BEFORE.search(head)
                or (_DYNAMIC_BEFORE.search(head) and _DYNAMIC_AFTER.match(text, m.end()))
            ):
                refs.append((s, e, "js import"))
            else:
                strings.append((s, e))
        elif kind == "tpl":
            strings.append((m.start() + 1, m.end() - 1))
        pos = m.end()
    return refs, strings

