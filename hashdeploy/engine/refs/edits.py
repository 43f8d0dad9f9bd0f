"""Patch references in a file's bytes: only URL bytes change, everything else stays as written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

from hashdeploy.engine.refs import encode, json_unescape
from hashdeploy.engine.refs.css import css_unescape
from hashdeploy.engine.refs.urls import html_value, plain_decode, rewrite_url
from hashdeploy.model import Parsed, Ref, RefKind


def _css_in_attribute(s: str) -> str:
    return css_unescape(html_value(s))


def _as_is(s: str) -> str:
    return s


@lru_cache(maxsize=64)
def unescape_for(context: str) -> Callable[[str], str]:
    """How a raw URL of this context is unescaped (entities, CSS or JSON escapes) before percent-decoding."""
    if context == "style attribute":
        return _css_in_attribute
    if context.startswith("css") or context == "<style>":
        return css_unescape
    if context.startswith("manifest"):
        return json_unescape
    if context.startswith("js"):
        return _as_is
    return html_value


@lru_cache(maxsize=64)
def decoder_for(context: str) -> Callable[[str], str]:
    """How a raw URL of this context is decoded into the path a browser requests (one function per context,
    so rewrite_url's cache can key on it)."""
    unescape = unescape_for(context)
    return lambda s: plain_decode(unescape(s))


def replacements(
    refs: list[Ref], names: Mapping[str, str], integrity: Callable[[str, str], str | None] | None = None
) -> list[tuple[int, int, str]]:
    """The (start, end, new text) edits that point subresource references at renamed files.

    With `integrity` ((target key, algorithm of the existing value or "") -> "sha384-…" or None), integrity
    attributes are updated or added wherever the function returns a value.
    """
    edits = []
    for r in refs:
        if r.target is None or r.raw.kind is not RefKind.SUB:
            continue
        new_key = names.get(r.target)
        if new_key is not None:
            new_raw = rewrite_url(r.raw.raw, r.target, new_key, decoder_for(r.raw.context))
            if new_raw != r.raw.raw:
                edits.append((r.raw.start, r.raw.end, new_raw))
        if integrity is not None and r.raw.sri is not None:
            start, end, algo = r.raw.sri
            value = integrity(r.target, algo)
            if value is None:
                continue
            edits.append((start, end, value) if algo else (start, start, f' integrity="{value}"'))
    return edits


def apply_edits(data: bytes, parsed: Parsed, edits: list[tuple[int, int, str]]) -> bytes:
    """Apply text edits to the file's bytes through the codec it was decoded with."""
    if not edits:
        return data
    codec, _, bom_len = (parsed.encoding or "utf-8:0").rpartition(":")
    skip = int(bom_len)
    text = data[skip:].decode(codec, "surrogateescape")
    parts = []
    pos = 0
    for start, end, new in sorted(edits):
        parts.append(text[pos:start])
        parts.append(new)
        pos = end
    parts.append(text[pos:])
    return encode("".join(parts), codec, data[:skip])
