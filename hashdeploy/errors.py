"""The exceptions hashdeploy raises for expected failures; the CLI prints them as one line."""

from __future__ import annotations


class HashdeployError(Exception):
    """Base class: an expected failure with a message that names the file, the problem and the fix."""

    exit_code = 1


class ConfigError(HashdeployError):
    """One or more settings are invalid; the message lists every one."""

    exit_code = 2


class SiteError(HashdeployError):
    """The site directory is missing, empty, or unsafe to process."""


class OutputError(HashdeployError):
    """The output directory cannot be written safely."""


class UnsafePathError(HashdeployError):
    """A path would leave the site directory (symlink or reference)."""


class MissingReferenceError(HashdeployError):
    """A subresource reference points at a file that is not in the site (raised under --strict)."""


class StrictModeError(HashdeployError):
    """Warnings were raised and --strict turns them into a failure."""


class RemoteStateError(HashdeployError):
    """hashdeploy's records in the target are unreadable."""


class RemoteError(HashdeployError):
    """The storage or CDN refused a request or could not be reached; the message names bucket/key and the fix."""


class InvalidationDeferred(RemoteError):
    """The CDN kept refusing the invalidation (too many in progress, throttled): the next run sends it."""


class ConflictError(HashdeployError):
    """A conditional write lost: another run holds the lock or moved the live deploy meanwhile."""


class LockedError(ConflictError):
    """Another deploy, rollback or prune holds the lock."""


class DeployInputError(HashdeployError):
    """A key or header value cannot be sent (too long, control characters, CR/LF)."""
