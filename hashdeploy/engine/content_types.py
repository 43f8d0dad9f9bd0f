"""Content types from hashdeploy's own table, never the host's mimetypes database."""

from __future__ import annotations

_TEXT = "; charset=utf-8"

# Lower-case extension (with dot) -> Content-Type. Text types carry charset=utf-8.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html" + _TEXT,
    ".htm": "text/html" + _TEXT,
    ".xhtml": "application/xhtml+xml" + _TEXT,
    ".css": "text/css" + _TEXT,
    ".js": "text/javascript" + _TEXT,
    ".mjs": "text/javascript" + _TEXT,
    ".cjs": "text/javascript" + _TEXT,
    ".json": "application/json" + _TEXT,
    ".map": "application/json" + _TEXT,
    ".webmanifest": "application/manifest+json" + _TEXT,
    ".xml": "application/xml" + _TEXT,
    ".rss": "application/rss+xml" + _TEXT,
    ".atom": "application/atom+xml" + _TEXT,
    ".txt": "text/plain" + _TEXT,
    ".md": "text/markdown" + _TEXT,
    ".csv": "text/csv" + _TEXT,
    ".ics": "text/calendar" + _TEXT,
    ".vtt": "text/vtt" + _TEXT,
    ".svg": "image/svg+xml" + _TEXT,
    ".png": "image/png",
    ".apng": "image/apng",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".mov": "video/quicktime",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".aac": "audio/aac",
    ".opus": "audio/ogg",
}

DEFAULT_TYPE = "application/octet-stream"

# Compound suffixes kept whole when a hash is inserted: app.js.map -> app.<hash>.js.map
COMPOUND_SUFFIXES = (".js.map", ".mjs.map", ".css.map", ".svg.gz", ".xml.gz", ".json.gz")


def content_type(key: str) -> str:
    """Return the Content-Type for a site key, by its extension."""
    name = key.rsplit("/", 1)[-1].lower()
    if name.endswith(".gz") and not name.endswith(".tar.gz"):
        return "application/gzip"
    dot = name.rfind(".")
    if dot <= 0 and not name.startswith("."):
        return DEFAULT_TYPE
    return CONTENT_TYPES.get(name[dot:], DEFAULT_TYPE)


def split_suffix(name: str) -> tuple[str, str]:
    """Split a file name into (stem, suffix), keeping compound suffixes like `.js.map` whole."""
    lower = name.lower()
    for compound in COMPOUND_SUFFIXES:
        if lower.endswith(compound) and len(name) > len(compound):
            return name[: -len(compound)], name[-len(compound) :]
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def hashed_name(name: str, digest: str) -> str:
    """Insert a content hash before the suffix: `app.css` -> `app.<digest>.css`."""
    stem, suffix = split_suffix(name)
    return f"{stem}.{digest}{suffix}"
