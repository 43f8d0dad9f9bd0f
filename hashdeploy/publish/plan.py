"""Compare the local result with the live deploy record: an action and a reason for every object (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from hashdeploy.errors import DeployInputError
from hashdeploy.model import FileClass, OutputFile
from hashdeploy.publish.records import DeployRecord, RemoteObject

# Upload phases, in order: nothing is referenced before it exists.
PHASE_ASSETS, PHASE_STABLE, PHASE_HTML = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Action:
    """What to do with one object: 'upload', 'headers' (metadata copy, no re-upload) or 'skip'."""

    key: str
    action: str
    reason: str
    phase: int
    file: OutputFile
    cache_control: str


@dataclass(frozen=True, slots=True)
class DeployPlan:
    """Every local object's action, the stable keys that left the site, and the keys whose URLs changed."""

    actions: tuple[Action, ...]
    removed: tuple[str, ...]
    changed_stable: tuple[str, ...]
    objects: dict[str, RemoteObject]

    def count(self, action: str) -> int:
        """How many objects get this action."""
        return sum(1 for a in self.actions if a.action == action)


def phase_of(f: OutputFile) -> int:
    """Hashed and fingerprinted first, then stable files, HTML last."""
    if f.cls is not FileClass.STABLE:
        return PHASE_ASSETS
    return PHASE_HTML if f.content_type.startswith(("text/html", "application/xhtml")) else PHASE_STABLE


def check_immutable(f: OutputFile, old: RemoteObject | None, live: DeployRecord | None) -> None:
    """Refuse other bytes under a name the live deploy serves as immutable (hashed or fingerprinted): browsers and
    CDNs keep the old bytes for a year, so the page and what it loads would come from different builds."""
    if live is None or old is None or old.cls == FileClass.STABLE.value or old.sha256 == f.sha256:
        return
    raise DeployInputError(
        f"{f.key}: its bytes differ from the ones deploy {live.id} serves under this name as immutable "
        f"(sha256 {f.sha256[:12]}…, live {old.sha256[:12]}…), so caches would keep the old ones; "
        f"rebuild so that the build tool gives it a new name, or deploy with --hash '/{f.source}' to let hashdeploy "
        "rename it; nothing was uploaded")


def plan_deploy(files: tuple[OutputFile, ...], cache_controls: dict[str, str], live: DeployRecord | None,
                missing: frozenset[str] = frozenset()) -> DeployPlan:
    """Decide each object's action against the live record; `missing` holds keys found absent by --verify.

    Raises DeployInputError, before anything is written, when a name the live deploy serves as immutable would get
    other bytes.
    """
    remote = live.objects if live else {}
    for f in files:
        check_immutable(f, remote.get(f.key), live)
    dirty = set(live.dirty) if live else set()
    actions = []
    changed_stable = []
    objects: dict[str, RemoteObject] = {}
    for f in files:
        cc = cache_controls[f.key]
        objects[f.key] = RemoteObject(f.sha256, f.size, f.content_type, cc, f.cls.value)
        old = remote.get(f.key)
        if f.key in missing:
            act, why = "upload", "missing: the record lists it but the bucket lacks it"
        elif f.key in dirty:
            act, why = "upload", "changed: an interrupted run may have replaced it"
        elif old is None:
            act, why = "upload", "new"
        elif f.cls is not FileClass.STABLE and old.sha256 == f.sha256:
            act, why = ("skip", "unchanged: the name is the content") if (old.cache_control, old.content_type) == (
                cc, f.content_type) else ("headers", "headers changed")
        elif old.sha256 != f.sha256:
            act, why = "upload", "changed"
        elif (old.cache_control, old.content_type) != (cc, f.content_type):
            act, why = "headers", "headers changed"
        else:
            act, why = "skip", "unchanged"
        if f.cls is FileClass.STABLE and (old is not None or f.key in dirty) and act != "skip":
            changed_stable.append(f.key)
        actions.append(Action(f.key, act, why, phase_of(f), f, cc))
    local = {f.key for f in files}
    removed = tuple(sorted(k for k, o in remote.items() if k not in local))
    changed_stable += [k for k in removed if remote[k].cls == FileClass.STABLE.value]
    changed_stable += [k for k in dirty if k not in local and k not in remote]  # written by a killed run only
    return DeployPlan(tuple(actions), removed, tuple(sorted(changed_stable)), objects)
