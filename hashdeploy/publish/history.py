"""The deploy history of a target: every recorded deploy, oldest first, and which one is live."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hashdeploy.backends.base import Backend
from hashdeploy.publish.records import HISTORY, DeployRecord, from_bytes, history_entry, history_from_bytes
from hashdeploy.publish.run import read_live

Clock = Callable[[], datetime]


def now() -> datetime:
    return datetime.now(UTC)


def read_history(backend: Backend) -> list[dict[str, Any]]:
    """Deploy entries, oldest first (the live deploy included even if the index missed it)."""
    entries = history_from_bytes(backend.read_record(HISTORY), f"{backend.name}.hashdeploy/{HISTORY}")
    live, _ = read_live(backend)
    if live is not None and all(e.get("id") != live.id for e in entries):
        entries.append(history_entry(live))
    return entries


def content_of(entries: list[dict[str, Any]], deploy_id: str) -> str:
    """The deploy whose content a record serves: itself, or for a rollback the deploy it restored (transitively)."""
    by_id = {e.get("id"): e for e in entries}
    seen = {deploy_id}
    while (e := by_id.get(deploy_id)) is not None and e.get("kind") == "rollback" and e.get("rollback_of"):
        deploy_id = str(e["rollback_of"])
        if deploy_id in seen:
            break
        seen.add(deploy_id)
    return deploy_id


def previous_version(entries: list[dict[str, Any]], live_id: str) -> tuple[str, str | None]:
    """(the deploy whose content is live, the deploy a plain rollback restores or None when there is none).

    Rollbacks are skipped: what is live is the content of one real deploy, and a plain rollback goes to the version
    that deploy replaced (its `base`, itself resolved through rollbacks), so rolling back twice goes back two
    versions and a deploy made after a rollback goes back to what was live before it, never to the deploy that
    was rolled back. Without a recorded base, the newest real deploy older than the live content is taken.
    """
    origin = content_of(entries, live_id)
    ids = [e.get("id") for e in entries]
    here = ids.index(origin) if origin in ids else len(ids)
    base = entries[here].get("base") if here < len(ids) else None
    if base in ids[:here]:
        target = content_of(entries, str(base))
        if target != origin and target in ids:
            return origin, target
    older = [e for e in entries[:here] if e.get("kind", "deploy") == "deploy"]
    return origin, str(older[-1]["id"]) if older else None


def history(backend: Backend) -> list[dict[str, Any]]:
    """Deploys newest first, each with `live` true for the one being served and `rollback_target` true for the
    one a plain rollback restores."""
    live, _ = read_live(backend)
    entries = read_history(backend)
    target = previous_version(entries, live.id)[1] if live is not None else None
    return [dict(e, live=live is not None and e.get("id") == live.id, rollback_target=e.get("id") == target)
            for e in reversed(entries)]


def record_of(backend: Backend, deploy_id: str) -> DeployRecord | None:
    data = backend.read_record(f"deploys/{deploy_id}.json")
    return None if data is None else from_bytes(data, f"{backend.name}.hashdeploy/deploys/{deploy_id}.json")


