"""Patch references in a file's bytes: only URL bytes change, everything else stays as written."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from hashdeploy.engine.refs import encode
from hashdeploy.engine.refs.unescape import Unescaper, as_is, compose, css_unescape_map, html_attr_unescape, json_unescape_map
from hashdeploy.engine.refs.urls import rewrite_url
from hashdeploy.model import Parsed, Ref, RefKind

_STYLE_ATTRIBUTE = compose(html_attr_unescape, css_unescape_map)


@lru_cache(maxsize=64)
def unescaper_for(context: str) -> Unescaper:
    """How a raw URL of this context is unescaped (entities, CSS or JSON escapes), with a map back to the raw text.

    Percent-decoding comes after, on the URL itself.
    """
    if context == "style attribute":
        return _STYLE_ATTRIBUTE
    if context.startswith("css") or context == "<style>":
        return css_unescape_map
    if context.startswith("manifest"):
        return json_unescape_map
    if context.startswith("js"):
        return as_is
    return html_attr_unescape


@lru_cache(maxsize=64)
def unescape_for(context: str) -> Callable[[str], str]:
    """How a raw URL of this context is unescaped before it is resolved (the URL the browser parses)."""
    unescape = unescaper_for(context)
    return lambda s: unescape(s)[0]


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
            new_raw = rewrite_url(r.raw.raw, r.target, new_key, unescaper_for(r.raw.context))
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


def integrity_value(source: bytes | Path, algo: str = "sha384") -> str:
    """The value of an integrity attribute for these bytes (or this file's), e.g. "sha384-…"."""
    h = hashlib.new(algo)
    if isinstance(source, bytes):
        h.update(source)
    else:
        with open(source, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return f"{algo}-" + base64.b64encode(h.digest()).decode("ascii")
