"""The rewrite stage: name and rewrite files in plan order (leaves first), writing each to a sink."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hashdeploy.engine.classify import Plan
from hashdeploy.engine.content_types import content_type, hashed_name
from hashdeploy.engine.incremental import Reuse
from hashdeploy.engine.refs.edits import apply_edits, integrity_value, replacements
from hashdeploy.globs import matches
from hashdeploy.model import Asset, FileClass, OutputFile, Parsed, Ref, RefKind
from hashdeploy.settings import Settings

_CLASSES = {c.value for c in FileClass}


class Sink(Protocol):
    """Where output files go."""

    def write(self, key: str, data: bytes, sha256: str | None = None) -> None: ...
    def copy(self, key: str, src: Path, sha256: str | None = None) -> None: ...
    def close(self) -> None: ...


@dataclass
class State:
    """Mutable bookkeeping of one build, private to this module."""

    cfg: Settings
    assets: dict[str, Asset]
    parsed: dict[str, Parsed]
    refs: dict[str, list[Ref]]
    plan: Plan
    sink: Sink
    prior: dict[str, dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)
    files: list[OutputFile] = field(default_factory=list)
    rewritten: set[str] = field(default_factory=set)
    sri: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, algorithm) -> integrity value

    def integrity(self, target: str, algo: str) -> str | None:
        """The integrity value for a reference to target: added under --sri, updated when its bytes changed.

        An existing value keeps its author's algorithm; a new one uses sha384.
        """
        if (not algo and not self.cfg.sri) or (algo and target not in self.rewritten):
            return None
        algo = algo or "sha384"
        if (target, algo) not in self.sri:
            self.sri[target, algo] = integrity_value(self.assets[target].path, algo)
        return self.sri[target, algo]


def assemble(state: State, tick: Callable[[int], None], reuse: Reuse | None = None) -> None:
    """Name leaves from their bytes, then rewrite each strongly connected component in order, then copy the rest.

    With `reuse` (an incremental build), a component the change does not reach (none of its files changed, none
    points at a file whose name or integrity value moved) keeps the last build's output.
    """
    _name_leaves(state)
    moved = set(reuse.changed) if reuse else set()  # (a leaf's name comes from its bytes: it moves when they do)
    for component in state.plan.order:
        if reuse is None or moved.intersection(component) or any(
                r.target in moved for k in component for r in state.refs.get(k, ())):
            _process_component(state, component)
            if reuse:
                moved |= {k for k in component if reuse.moved(state, k)}
        else:
            for k in component:
                reuse.take(state, k)
        tick(len(component))
    _copy_rest(state, tick, reuse, moved)


def prior_assets(state: State) -> dict[str, str]:
    return {f.source: f.key for f in state.files if f.cls is FileClass.HASHED and f.source != f.key}


def _is_pattern_stable(state: State, key: str) -> bool:
    return matches(key, state.cfg.stable) is not None or matches(key, state.cfg.default_stable) is not None


def _carries_hash(state: State, key: str) -> bool:
    """Whether key's name already holds a content hash: a build tool's, or hashdeploy's own on a re-run over its
    output (whose hex digest may be all digits, which no default pattern takes for a hash)."""
    if key in state.plan.fingerprint_like:
        return True
    prior = state.prior.get(key)
    return (prior is not None and prior.get("class") == FileClass.HASHED.value and prior.get("source") != key
            and prior.get("sha256") == state.assets[key].sha256)


def _name_leaves(state: State) -> None:
    """Files without references of their own are named from their bytes before anything points at them."""
    for key in state.plan.renamable:
        if key in state.refs and state.refs[key]:
            continue
        if _carries_hash(state, key):
            continue
        state.names[key] = hashed_name(key, state.assets[key].sha256[: state.cfg.hash_length])
    # a leaf renamed by hash gets written by _copy_rest


def _sub_targets(refs: list[Ref]) -> set[str]:
    return {r.target for r in refs if r.target is not None and r.raw.kind is RefKind.SUB}


def _process_component(state: State, component: tuple[str, ...]) -> None:
    """Rewrite one strongly connected component; name its renamable members with one shared hash."""
    members = set(component)
    datas = {k: state.assets[k].path.read_bytes() for k in component}
    if any(k in state.plan.renamable for k in component):
        _name_component(state, component, members, datas)
    for k in component:
        edits = replacements(state.refs.get(k, []), state.names, state.integrity)
        final = apply_edits(datas[k], state.parsed[k], edits)
        if final != datas[k]:
            state.rewritten.add(k)
            if content_type(k).startswith(("text/css", "text/javascript")):
                for algo in ("sha256", "sha384", "sha512"):  # digests, not bytes: memory stays bounded
                    state.sri[k, algo] = integrity_value(final, algo)
        _emit(state, k, final, final == datas[k])


def _name_component(state: State, component: tuple[str, ...], members: set[str], datas: dict[str, bytes]) -> None:
    """Choose the hashed names of a component's renamable members (one shared hash for a cycle)."""
    outside = {k: [r for r in state.refs.get(k, []) if r.target not in members] for k in component}
    partial = {k: apply_edits(datas[k], state.parsed[k], replacements(outside[k], state.names)) for k in component}
    renamed = {
        k for k in component
        if k in state.plan.renamable and (not _carries_hash(state, k) or partial[k] != datas[k])
    }
    grew = True
    while grew:  # a fingerprinted member that points at a renamed member changes too: closure, not retries
        grew = False
        for k in component:
            if k in state.plan.renamable and k not in renamed and _sub_targets(state.refs.get(k, [])) & renamed:
                renamed.add(k)
                grew = True
    cyclic = len(component) > 1 or component[0] in _sub_targets(state.refs.get(component[0], []))
    if renamed and cyclic:
        h = hashlib.sha256()
        for k in sorted(renamed):
            h.update(k.encode() + b"\0" + len(partial[k]).to_bytes(8, "big") + partial[k])
        digest = h.hexdigest()[: state.cfg.hash_length]
        for k in renamed:
            state.names[k] = hashed_name(k, digest)
    elif renamed:
        (k,) = renamed
        state.names[k] = hashed_name(k, hashlib.sha256(partial[k]).hexdigest()[: state.cfg.hash_length])


def _emit(state: State, key: str, data: bytes | None, unchanged: bool) -> None:
    """Write one source file under its final name(s) and record it."""
    asset = state.assets[key]
    sha = asset.sha256 if unchanged or data is None else hashlib.sha256(data).hexdigest()
    size = asset.size if unchanged or data is None else len(data)
    ctype = content_type(key)
    plan = state.plan

    def put(out_key: str) -> None:
        if data is None or unchanged:
            state.sink.copy(out_key, asset.path, sha)
        else:
            state.sink.write(out_key, data, sha)

    def record(out_key: str, cls: FileClass, reason: str) -> None:
        # Re-running on our own output: keep what the first run knew (original source, class, reason).
        # A file whose build-tool hash went stale stays stable on a re-run, though its bytes no longer change.
        prior = state.prior.get(out_key)
        source = key
        forced = matches(key, state.cfg.stable) or matches(key, state.cfg.hashed)
        if prior is not None and prior.get("sha256") == sha and not forced and prior.get("class") in _CLASSES:
            cls, reason, source = FileClass(prior["class"]), str(prior.get("reason")), str(prior.get("source"))
        sri = None
        if state.cfg.sri and ctype.startswith(("text/css", "text/javascript")):
            sri = state.integrity(key, "sha384") if key in state.rewritten else integrity_value(asset.path)
        state.files.append(OutputFile(out_key, source, cls, sha, size, ctype, reason, sri))

    if key in state.names:
        new_key = state.names[key]
        put(new_key)
        record(new_key, FileClass.HASHED, plan.renamable[key])
        if key in plan.keep_copy:
            put(key)
            record(key, FileClass.STABLE, plan.keep_copy[key])
        return
    put(key)
    if key in plan.fingerprint_like and key not in plan.never_fingerprinted and unchanged and not _is_pattern_stable(state, key):
        record(key, FileClass.FINGERPRINTED, "its name already carries the build tool's content hash")
    elif key in plan.renamable:
        record(key, FileClass.STABLE, "its build-tool hash no longer matches rewritten bytes, and it cannot be renamed")
    else:
        reason = plan.stable.get(key, "kept at its URL")
        if key in plan.fingerprint_like and not unchanged:
            reason += "; its build-tool hash went stale when references were rewritten"
        record(key, FileClass.STABLE, reason)


def _copy_rest(state: State, tick: Callable[[int], None], reuse: Reuse | None, moved: set[str]) -> None:
    """Files outside every component: copied as they are, under their final name."""
    done = {k for c in state.plan.order for k in c}
    for key in sorted(state.assets):
        if key not in done:
            if reuse is not None and key not in moved:
                reuse.take(state, key)
            else:
                _emit(state, key, None, True)
            tick(1)
