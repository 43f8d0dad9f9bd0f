"""Find the rewritable URLs of a script (ES-module specifiers, sourceMappingURL) and its strings, with tree-sitter."""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Query, Tree

# One query walks the tree in C, about 3x faster than visiting every node from Python, and yields only the
# nodes this module looks at, at any depth (strings in `${…}`, JSX attributes). Only single-node patterns:
# tree-sitter's cost for parent/child patterns grows with depth × size (seconds for 20 000 nested calls).
_QUERY = """
(string) @str
(template_string) @tpl
(comment) @comment
(import) @import
(import_statement) @static
(export_statement) @static
"""
# The query cursor is also quadratic on wide or deep ERROR nodes, and it silently stops matching below depth
# 65535 (its states hold depths in 16 bits): such trees are walked from Python instead.
_QUERY_MAX_DEPTH = 65000
_KINDS = {
    "string": "str", "template_string": "tpl", "comment": "comment", "import": "import",
    "import_statement": "static", "export_statement": "static", "ERROR": "error",
}
_LEAVES = frozenset(("string", "comment", "regex"))  # nothing of interest below these
_GAP = re.compile(rb"(?:\s|/\*.{0,4000}?\*/|//[^\n]*)*", re.S)  # blanks and (bounded) comments between tokens
_RELATIVE = (b"./", b"../", b"/")
_MAP_COMMENT = re.compile(r"//[#@]\s*sourceMappingURL=(\S+)\s*\Z")
_MAP_PREFIXES = (b"//#", b"//@")
_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 bytes that do not start a character
_NON_ASCII_BYTES = re.compile(rb"[\x80-\xff]+")

_engine: tuple[Parser, Query] | None = None  # built once per process, never pickled


def _get_engine() -> tuple[Parser, Query]:
    """The process-wide parser and query (built on first use, so forked or spawned workers each build their own)."""
    global _engine
    if _engine is None:
        import tree_sitter
        import tree_sitter_javascript

        language = tree_sitter.Language(tree_sitter_javascript.language())
        _engine = (tree_sitter.Parser(language), tree_sitter.Query(language, _QUERY))
    return _engine


def _encode(text: str) -> tuple[bytes, bool]:
    """UTF-8 bytes for tree-sitter (any str encodes: lone surrogates pass through) and whether they are ASCII."""
    if text.isascii():
        return text.encode("ascii"), True
    return text.encode("utf-8", "surrogatepass"), False


def _char_offsets(data: bytes, points: list[int]) -> dict[int, int]:
    """Map byte offsets to str offsets: a character is one byte that is not a UTF-8 continuation byte.

    With surrogatepass every str character (astral ones too) is one lead byte plus continuation bytes, so
    the str offset of byte b is b minus the continuation bytes before it. Only runs of non-ASCII bytes are
    visited, so a mostly-ASCII bundle costs one regex pass plus one subtraction per offset.
    """
    pts = sorted(set(points))
    out: dict[int, int] = {}
    i = continuation = 0
    for m in _NON_ASCII_BYTES.finditer(data):
        bs, be = m.span()
        j = bisect.bisect_right(pts, bs, i)
        out.update((p, p - continuation) for p in pts[i:j])
        i = bisect.bisect_left(pts, be, j)
        for p in pts[j:i]:  # inside the run (an offset in the middle of non-ASCII text): count exactly
            chunk = data[bs:p]
            out[p] = p - continuation - (len(chunk) - len(chunk.translate(None, _CONTINUATION)))
        run = m.group()
        continuation += len(run) - len(run.translate(None, _CONTINUATION))
    out.update((p, p - continuation) for p in pts[i:])
    return out


def _closed(node: Node, delimiter: str) -> bool:
    """True when the literal's closing delimiter is really there (error recovery may insert a MISSING one)."""
    if not node.has_error:
        return True
    last = node.child(node.child_count - 1)
    return last is not None and last.type == delimiter and not last.is_missing and last.start_byte > node.start_byte


def _string_body(node: Node) -> tuple[int, int]:
    """Byte span of a string literal's contents, without its quotes."""
    start, end = node.start_byte, node.end_byte
    if not node.has_error:
        return start + 1, end - 1
    quote = node.child(0)
    return start + 1, max(start + 1, end - 1 if _closed(node, quote.type if quote is not None else '"') else end)


def _template_fragments(node: Node, data: bytes) -> list[tuple[int, int]]:
    """Byte spans of a template literal's string parts (between the backticks and around each `${…}`)."""
    start, end = node.start_byte, node.end_byte
    if not node.has_error and data.find(b"${", start, end) == -1:
        return [(start + 1, end - 1)]  # no substitution: one fragment (the usual case, without visiting children)
    spans: list[tuple[int, int]] = []
    cur = start + 1
    for child in node.children:
        if child.type == "template_substitution":
            spans.append((cur, child.start_byte))
            cur = child.end_byte
    last = end - 1 if _closed(node, "`") else end
    spans.append((cur, max(cur, last)))
    return spans


def _plain_specifier(node: Node, data: bytes) -> tuple[int, int] | None:
    """Byte span of a relative specifier written as one plain literal: no escape, no `${…}`, properly closed."""
    if node.has_error or node.end_byte - node.start_byte < 2:
        return None
    s, e = node.start_byte + 1, node.end_byte - 1
    body = data[s:e]
    if not body.startswith(_RELATIVE) or b"\\" in body or (node.type == "template_string" and b"${" in body):
        return None
    return s, e


def _deeper_than(tree: Tree, limit: int) -> bool:
    """True when some node of the tree lies more than `limit` levels down.

    Only subtrees with enough descendants to reach that deep are entered, so a bundle costs a few nodes.
    """
    cursor = tree.walk()
    depth = 0
    while True:
        node = cursor.node
        if node is not None and depth + node.descendant_count - 1 > limit and cursor.goto_first_child():
            depth += 1
            if depth > limit:
                return True
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return False
            depth -= 1


def _collect(tree: Tree) -> dict[str, list[Node]]:
    """The nodes of interest, by kind (see _KINDS); "tick" holds backticks a broken template left under an ERROR."""
    root = tree.root_node
    if not root.has_error and not _deeper_than(tree, _QUERY_MAX_DEPTH):
        from tree_sitter import QueryCursor

        return QueryCursor(_get_engine()[1]).captures(root)
    found: dict[str, list[Node]] = {kind: [] for kind in (*_KINDS.values(), "tick")}
    cursor = tree.walk()
    while True:
        node = cursor.node
        if node is None:
            break
        kind = _KINDS.get(node.type)
        if kind is not None and node.is_named:
            found[kind].append(node)
            if kind == "error":
                found["tick"].extend(child for child in node.children if child.type == "`")
        if node.type not in _LEAVES and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return found
    return found


def _imports(captures: dict[str, list[Node]], data: bytes) -> list[Node]:
    """The specifier literals of `import … from`, `export … from`, `import "x"` and `import("x")`.

    A dynamic import is matched by position (the literal right after `import(`, followed by `)` or `,`) rather
    than by asking nodes for their parents, which costs tree depth each.
    """
    out = [src for node in captures.get("static", ()) if (src := node.child_by_field_name("source")) is not None]
    keywords = captures.get("import", ())
    if keywords:
        literals = {node.start_byte: node for kind in ("str", "tpl") for node in captures.get(kind, ())}
        for keyword in keywords:
            m = _GAP.match(data, keyword.end_byte)
            if m is None or data[m.end() : m.end() + 1] != b"(":
                continue
            m = _GAP.match(data, m.end() + 1)
            literal = literals.get(m.end()) if m else None
            after = _GAP.match(data, literal.end_byte) if literal else None
            if literal is not None and after is not None and data[after.end() : after.end() + 1] in (b")", b","):
                out.append(literal)
    return out


def _scan(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """js_scan() proper: may raise on internal failure (js_scan() then falls back)."""
    data, ascii_only = _encode(text)
    captures = _collect(_get_engine()[0].parse(data))

    refs: list[tuple[int, int, str]] = []
    taken: set[int] = set()  # start bytes of literals that became refs
    for node in _imports(captures, data):
        span = _plain_specifier(node, data)
        if span is not None and node.start_byte not in taken:
            taken.add(node.start_byte)
            refs.append((span[0], span[1], "js import"))

    strings = [_string_body(node) for node in captures.get("str", ())]
    for node in captures.get("tpl", ()):
        strings.extend(_template_fragments(node, data))
    if taken:
        strings = [span for span in strings if span[0] - 1 not in taken]
    # Text tree-sitter could not parse (broken code, syntax it does not know, an unterminated string) may hold
    # strings it did not see: count all of it (outermost ERROR nodes only) so no name in it goes unmentioned.
    end = -1
    for node in sorted(captures.get("error", ()), key=lambda n: (n.start_byte, -n.end_byte)):
        if node.end_byte > end:
            strings.append((node.start_byte, node.end_byte))
            end = node.end_byte
    ticks = captures.get("tick", ())
    if ticks:  # a template left open: in JavaScript the rest of the file is its text
        strings.append((min(node.start_byte for node in ticks) + 1, len(data)))

    # Only `//#` and `//@` comments can name a source map.
    comments = [(n.start_byte, n.end_byte) for n in captures.get("comment", ()) if data.startswith(_MAP_PREFIXES, n.start_byte)]
    if not ascii_only:
        points = [p for span in strings for p in span] + [p for s, e, _ in refs for p in (s, e)]
        conv = _char_offsets(data, points + [p for span in comments for p in span])
        refs = [(conv[s], conv[e], ctx) for s, e, ctx in refs]
        strings = [(conv[s], conv[e]) for s, e in strings]
        comments = [(conv[s], conv[e]) for s, e in comments]
    for cs, ce in comments:
        m = _MAP_COMMENT.match(text, cs, ce)
        if m:
            refs.append((m.start(1), m.end(1), "js sourceMappingURL"))
    refs.sort()
    strings.sort()
    return refs, strings


def js_scan(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Return (rewritable URL spans with context, spans of string/template contents)."""
    try:
        return _scan(text)
    except Exception:  # never raise: the bundle is left unrewritten, and every name in it counts as mentioned
        return [], ([(0, len(text))] if text else [])
