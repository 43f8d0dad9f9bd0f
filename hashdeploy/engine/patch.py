"""Incremental re-run: when only a few stable pages changed and point at what they pointed at, rewrite just them.

A full build decides every file's class and name from all references; a page kept at its own URL (not renamed,
not fingerprinted, no integrity value anywhere names its bytes) contributes to that decision only through its
references and mentions. If its new bytes parse to the same references (same URLs, kinds, contexts) and mentions,
every decision stays as the last build made it: only the page's own bytes change, rewritten with the names the
last build chose. Anything else (a file added, removed or renamed, a changed asset, a new link, a reason that
cites a line that moved) falls back to the full build. The result is exactly what the full build would give;
the tests compare both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from hashdeploy.engine.freshness import Stamped, forget, save, settings_digest
from hashdeploy.engine.manifest import MANIFEST_PATH, to_json, with_new_bytes
from hashdeploy.model import Asset, BuildResult, FileClass, OutputFile, Parsed, Ref
from hashdeploy.settings import Settings

FORMAT = 1
MAX_CHANGED = 64  # beyond this the parallel full build is as quick, and a bulk edit is rarely inert
_MAX_BYTES = 256 << 20


@dataclasses.dataclass
class Base:
    """What the last full build leaves for a patch: its inputs, the pages a patch may redo, the warnings."""

    settings: str
    inputs: dict[str, str]  # key -> sha256 of the source file
    inert: frozenset[str]  # keys a patch may rewrite alone
    size_warnings: list[str]  # files too large to parse (never inert)
    warnings: dict[str, list[str]]  # source -> its parse and resolve warnings, in build order


def _path(cache_dir: Path, target: Path) -> Path:
    return cache_dir / "builds" / "patch" / (hashlib.sha256(str(target).encode()).hexdigest()[:32] + ".json")


def inert_keys(parsed: dict[str, Parsed], refs: dict[str, list[Ref]], result: BuildResult, cfg: Settings) -> set[str]:
    """Parsed files whose only output is themselves, stable, under their own name, whose bytes nothing embeds."""
    if cfg.sri:
        return set()
    embedded = {r.target for rs in refs.values() for r in rs if r.raw.sri is not None and r.target is not None}
    outputs: dict[str, list[OutputFile]] = {}
    for f in result.files:
        outputs.setdefault(f.source, []).append(f)
    inert = set()
    for key in parsed:
        out = outputs.get(key)
        if out is None or len(out) != 1 or key in embedded or key in result.assets:
            continue
        f = out[0]
        if f.key == key and f.cls is FileClass.STABLE and f.integrity is None:
            inert.add(key)
    return inert


def record(cache_dir: Path | None, target: Path, base: Base | None) -> None:
    """Keep what a later patch needs (None: a build no patch may follow); failures are ignored (it only saves time)."""
    if cache_dir is None:
        return
    path = _path(cache_dir, target)
    try:
        if base is None:
            path.unlink(missing_ok=True)
            return
        doc = {"format": FORMAT, "settings": base.settings, "inputs": base.inputs, "inert": sorted(base.inert),
               "size_warnings": base.size_warnings, "warnings": base.warnings}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def base_of(assets: list[Asset], inert: set[str], size_warnings: list[str], by_source: dict[str, list[str]],
            cfg: Settings) -> Base:
    """The record of a full build, for the patch that may follow it."""
    return Base(settings_digest(cfg), {a.key: a.sha256 for a in assets}, frozenset(inert), list(size_warnings),
                by_source)


def _load(cache_dir: Path, target: Path) -> Base | None:
    try:
        with open(_path(cache_dir, target), "rb") as f:
            data = f.read(_MAX_BYTES + 1)
        doc: Any = json.loads(data) if len(data) <= _MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    if type(doc) is not dict or doc.get("format") != FORMAT:
        return None
    inputs, inert, size_warnings, warnings = (doc.get(k) for k in ("inputs", "inert", "size_warnings", "warnings"))
    if (type(inputs) is not dict or not all(type(k) is str and type(v) is str for k, v in inputs.items())
            or type(inert) is not list or not all(type(k) is str for k in inert)
            or type(size_warnings) is not list or not all(type(w) is str for w in size_warnings)
            or type(warnings) is not dict
            or not all(type(ws) is list and all(type(w) is str for w in ws) for ws in warnings.values())
            or type(doc.get("settings")) is not str):
        return None
    return Base(doc["settings"], inputs, frozenset(inert), size_warnings, warnings)


def shape(p: Parsed) -> tuple[object, ...]:
    """What of a parse decides the other files' classes and names: everything but positions."""
    return (tuple((r.raw, r.kind, r.context, r.sri[2] if r.sri else None) for r in p.refs), p.mentions,
            p.base_href, p.encoding)


def cites_a_moved_line(key: str, old: Parsed, new: Parsed, reasons: list[str]) -> bool:
    """Whether a reference of key moved to another line while some file's reason names a line of key
    (reasons cite `page.html:LINE`): the plan made from the old lines is then not the plan of the new ones."""
    return [r.line for r in old.refs] != [r.line for r in new.refs] and any(f"{key}:" in r for r in reasons)


def patch(cfg: Settings, cache_dir: Path, target: Path, assets: list[Asset], digest: str,
          stamped: Stamped) -> tuple[BuildResult, Base] | None:
    """Rewrite the few changed inert pages of the last build in place; None when a full build is needed.

    `stamped` is the last build, which the cache's stamp proved target still holds. Nothing is written unless
    the whole patch is known to be right.
    """
    last, site = stamped.result, cfg.site
    base = _load(cache_dir, target)
    if base is None or base.settings != settings_digest(cfg) or len(base.inputs) != len(assets):
        return None
    changed: list[Asset] = []
    for a in assets:
        sha = base.inputs.get(a.key)
        if sha is None:
            return None  # a file was added (and, the counts being equal, another removed)
        if sha != a.sha256:
            if a.key not in base.inert or len(changed) == MAX_CHANGED:
                return None
            changed.append(a)
    if not changed:
        return None
    from hashdeploy.engine.content_types import content_type
    from hashdeploy.engine.parse import earlier_parse, parse_all, resolve_refs, warnings_in_order
    from hashdeploy.engine.refs import kind_of
    from hashdeploy.engine.refs.edits import apply_edits, integrity_value, replacements

    by_file = {f.key: f for f in last.files}
    for a in changed:  # what the record says, checked against the result the stamp proved
        f = by_file.get(a.key)
        if f is None or f.source != a.key or f.cls is not FileClass.STABLE or f.integrity or a.key in last.assets:
            return None
    olds: dict[str, Parsed] = {}
    keys = set(base.inputs)
    for a in changed:
        kind = kind_of(a.key)
        old = earlier_parse(base.inputs[a.key], kind, cfg) if kind else None
        if old is None:
            return None
        olds[a.key] = old
        if kind == "html":  # its tags, as the last build parsed them: an edit that keeps them needs no new parse
            _remember_tags(target / a.key, a.key, old, keys, last.assets, base.inputs[a.key], cfg)
    parsed, size_warnings = parse_all(changed, cfg, lambda n: None)
    if size_warnings or set(parsed) != {a.key for a in changed}:
        return None
    reasons = [f.reason for f in last.files]
    for a in changed:
        old, new = olds[a.key], parsed[a.key]
        if shape(old) != shape(new) or cites_a_moved_line(a.key, old, new, reasons):
            return None
    warnings = dict(base.warnings)
    for key in parsed:
        warnings.pop(key, None)
    refs, _ = resolve_refs(parsed, keys, cfg, warnings)
    rewritten = set(last.rewritten)

    def integrity(target_key: str, algo: str) -> str | None:
        """rename.State.integrity without --sri (never on for a patch): an existing value of a rewritten file is
        the digest of its final bytes (a stylesheet or script: its output) or else of its source."""
        if not algo or target_key not in rewritten:
            return None
        final = content_type(target_key).startswith(("text/css", "text/javascript"))
        return integrity_value(target / last.assets.get(target_key, target_key) if final else site / target_key, algo)

    outputs: dict[str, bytes] = {}
    old_files = dict(by_file)
    for a in changed:
        data = a.path.read_bytes()
        final = apply_edits(data, parsed[a.key], replacements(refs[a.key], last.assets, integrity))
        (rewritten.add if final != data else rewritten.discard)(a.key)
        by_file[a.key] = dataclasses.replace(by_file[a.key], sha256=hashlib.sha256(final).hexdigest(),
                                             size=len(final))
        outputs[a.key] = final
    result = BuildResult(files=tuple(by_file[k] for k in sorted(by_file)), assets=last.assets,
                         rewritten=tuple(sorted(rewritten)),
                         warnings=tuple(warnings_in_order(base.size_warnings, warnings)))
    if cfg.strict and result.warnings:
        return None  # the full build stops with the strict-mode error, before writing anything
    new_base = dataclasses.replace(base, inputs=base.inputs | {a.key: a.sha256 for a in changed}, warnings=warnings)
    forget(cache_dir, target)  # until the stamp is saved again, target is not known to be right
    for key, data in outputs.items():
        _replace(target / key, data)
    manifest = with_new_bytes(stamped.manifest, [(old_files[k], by_file[k]) for k in outputs])
    _replace(target / MANIFEST_PATH, manifest if manifest is not None else to_json(result, cfg.hash_length))
    save(cache_dir, target, digest, result, {k: st for k, st in stamped.stats.items() if k not in outputs})
    return result, new_base


def _remember_tags(output: Path, key: str, old: Parsed, keys: set[str], names: dict[str, str], sha256: str,
                   cfg: Settings) -> None:
    """Give the tag memo the tags of a page's last version, rebuilt from its output: the last build's edits undone.

    Nothing is remembered unless the rebuilt text has the hash the last build read, so a page is never taken
    for what it was not.
    """
    from hashdeploy.engine.parse import resolve_refs
    from hashdeploy.engine.refs import encode
    from hashdeploy.engine.refs.edits import replacements
    from hashdeploy.engine.refs.tagmemo import remember_page

    if any(r.sri is not None and r.sri[2] for r in old.refs):
        return  # an integrity value the build may have rewritten cannot be undone
    refs = resolve_refs({key: old}, keys, cfg)[0][key]
    try:
        data = output.read_bytes()
    except OSError:
        return
    codec, _, bom = (old.encoding or "utf-8:0").rpartition(":")
    skip = int(bom)
    try:
        text = data[skip:].decode(codec, "surrogateescape")
    except (LookupError, ValueError):
        return
    raws = {(r.raw.start, r.raw.end): r.raw.raw for r in refs}
    parts: list[str] = []
    at = shift = 0
    for start, end, new in sorted(replacements(refs, names)):
        pos = start + shift
        if pos < at or text[pos : pos + len(new)] != new:
            return
        parts += (text[at:pos], raws[start, end])
        at, shift = pos + len(new), shift + len(new) - (end - start)
    parts.append(text[at:])
    source = "".join(parts)
    try:
        if hashlib.sha256(encode(source, codec, data[:skip])).hexdigest() != sha256:
            return
    except (LookupError, ValueError):
        return
    remember_page(source, old.refs, old.base_href)


def _replace(path: Path, data: bytes) -> None:
    """Write a file whole under a temporary name, then rename it over the old one: a reader sees one or the other."""
    tmp = path.with_name(f".{path.name}.hashdeploy-tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask decides, as for the build
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
