"""Parse the text files (in parallel, cached by content) and resolve their references."""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Callable

from hashdeploy.engine.cache import ParseCache, cache_dir_for, dump
from hashdeploy.engine.refs import MAX_PARSE_BYTES, decode, kind_of, parse
from hashdeploy.engine.refs.edits import unescape_for
from hashdeploy.engine.refs.urls import UrlContext, clean_url, resolve, resolve_in
from hashdeploy.model import Asset, Parsed, RawRef, Ref, RefKind
from hashdeploy.settings import Settings

Tick = Callable[[int], None]
_BATCH = 24


# Within one process (watch mode, the MkDocs plugin under serve), a file parsed before with the same content is not
# parsed again.
_PARSED: dict[tuple[str, str], Parsed] = {}
_MEMO_LIMIT = 100_000


def _parse_batch(batch: list[tuple[str, str, str]]) -> list[tuple[str, Parsed]]:
    """Worker: parse (key, path, kind) items."""
    out = []
    for key, path, kind in batch:
        with open(path, "rb") as f:
            data = f.read()
        out.append((key, parse(data, kind)))
    return out


Packed = tuple[str | None, tuple[tuple[object, ...], ...], tuple[str, ...], str | None, tuple[str, ...]]


def _parse_batch_packed(batch: list[tuple[str, str, str]]) -> list[tuple[str, Packed, bytes]]:
    """Worker: _parse_batch, each result as plain tuples, which pickle in C (a slotted dataclass pickles through a
    Python-level __getstate__ per object: unpickling 25 references a page cost the parent more than parsing),
    with the bytes the cache stores for it (made here, on this worker's core, not in the parent)."""
    return [(key, (p.encoding, tuple((r.start, r.end, r.raw, r.kind, r.context, r.line, r.sri) for r in p.refs),
                   p.mentions, p.base_href, p.warnings), dump(p)) for key, p in _parse_batch(batch)]


def _unpack(packed: Packed) -> Parsed:
    encoding, refs, mentions, base_href, warnings = packed
    return Parsed(encoding=encoding, refs=tuple(RawRef(*r) for r in refs),  # type: ignore[arg-type]
                  mentions=mentions, base_href=base_href, warnings=warnings)


def parse_all(assets: list[Asset], cfg: Settings, tick: Tick) -> tuple[dict[str, Parsed], list[str]]:
    """Parse every text file that may hold references, using the cache; return results and warnings."""
    warnings: list[str] = []
    todo: list[tuple[Asset, str]] = []
    for a in assets:
        kind = kind_of(a.key)
        if kind is None:
            continue
        if a.size > MAX_PARSE_BYTES:
            warnings.append(f"{a.key}: {a.size} bytes is too large to scan for references; left unchanged")
            continue
        todo.append((a, kind))
    cache = ParseCache(cache_dir_for(cfg))
    try:
        hits = {k: p for k, p in ((k, _PARSED.get(k)) for k in ((a.sha256, kind) for a, kind in todo)) if p}
        stored = cache.get_many(k for k in ((a.sha256, kind) for a, kind in todo) if k not in hits)
        results: dict[str, Parsed] = {}
        misses = []
        for a, kind in todo:
            hit = hits.get((a.sha256, kind))
            if hit is None and (a.sha256, kind) in stored:
                hit = stored[a.sha256, kind]
                if _fits(hit, a, kind):
                    hits[a.sha256, kind] = hit
                else:
                    hit = None
            if hit is not None:
                results[a.key] = hit
                tick(1)
            else:
                misses.append((a, kind))
        by_key = {a.key: (a, kind) for a, kind in misses}

        def store(key: str, parsed: Parsed | bytes) -> None:  # as results come, while the other processes parse
            a, kind = by_key[key]
            cache.add(a.sha256, kind, parsed)

        fresh = _parse_misses(misses, cfg.jobs or os.cpu_count() or 1, tick, store)
        cache.commit()
        results.update(fresh)
        if len(_PARSED) < _MEMO_LIMIT:
            _PARSED.update(((a.sha256, kind), results[a.key]) for a, kind in todo)
    finally:
        cache.close()
    return results, warnings


def earlier_parse(sha256: str, kind: str, cfg: Settings) -> Parsed | None:
    """The parse of the bytes with this hash, from this process or the cache; None if neither has it."""
    hit = _PARSED.get((sha256, kind))
    if hit is not None:
        return hit
    cache = ParseCache(cache_dir_for(cfg))
    try:
        return cache.get_many([(sha256, kind)]).get((sha256, kind))
    finally:
        cache.close()


def _fits(p: Parsed, a: Asset, kind: str) -> bool:
    """Whether a stored parse result describes this file: its codec, and the text at every span it names.

    The cache may come from elsewhere (a shared CI cache): an entry is only used if rewriting with it is safe.
    """
    try:
        with open(a.path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    text, codec, bom_len, _warnings = decode(data, kind)
    if p.encoding != f"{codec}:{bom_len}":
        return False
    n = len(text)
    return all(text[r.start : r.end] == r.raw and (r.sri is None or r.sri[1] <= n) for r in p.refs)


def _parse_misses(misses: list[tuple[Asset, str]], jobs: int, tick: Tick,
                  store: Callable[[str, Parsed | bytes], None]) -> dict[str, Parsed]:
    """Parse the files the cache did not have, handing each result to `store` as it comes (the workers' with the
    bytes the cache keeps, which they made)."""
    items = [(a.key, str(a.path), kind) for a, kind in misses]
    results: dict[str, Parsed] = {}
    if not items:
        return results
    if jobs <= 1 or len(items) < 2 * _BATCH:
        for key, parsed in _parse_batch(items):
            results[key] = parsed
            store(key, parsed)
            tick(1)
        return results
    batches = [items[i : i + _BATCH] for i in range(0, len(items), _BATCH)]
    # imported here: an up-to-date build never starts a process pool, so never pays for multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    import hashdeploy.engine.refs.tagmemo  # noqa: F401 - loaded once here, with BeautifulSoup, not in every worker
    from hashdeploy.engine.refs.html import url_tags_only

    url_tags_only()

    # fork is the fast start, but forking a process that runs other threads (mkdocs serve, a watch) can deadlock
    context = get_context("fork" if threading.active_count() == 1 else "forkserver")
    done: dict[int, list[tuple[str, Parsed]]] = {}
    # This process parses too, from the last batch backwards, while jobs - 1 workers take batches from the front:
    # `jobs` cores stay busy, and what is parsed here is never pickled. A few batches are queued per worker, so a
    # worker never waits for this process to hand it the next one.
    front, back = 0, len(batches)
    pending: dict[Future[list[tuple[str, Packed, bytes]]], int] = {}

    def here(i: int) -> None:
        done[i] = _parse_batch(batches[i])
        for key, parsed in done[i]:
            store(key, parsed)
        tick(len(done[i]))

    with ProcessPoolExecutor(max_workers=jobs - 1, mp_context=context) as pool:
        while front < back or pending:
            while front < back and len(pending) < 3 * (jobs - 1):
                pending[pool.submit(_parse_batch_packed, batches[front])] = front
                front += 1
            if front < back:
                back -= 1
                here(back)
            else:  # nothing left here: take back the batches no worker has started, then wait for the others
                for future in [f for f in pending if f.cancel()]:
                    here(pending.pop(future))
                if pending:
                    wait(pending, return_when=FIRST_COMPLETED)
            for future in [f for f in pending if f.done()]:
                i = pending.pop(future)
                got = future.result()
                done[i] = [(key, _unpack(packed)) for key, packed, _blob in got]
                for key, _packed, blob in got:
                    store(key, blob)
                tick(len(done[i]))
    for i in range(len(batches)):
        results.update(done[i])
    return results


def _base_dir(source: str, base_href: str | None, ctx: UrlContext) -> str | None:
    """The directory relative URLs resolve against: the page's own, or its <base href>."""
    if base_href is None:
        return None
    key, note = resolve(base_href, source, ctx)
    if key is None:
        return "\x00external" if note == "external" else None
    path = clean_url(base_href).split("#", 1)[0].split("?", 1)[0]
    return key.rpartition("/")[0] if not path.endswith("/") else key[: -len("index.html")].rstrip("/")


def resolve_refs(parsed: dict[str, Parsed], keys: set[str], cfg: Settings,
                 by_source: dict[str, list[str]] | None = None) -> tuple[dict[str, list[Ref]], list[str]]:
    """Resolve every reference to a site key; warn about subresources that are missing or outside.

    The warnings come source by source in key order; by_source, if given, receives each source's own.
    """
    ctx = UrlContext(base_path=cfg.base_path, site_url=cfg.site_url)
    lower = {k.lower(): k for k in keys}
    out: dict[str, list[Ref]] = {}
    warnings: list[str] = []
    # templates repeat the same raw URLs on every page: each is unescaped once, and each root-relative one (which
    # means the same from every page) resolved once
    urls: dict[tuple[str, str], str] = {}
    rooted: dict[str, tuple[str | None, str]] = {}
    for source in sorted(parsed):
        p = parsed[source]
        first = len(warnings)
        warnings += [f"{source}: {w}" for w in p.warnings]
        base_dir = _base_dir(source, p.base_href, ctx)
        directory = base_dir if base_dir is not None else posixpath.dirname(source)
        refs = []
        for raw in p.refs:
            url = urls.get((raw.raw, raw.context))
            if url is None:
                url = urls[raw.raw, raw.context] = unescape_for(raw.context)(raw.raw)
            if base_dir == "\x00external" and not clean_url(url).startswith("/"):
                refs.append(Ref(source, raw, None, "external"))
                continue
            if url.startswith("/") and not url.startswith("//"):
                known = rooted.get(url)
                if known is None:
                    known = rooted[url] = resolve(url, source, ctx, base_dir)
                target, note = known
            else:
                target, note = resolve_in(url, directory, ctx)
            sub = raw.kind is RefKind.SUB
            if target is not None and target not in keys:
                other = lower.get(target.lower())
                if sub and other is not None:
                    warnings.append(f"{source}:{raw.line}: {raw.raw} matches {other} only case-insensitively; "
                                    "fix the case (URLs on S3 are case-sensitive)")
                    note = "case"
                elif sub:
                    warnings.append(f"{source}:{raw.line}: {raw.context} → {raw.raw} (no such file in the site); "
                                    "left unchanged")
                    note = "missing"
                target = None
            elif target is None and sub and note == "outside":
                warnings.append(f"{source}:{raw.line}: {raw.raw} resolves outside the site; left unchanged, never opened")
            elif target is None and sub and note == "outside-base":
                warnings.append(f"{source}:{raw.line}: {raw.raw} is outside the base path {cfg.base_path}; left unchanged")
            refs.append(Ref(source, raw, target, note))
        out[source] = refs
        if by_source is not None and len(warnings) > first:
            by_source[source] = warnings[first:]
    return out, warnings


def warnings_in_order(size_warnings: list[str], by_source: dict[str, list[str]]) -> list[str]:
    """A build's warnings from their parts: files too large to parse, then each source's in key order, as
    parse_all and resolve_refs list them."""
    return [*size_warnings, *(w for key in sorted(by_source) for w in by_source[key])]
