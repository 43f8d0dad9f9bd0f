"""hashdeploy's records in the bucket: one JSON record per deploy, and `current.json`, a copy of the live one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

RECORD_VERSION = 1
RESERVED = ".hashdeploy/"
CURRENT = "current.json"
HISTORY = "history.json"
LOCK = "lock.json"
STABLE_STORE = RESERVED + "stable/"  # copies of stable bodies by sha256, for rollback


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """What the live deploy says an object holds."""

    sha256: str
    size: int
    content_type: str
    cache_control: str
    cls: str


@dataclass(frozen=True, slots=True)
class DeployRecord:
    """One deploy: its objects (site keys, relative to the prefix) and the invalidation still owed."""

    id: str
    created: str
    objects: dict[str, RemoteObject]
    pending_invalidation: tuple[str, ...] = ()
    invalidation_id: str | None = None
    base: str | None = None  # the deploy this one replaced
    kind: str = "deploy"  # or "rollback"
    rollback_of: str | None = None
    uploaded: int = 0
    bytes_uploaded: int = 0
    invalidated: tuple[str, ...] = ()  # the paths sent for this deploy
    dirty: tuple[str, ...] = ()  # keys an unfinished run may have overwritten: their bytes are unknown
    # keys owed to one distribution only (its invalidation failed while others' succeeded), beyond the common debt
    pending_by_distribution: dict[str, tuple[str, ...]] = field(default_factory=dict)
    invalidation_ids: dict[str, str] = field(default_factory=dict)  # distribution -> the invalidation sent
    extra: dict[str, Any] = field(default_factory=dict)


def content_hash(objects: dict[str, RemoteObject]) -> str:
    """A digest of what a deploy serves: keys, bytes and headers."""
    h = hashlib.sha256()
    for key in sorted(objects):
        o = objects[key]
        h.update(f"{key}\0{o.sha256}\0{o.content_type}\0{o.cache_control}\n".encode())
    return h.hexdigest()


def to_bytes(record: DeployRecord) -> bytes:
    """Serialise with sorted keys."""
    doc = {
        "version": RECORD_VERSION,
        "id": record.id,
        "created": record.created,
        "base": record.base,
        "pending_invalidation": list(record.pending_invalidation),
        "invalidation_id": record.invalidation_id,
        "kind": record.kind,
        "rollback_of": record.rollback_of,
        "uploaded": record.uploaded,
        "bytes_uploaded": record.bytes_uploaded,
        "invalidated": list(record.invalidated),
        "dirty": list(record.dirty),
        "pending_by_distribution": {d: list(keys) for d, keys in sorted(record.pending_by_distribution.items())},
        "invalidation_ids": dict(sorted(record.invalidation_ids.items())),
        "objects": {
            k: {"sha256": o.sha256, "size": o.size, "content_type": o.content_type,
                "cache_control": o.cache_control, "class": o.cls}
            for k, o in sorted(record.objects.items())
        },
    } | record.extra
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def from_bytes(data: bytes, where: str) -> DeployRecord:
    """Parse a record; a damaged one is an error naming where it is."""
    from hashdeploy.errors import RemoteStateError

    try:
        doc = json.loads(data.decode("utf-8"))
        if doc.get("version") != RECORD_VERSION:
            raise ValueError(f"version {doc.get('version')!r}, expected {RECORD_VERSION}")
        objects = {
            k: RemoteObject(v["sha256"], int(v["size"]), v["content_type"], v["cache_control"], v["class"])
            for k, v in doc["objects"].items()
        }
        return DeployRecord(
            id=str(doc["id"]), created=str(doc["created"]), objects=objects,
            pending_invalidation=tuple(doc.get("pending_invalidation") or ()),
            invalidation_id=doc.get("invalidation_id"), base=doc.get("base"), kind=str(doc.get("kind", "deploy")),
            rollback_of=doc.get("rollback_of"), uploaded=int(doc.get("uploaded", 0)),
            bytes_uploaded=int(doc.get("bytes_uploaded", 0)), invalidated=tuple(doc.get("invalidated") or ()),
            dirty=tuple(doc.get("dirty") or ()),
            pending_by_distribution={str(d): tuple(str(k) for k in keys)
                                     for d, keys in (doc.get("pending_by_distribution") or {}).items()},
            invalidation_ids={str(d): str(i) for d, i in (doc.get("invalidation_ids") or {}).items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise RemoteStateError(
            f"{where}: the deploy record is damaged ({exc}); restore it from .hashdeploy/deploys/ or delete it "
            "to redeploy everything"
        ) from None


def history_entry(record: DeployRecord) -> dict[str, Any]:
    """The line a deploy adds to history.json."""
    return {"id": record.id, "created": record.created, "kind": record.kind, "base": record.base,
            "rollback_of": record.rollback_of, "uploaded": record.uploaded, "bytes_uploaded": record.bytes_uploaded,
            "invalidated": len(record.invalidated), "objects": len(record.objects)}


def history_from_bytes(data: bytes | None, where: str) -> list[dict[str, Any]]:
    """Parse history.json (oldest first); a missing one is an empty history."""
    from hashdeploy.errors import RemoteStateError

    if data is None:
        return []
    try:
        doc = json.loads(data.decode("utf-8"))
        entries = doc["deploys"]
        if doc.get("version") != RECORD_VERSION or not isinstance(entries, list):
            raise ValueError("unexpected layout")
        return [dict(e) for e in entries]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise RemoteStateError(f"{where}: the deploy history is damaged ({exc}); fix or delete it") from None


def history_to_bytes(entries: list[dict[str, Any]]) -> bytes:
    """Serialise history.json."""
    return (json.dumps({"version": RECORD_VERSION, "deploys": entries}, indent=1, sort_keys=True) + "\n").encode()
