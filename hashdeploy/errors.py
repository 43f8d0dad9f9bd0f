"""The exceptions hashdeploy raises for expected failures, and the one funnel that turns a failure into a line."""

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


class RollbackError(HashdeployError):
    """The requested deploy cannot be put back live."""


class CheckFailed(HashdeployError):
    """--check-url found URLs the CDN does not serve as deployed; the deploy itself is committed."""


class PruneAborted(HashdeployError):
    """A prune plan crossed a safety limit; nothing was deleted."""


class PruneError(HashdeployError):
    """Some deletions failed."""


# Failures from the AWS SDK stack that escaped a backend's translation are still expected (a network fault,
# a refused request): recognised by module, so this module never imports botocore.
_REMOTE_MODULES = ("botocore", "boto3", "s3transfer", "urllib3")


def one_line(exc: BaseException) -> tuple[str, int] | None:
    """`ClassName: message` and the exit code for an expected failure; None for a bug (let it raise)."""
    if isinstance(exc, HashdeployError):
        return f"{type(exc).__name__}: {exc}", exc.exit_code
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"{type(exc).__name__}:{where} {exc.strerror or exc}", 1
    if type(exc).__module__.startswith(_REMOTE_MODULES):
        return f"{type(exc).__name__}: {exc}", 1
    return None
