"""Value checks of the settings schema: each takes a value and returns why it is invalid, or None."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Check = Callable[[Any], str | None]


def between(lo: float, hi: float) -> Check:
    """A check that a number lies in [lo, hi]."""
    return lambda v: None if lo <= v <= hi else f"{v} is not between {lo:g} and {hi:g}"


def at_least_check(lo: float) -> Check:
    return lambda v: None if v >= lo else f"{v} must be {lo:g} or more"


def regexes_check(values: tuple[str, ...]) -> str | None:
    for p in values:
        try:
            re.compile(p)
        except re.error as exc:
            return f"{p!r} is not a valid regular expression ({exc})"
    return None


def header_check(value: str | None) -> str | None:
    if value is not None and (not value.isprintable() or any(c in value for c in "\r\n")):
        return f"{value!r} contains control characters (CR/LF are not allowed)"
    return None


def rules_check(rules: tuple[str, ...]) -> str | None:
    for rule in rules:
        glob, sep, value = rule.partition("=")
        if not sep or not glob.strip() or not value.strip():
            return f"{rule!r} is not GLOB=VALUE"
        if header_check(value):
            return header_check(value)
    return None


def distribution_ids_check(values: tuple[str, ...]) -> str | None:
    for v in values:
        if not re.match(r"^[A-Z0-9]{1,64}$", v):
            return f"{v!r} is not a CloudFront distribution id (like E2QWRUHAPOMQZL)"
    if len(set(values)) != len(values):
        return "a distribution is named twice"
    return None


def urls_check(values: tuple[str, ...]) -> str | None:
    for v in values:
        if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", v):
            return f"{v!r} is not an http(s) URL like https://d111111abcdef8.cloudfront.net"
    return None


def matches_check(pattern: str, example: str) -> Check:
    return lambda v: None if v is None or re.match(pattern, v) else f"{v!r} is not {example}"


def target_check(value: str) -> str | None:
    """s3://BUCKET[/PREFIX], or a file:// URL of an absolute path (file:///srv/www, file://localhost/srv/www)."""
    if not value.startswith("file://"):
        return matches_check(r"^s3://[^/]+(/.*)?$", "s3://BUCKET[/PREFIX] or file:///PATH")(value)
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(value)
    if parts.netloc not in ("", "localhost"):
        # file://build/www reads "build" as a host: the path would be /www; file://www has no path at all
        absolute = Path(os.path.abspath(unquote(value[len("file://"):]))).as_uri()
        return (f"{value!r} is a relative path, which a file:// URL cannot hold ({parts.netloc!r} reads as a host "
                f"name); use the absolute form {absolute}")
    if not parts.path.startswith("/"):
        return f"{value!r} names no directory; use file:///ABSOLUTE/PATH"
    return None


_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """'7d', '36h', '90m', '3600' -> seconds (ValueError otherwise)."""
    m = _AGE.match(text.strip().lower())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def age_check(value: str) -> str | None:
    try:
        parse_age(value)
    except ValueError:
        return f"{value!r} is not an age like 7d, 36h or 3600"
    return None
