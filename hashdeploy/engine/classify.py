"""Decide which files may be renamed and the order to process them in (pure)."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from hashdeploy.engine.refs.urls import MANIFEST_LINK
from hashdeploy.globs import matches
from hashdeploy.model import Ref, RefKind
from hashdeploy.settings import Settings


@dataclass(frozen=True, slots=True)
class Plan:
    """Per-file eligibility and the processing order, strongly connected components leaves first."""

    order: tuple[tuple[str, ...], ...]
    renamable: dict[str, str]  # key -> why it may get a hashed name
    stable: dict[str, str]  # key -> why it keeps its name
    fingerprint_like: frozenset[str]  # names that already carry a build tool's hash (never hashed a second time)
    keep_copy: dict[str, str]  # renamable keys that also stay at their own URL -> why
    # keys never fingerprinted, however hash-like their names: those reached only by navigation (<a href>, <iframe>,
    # forms, feeds), which may be replaced in place under the same name (an edited PDF must be revalidated), and web
    # app manifests, whose URL installed apps follow. A file nothing visible points at may still be fingerprinted:
    # build tools' loaders compute their chunks' URLs.
    never_fingerprinted: frozenset[str] = frozenset()


def _first(refs: list[Ref]) -> str:
    r = min(refs, key=lambda r: (r.source, r.raw.line, r.raw.start))
    return f"{r.source}:{r.raw.line} ({r.raw.context})"


def pinned_by_mentions(keys: list[str], mentions: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map keys named in text hashdeploy cannot rewrite (JS strings, data-* attributes) to a reason."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        by_name[key.rsplit("/", 1)[-1]].append(key)
    pinned: dict[str, str] = {}
    for source in sorted(mentions):
        for token in mentions[source]:
            path = unquote(token) if "%" in token else token
            name = path.rsplit("/", 1)[-1]
            candidates = by_name.get(name)
            if not candidates:
                continue
            path = re.sub(r"^//[^/]+", "", path)  # drop the host of an absolute URL
            tail = re.sub(r"^(?:\.{1,2}/|/)+", "", path)
            here = posixpath.normpath(posixpath.join(posixpath.dirname(source), path)) if "/" in path else ""
            for key in candidates:
                # either may be the longer one: "img/a.png" in code, or "docs/img/a.png" under a base path
                if "/" in tail and not (key == tail or key.endswith("/" + tail) or tail.endswith("/" + key)
                                        or key == here):
                    continue
                pinned.setdefault(key, f"named in {source} where it cannot be rewritten ({token})")
    return pinned


def fingerprint_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """key -> whether its name carries a build tool's hash: a pattern with a "/" is searched in the site path,
    any other in the file name (the Next.js build id is a directory: `_next/static/<build id>/…`)."""
    on_path = [re.compile(p) for p in patterns if "/" in p]
    on_name = [re.compile(p) for p in patterns if "/" not in p]

    def carries_hash(key: str) -> bool:
        name = key.rsplit("/", 1)[-1]
        return any(r.search(name) for r in on_name) or any(r.search(key) for r in on_path)

    return carries_hash


def tarjan(nodes: list[str], edges: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components, each emitted after every component it points to (leaves first)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[tuple[str, ...]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(tuple(sorted(comp)))
    return out


def make_plan(keys: list[str], refs: dict[str, list[Ref]], mentions: dict[str, tuple[str, ...]], cfg: Settings,
              feed_mentions: dict[str, tuple[str, ...]] | None = None) -> Plan:
    """Classify every key's eligibility and order the files that hold references.

    `mentions` pin files (code may build their URLs); `feed_mentions` (feeds, sitemaps) keep a copy at the URL
    readers fetch, while pages may still load a hashed copy.
    """
    sub_in: dict[str, list[Ref]] = defaultdict(list)
    nav_in: dict[str, list[Ref]] = defaultdict(list)
    manifests: dict[str, list[Ref]] = defaultdict(list)  # linked by <link rel="manifest">: apps update from that URL
    edges: dict[str, list[str]] = {}
    for source, found in refs.items():
        targets = []
        for r in found:
            if r.target is None:
                continue
            if r.raw.context == MANIFEST_LINK:
                manifests[r.target].append(r)
            if r.raw.kind is RefKind.SUB:
                sub_in[r.target].append(r)
                targets.append(r.target)
            else:
                nav_in[r.target].append(r)
        edges[source] = sorted(set(targets))
    pinned = pinned_by_mentions(keys, mentions)
    in_feeds = pinned_by_mentions(keys, feed_mentions or {})
    carries_hash = fingerprint_matcher(cfg.fingerprint_patterns)
    renamable: dict[str, str] = {}
    stable: dict[str, str] = {}
    keep_copy: dict[str, str] = {}
    fingerprint_like = set()
    never_fingerprinted = set()
    for key in keys:
        forced = matches(key, cfg.hashed) is not None
        if carries_hash(key) and not forced:  # --hash GLOB: hashdeploy names it, whatever hash its name holds
            fingerprint_like.add(key)
        if not forced and (key in manifests or ((key in nav_in or key in in_feeds) and key not in sub_in)):
            never_fingerprinted.add(key)
        if (p := matches(key, cfg.stable)) is not None:
            stable[key] = f"matches the stable pattern {p!r}"
        elif (p := matches(key, cfg.hashed)) is not None:
            renamable[key] = f"matches the hash pattern {p!r}"
        elif key in manifests:
            stable[key] = (f"fetched at a fixed URL (the web app manifest of {_first(manifests[key])}: installed apps "
                           "update from its URL)")
        elif (p := matches(key, cfg.default_stable)) is not None:
            stable[key] = "an HTML page" if p in ("*.html", "*.htm", "*.xhtml") else f"fetched at a fixed URL ({p})"
        elif key in pinned:
            stable[key] = pinned[key]
        elif key in sub_in:
            renamable[key] = f"loaded by {_first(sub_in[key])}"
        elif key in nav_in:
            stable[key] = f"only linked by navigation ({_first(nav_in[key])})"
        else:
            stable[key] = "no rewritable reference points at it (its URL may be computed at run time)"
        if key in renamable and key in nav_in:
            keep_copy[key] = f"also linked by navigation ({_first(nav_in[key])})"
        elif key in renamable and key in in_feeds:
            keep_copy[key] = "also " + in_feeds[key].replace("where it cannot be rewritten", "as it is")
    nodes = sorted(edges)
    order = tuple(c for c in tarjan(nodes, edges) if any(k in edges for k in c))
    return Plan(order=order, renamable=renamable, stable=stable, fingerprint_like=frozenset(fingerprint_like),
                keep_copy=keep_copy, never_fingerprinted=frozenset(never_fingerprinted))
