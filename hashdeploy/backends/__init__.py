"""Deploy targets: the Backend protocol, the local directory (file://) and S3 + CloudFront; open_target() picks one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hashdeploy.backends.base import Backend, Distribution
from hashdeploy.errors import ConfigError
from hashdeploy.settings import Settings, deploy_target


@dataclass(frozen=True, slots=True)
class Target:
    """An opened deploy target: its backend, the viewer path of its prefix (through the first distribution), whether
    a CDN sits in front, and every distribution to invalidate (each with its own origin path)."""

    backend: Backend
    served_prefix: str
    distributions: tuple[Distribution, ...] = ()

    @property
    def cdn(self) -> bool:
        """Whether a CDN sits in front (stable files may then be cached a day by it)."""
        return bool(self.distributions)


def open_target(settings: Settings, command: str = "deploy") -> Target:
    """The backend for the configured target (boto3 is imported only for an s3:// one)."""
    target = deploy_target(settings)
    if target is None:
        raise ConfigError(f"Config value 'target': `hashdeploy {command}` needs --bucket or --target")
    kind, where, prefix = target
    if kind == "file":
        from hashdeploy.backends.local import LocalBackend

        return Target(LocalBackend(Path(where)), "/")
    from hashdeploy.backends.s3 import S3CloudFrontBackend, make_clients

    s = settings
    s3, cf = make_clients(profile=s.profile, region=s.region, endpoint_url=s.endpoint_url, workers=s.workers,
                          max_attempts=s.max_attempts, with_cloudfront=bool(s.distribution_id))
    backend = S3CloudFrontBackend(s3, where, prefix, cloudfront=cf, distribution_ids=s.distribution_id,
                                  workers=s.workers, acl=s.acl, invalidation_patience=s.invalidation_patience)
    backend.check()
    # each distribution's origin path is read from it (an unknown distribution stops the run before any write)
    dists = tuple(Distribution(d, backend.served_prefix(s.origin_path, d)) for d in s.distribution_id)
    return Target(backend, dists[0].served_prefix if dists else backend.served_prefix(s.origin_path), dists)
