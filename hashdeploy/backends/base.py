"""The Backend protocol that deploys, rollbacks and prunes run against, and the Upload it takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Upload:
    """One object to write: site key, local file and headers."""

    key: str
    path: Path
    content_type: str
    cache_control: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Distribution:
    """A CDN distribution in front of the target (id None: no CDN), and the viewer path of the prefix through it."""

    id: str | None
    served_prefix: str


Tick = Callable[[int], None]


class Backend(Protocol):
    """Where a deploy goes. Keys are site keys; the backend adds its own prefix."""

    name: str  # for messages: "s3://bucket/prefix" or "file:///srv/www"

    def read_record(self, name: str) -> bytes | None:
        """Read a record under the reserved prefix, or None if it does not exist."""
        ...

    def read_record_tag(self, name: str) -> tuple[bytes, str] | None:
        """Read a record and the tag (ETag) a conditional write can name."""
        ...

    def write_record(self, name: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str:
        """Write a record and return its new tag; with if_match/if_absent, raise ConflictError when the
        condition does not hold."""
        ...

    def delete_record(self, name: str) -> None:
        """Delete a record (no error if it is gone)."""
        ...

    def list_objects(self) -> dict[str, float]:
        """Every key outside the records (stable copies under .hashdeploy/stable/ included) -> last modified."""
        ...

    def copy_objects(self, pairs: Sequence[tuple[str, Upload]], tick: Tick) -> None:
        """Server-side copies: (source key, destination with its headers)."""
        ...

    def delete_objects(self, keys: Sequence[str]) -> list[tuple[str, str]]:
        """Delete keys in batches; return (key, error) for every key that could not be deleted."""
        ...

    def upload(self, items: Sequence[Upload], tick: Tick) -> None:
        """Write objects concurrently; raise on the first failure once in-flight work has ended."""
        ...

    def set_headers(self, items: Sequence[Upload], tick: Tick) -> None:
        """Change the headers of objects that already hold the right bytes."""
        ...

    def invalidate(self, paths: Sequence[str], caller_reference: str, distribution_id: str | None = None) -> str | None:
        """Ask the CDN (one distribution of it) to drop cached copies; return an id, or None when there is no CDN."""
        ...

    def wait_invalidation(self, invalidation_id: str, timeout: float, distribution_id: str | None = None) -> bool:
        """Poll until the invalidation completes; False at the deadline."""
        ...
