"""Frozen dataclasses passed between the pipeline stages."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class FileClass(enum.StrEnum):
    """How a file is named and cached once processed."""

    HASHED = "hashed"  # renamed name.<hash>.ext by hashdeploy
    FINGERPRINTED = "fingerprinted"  # the build tool already put a content hash in the name
    STABLE = "stable"  # its URL must not change


class RefKind(enum.StrEnum):
    """Whether a reference loads a subresource (rewritable) or navigates to a URL (kept)."""

    SUB = "subresource"
    NAV = "navigation"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the site: `key` is its POSIX path relative to the site root."""

    key: str
    path: Path
    size: int
    sha256: str
    mtime_ns: int = 0
    # identity and change time: with size and mtime, what tells a file's bytes are still those hashed before
    ino: int = 0
    dev: int = 0
    ctime_ns: int = 0


@dataclass(frozen=True, slots=True)
class RawRef:
    """A URL found in a file's decoded text; `start:end` is the span of `raw` in that text."""

    start: int
    end: int
    raw: str
    kind: RefKind
    context: str  # e.g. "img[src]", "css url()", "js import"
    line: int
    # where this tag's integrity="" value is (start, end, its algorithm) or would be inserted (pos, pos, "")
    sri: tuple[int, int, str] | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What the parser found in one file: references, unrewritable mentions of file names, encoding."""

    encoding: str | None
    refs: tuple[RawRef, ...] = ()
    mentions: tuple[str, ...] = ()  # path-like tokens seen where hashdeploy cannot rewrite them
    base_href: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference resolved against the site: `target` is the key it points at, or None."""

    source: str
    raw: RawRef
    target: str | None
    note: str = ""  # why it was not resolved (external, outside the site, missing…)


@dataclass(frozen=True, slots=True)
class Decision:
    """The class of one source file and why it got it."""

    key: str
    cls: FileClass
    reason: str
    new_key: str | None = None  # set when the file is hashed
    keep_stable_copy: bool = False  # also kept under its own name (linked by navigation)


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file of the processed site."""

    key: str
    source: str
    cls: FileClass
    sha256: str
    size: int
    content_type: str
    reason: str
    integrity: str | None = None


@dataclass(frozen=True, slots=True)
class BuildResult:
    """Everything the offline build produced: the files written, the renames, and the warnings."""

    files: tuple[OutputFile, ...]
    assets: dict[str, str] = field(default_factory=dict)  # source key -> hashed key
    rewritten: tuple[str, ...] = ()  # source keys whose bytes changed
    warnings: tuple[str, ...] = ()

    def summary_line(self) -> str:
        """How many files of each class, and how many were rewritten."""
        n = {cls: sum(1 for f in self.files if f.cls is cls) for cls in FileClass}
        return (f"{len(self.files)} files: {n[FileClass.HASHED]} hashed, {n[FileClass.FINGERPRINTED]} fingerprinted, "
                f"{n[FileClass.STABLE]} stable; {len(self.rewritten)} rewritten")


class Progress(Protocol):
    """Reports long work; the CLI shows a bar on a terminal."""

    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...


class Quiet:
    """A Progress that shows nothing."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass
