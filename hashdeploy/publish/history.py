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


def history(backend: Backend) -> list[dict[str, Any]]:
    """Deploys newest first, each with `live` true for the one being served."""
    live, _ = read_live(backend)
    return [dict(e, live=live is not None and e.get("id") == live.id) for e in reversed(read_history(backend))]


def record_of(backend: Backend, deploy_id: str) -> DeployRecord | None:
    data = backend.read_record(f"deploys/{deploy_id}.json")
    return None if data is None else from_bytes(data, f"{backend.name}.hashdeploy/deploys/{deploy_id}.json")


