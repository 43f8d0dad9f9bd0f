"""hashdeploy's records in the bucket: one JSON record per deploy, and `current.json`, a copy of the live one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

RECORD_VERSION = 1
RESERVED = ".hashdeploy/"
CURRENT = "current.json"


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
        "objects": {
            k: {"sha256": o.sha256, "size": o.size, "content_type": o.content_type,
                "cache_control": o.cache_control, "class": o.cls}
            for k, o in sorted(record.objects.items())
        },
    } | record.extra
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def from_bytes(data: bytes, where: str) -> DeployRecord:
    """Parse a record; a damaged one is an error naming where it is."""
    from .errors import RemoteStateError

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
            invalidation_id=doc.get("invalidation_id"), base=doc.get("base"),
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise RemoteStateError(
            f"{where}: the deploy record is damaged ({exc}); restore it from .hashdeploy/deploys/ or delete it "
            "to redeploy everything"
        ) from None
