"""Independent checks of a processed site, written without hashdeploy's own parsers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote, urljoin, urlsplit

from bs4 import BeautifulSoup

ORIGIN = "http://site.test/"
_SUB = {"script": ["src"], "img": ["src"], "source": ["src"], "video": ["src", "poster"], "audio": ["src"],
        "track": ["src"], "embed": ["src"], "object": ["data"]}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _local(url: str, base: str, prefix: str) -> str | None:
    """Map a URL to a site key, or None when it is external, data:, or a fragment."""
    full = urljoin(base, url.strip())
    parts = urlsplit(full)
    if not full.startswith(ORIGIN) or parts.scheme not in ("http", "https"):
        return None
    path = unquote(parts.path)
    if not path.startswith(prefix):
        return None
    key = path[len(prefix):]
    return key + "index.html" if key.endswith("/") or not key else key


def subresource_urls(out: Path, key: str, prefix: str = "/") -> list[tuple[str, str]]:
    """(url as written, resolved key) for every subresource of one HTML or CSS file."""
    base = ORIGIN.rstrip("/") + prefix + key
    text = (out / key).read_bytes().decode("utf-8", "replace")
    urls: list[str] = []
    if key.endswith(".html"):
        soup = BeautifulSoup(text, "html.parser")
        if soup.base and soup.base.get("href"):
            base = urljoin(base, cast(str, soup.base["href"]))
        for tag in soup.find_all(True):
            for attr in _SUB.get(tag.name, []):
                if tag.get(attr):
                    urls.append(cast(str, tag[attr]))
            if tag.name in ("img", "source") and tag.get("srcset"):
                urls += [c.strip().split()[0] for c in cast(str, tag["srcset"]).split(",") if c.strip()]
            rel = [r.lower() for r in tag.get("rel") or []]
            loads = {"stylesheet", "icon", "preload", "modulepreload", "manifest"}
            if tag.name == "link" and tag.get("href") and loads & set(rel):
                urls.append(cast(str, tag["href"]))
    else:
        for m in _CSS_URL.finditer(_CSS_COMMENT.sub("", text)):
            urls.append(m.group(2) or m.group(4))
    out_list = []
    for u in urls:
        if u.startswith("data:"):
            continue
        k = _local(u, base, prefix)
        if k is not None:
            out_list.append((u, k))
    return out_list


def assert_site_consistent(src: Path, out: Path, manifest: dict[str, Any], prefix: str = "/") -> dict[str, int]:
    """The invariants of a processed site; returns counts for the caller to sanity-check."""
    files = manifest["files"]
    counts = {"html": 0, "subresources": 0, "hashed_refs": 0}
    for key in files:
        assert (out / key).is_file(), f"manifest lists {key} but it is not in the output"
    for path in sorted(out.rglob("*")):
        key = path.relative_to(out).as_posix()
        if path.is_dir() or key.startswith(".hashdeploy/"):
            continue
        assert key in files, f"{key} is in the output but not in the manifest"
        if key.endswith((".html", ".css")):
            for url, target in subresource_urls(out, key, prefix):
                counts["subresources"] += 1
                if not (out / target).is_file():
                    src_exists = (src / target).is_file()
                    assert not src_exists, f"{key}: {url} points at {target}, which the output lacks"
                    continue
                cls, reason = files[target]["class"], files[target]["reason"]
                # stable only where its URL must not change: a fixed well-known name, or one named in code
                allowed = reason.startswith(("fetched at a fixed URL", "named in", "matches the stable pattern"))
                assert cls in ("hashed", "fingerprinted") or allowed, f"{key}: subresource {target} is {cls}: {reason}"
                counts["hashed_refs"] += cls == "hashed"
    # HTML pages differ from their input only in the rewritten URLs
    renamed_names = {new.rsplit("/", 1)[-1]: old.rsplit("/", 1)[-1] for old, new in manifest["assets"].items()}
    for key, entry in files.items():
        if not key.endswith(".html"):
            continue
        counts["html"] += 1
        before = (src / entry["source"]).read_bytes()
        after = (out / key).read_bytes()
        restored = after
        for new, old in sorted(renamed_names.items(), key=lambda kv: -len(kv[0])):
            restored = restored.replace(new.encode(), old.encode())
            restored = restored.replace(quote(new).encode(), quote(old).encode())
        assert restored == before, f"{key}: bytes other than URLs changed"
    return counts
