"""Update builds in one long-lived process (a watch, a program deploying again and again): redo what a change reaches.

The last update build into a folder is kept in memory: its parses, resolved references, plan and, per source
file, its names, output files and integrity values. When the next build of the same folder finds files changed
but every changed file parsing to the references and mentions it had (an edited stylesheet, image or script, or
a page whose links stayed), the plan is the same; only the components the change reaches (a changed file, or one
pointing at a file whose name or bytes changed) are rewritten, leaves first as always, and every other file's
output is taken from the last build. The result is exactly what the full build would give; the tests compare both.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from hashdeploy.engine.freshness import Stamped, settings_digest
from hashdeploy.model import Asset, OutputFile, Parsed, Ref
from hashdeploy.settings import Settings

if TYPE_CHECKING:
    from hashdeploy.engine.classify import Plan
    from hashdeploy.engine.rename import State

_ALGOS = ("sha256", "sha384", "sha512")


@dataclasses.dataclass
class Reuse:
    """What the rewrite stage may take from the last build for the components a change does not reach."""

    changed: frozenset[str]  # source keys whose bytes changed
    names: dict[str, str]
    files: dict[str, list[OutputFile]]  # by source key
    rewritten: frozenset[str]
    sri: dict[tuple[str, str], str]

    def moved(self, state: State, key: str) -> bool:
        """Whether what a referrer's bytes depend on (the file's name, its integrity values) differs now."""
        return (state.names.get(key) != self.names.get(key) or (key in state.rewritten) != (key in self.rewritten)
                or any(state.sri.get((key, a)) != self.sri.get((key, a)) for a in _ALGOS))

    def take(self, state: State, key: str) -> None:
        """Record key's output as the last build made it."""
        if key in self.names:
            state.names[key] = self.names[key]
        state.files += self.files.get(key, ())
        if key in self.rewritten:
            state.rewritten.add(key)
        state.sri.update(((key, a), self.sri[key, a]) for a in _ALGOS if (key, a) in self.sri)


@dataclasses.dataclass
class Snapshot:
    """One update build, as the next one in this process may reuse it."""

    digest: str  # its input digest (the stamp's): valid while the folder holds what it wrote
    settings: str
    inputs: dict[str, str]  # key -> sha256
    parsed: dict[str, Parsed]
    refs: dict[str, list[Ref]]
    plan: Plan
    size_warnings: list[str]
    warnings: dict[str, list[str]]  # source -> its parse and resolve warnings
    reuse: Reuse


@dataclasses.dataclass
class Prepared:
    """The analysis of an incremental build: what the full build would compute, and what the rewrite may reuse."""

    parsed: dict[str, Parsed]
    refs: dict[str, list[Ref]]
    plan: Plan
    size_warnings: list[str]
    warnings: dict[str, list[str]]
    reuse: Reuse


_LAST: dict[str, Snapshot] = {}  # output folder -> the last update build into it in this process


def keep(target: Path, cfg: Settings, digest: str, assets: list[Asset], parsed: dict[str, Parsed],
         refs: dict[str, list[Ref]], plan: Plan, size_warnings: list[str], warnings: dict[str, list[str]],
         state: State) -> None:
    """Remember an update build into target for the next one."""
    files: dict[str, list[OutputFile]] = {}
    for f in state.files:
        files.setdefault(f.source, []).append(f)
    _LAST.clear()  # one folder at a time: a process rarely updates several, and each snapshot holds a site
    _LAST[str(target)] = Snapshot(digest, settings_digest(cfg), {a.key: a.sha256 for a in assets}, parsed, refs,
                                  plan, size_warnings, warnings,
                                  Reuse(frozenset(), dict(state.names), files, frozenset(state.rewritten),
                                        dict(state.sri)))


def forget(target: Path) -> None:
    """Drop target's snapshot (its folder is about to change)."""
    _LAST.pop(str(target), None)


def prepare(cfg: Settings, target: Path, assets: list[Asset], stamped: Stamped) -> Prepared | None:
    """The analysis of an update build from the snapshot of the last one; None when the full one is needed."""
    snap = _LAST.get(str(target))
    if snap is None or snap.digest != stamped.digest or snap.settings != settings_digest(cfg):
        return None
    if len(snap.inputs) != len(assets) or any(a.key not in snap.inputs for a in assets):
        return None  # a file added or removed
    changed = [a for a in assets if snap.inputs[a.key] != a.sha256]
    if not changed:
        return None
    from hashdeploy.engine.parse import parse_all, resolve_refs

    new, size_warnings = parse_all(changed, cfg, lambda n: None)
    if size_warnings or set(new) != {a.key for a in changed if a.key in snap.parsed}:
        return None
    from hashdeploy.engine.patch import cites_a_moved_line, shape

    reasons = [f.reason for f in stamped.result.files]
    if any(shape(snap.parsed[key]) != shape(p) for key, p in new.items()):
        return None  # a reference or mention came or went: classes and names may change
    replan = any(cites_a_moved_line(key, snap.parsed[key], p, reasons) for key, p in new.items())
    warnings = dict(snap.warnings)
    for key in new:
        warnings.pop(key, None)
    fresh, _ = resolve_refs(new, set(snap.inputs), cfg, warnings)
    parsed = snap.parsed | new
    refs = snap.refs | fresh
    plan = snap.plan
    if replan:
        from hashdeploy.engine import plan_of

        plan = plan_of(snap.inputs, parsed, refs, cfg)
    reuse = dataclasses.replace(snap.reuse, changed=frozenset(a.key for a in changed))
    return Prepared(parsed, refs, plan, snap.size_warnings, warnings, reuse)
