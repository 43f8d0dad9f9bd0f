"""Deploy targets: the Backend protocol, the local directory (file://) and S3 + CloudFront; open_target() picks one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hashdeploy.backends.base import Backend
from hashdeploy.errors import ConfigError
from hashdeploy.settings import Settings, deploy_target


@dataclass(frozen=True, slots=True)
class Target:
    """An opened deploy target: its backend, the viewer path of its prefix, and whether a CDN sits in front."""

    backend: Backend
    served_prefix: str
    cdn: bool


def open_target(settings: Settings, command: str = "deploy") -> Target:
    """The backend for the configured target (boto3 is imported only for an s3:// one)."""
    target = deploy_target(settings)
    if target is None:
        raise ConfigError(f"Config value 'target': `hashdeploy {command}` needs --bucket or --target")
    kind, where, prefix = target
    if kind == "file":
        from hashdeploy.backends.local import LocalBackend

        return Target(LocalBackend(Path(where)), "/", False)
    from hashdeploy.backends.s3 import S3CloudFrontBackend, make_clients

    s = settings
    s3, cf = make_clients(profile=s.profile, region=s.region, endpoint_url=s.endpoint_url, workers=s.workers,
                          max_attempts=s.max_attempts, with_cloudfront=bool(s.distribution_id))
    backend = S3CloudFrontBackend(s3, where, prefix, cloudfront=cf, distribution_id=next(iter(s.distribution_id), None),
                                  workers=s.workers, acl=s.acl, invalidation_patience=s.invalidation_patience)
    backend.check()
    return Target(backend, backend.served_prefix(s.origin_path), bool(s.distribution_id))
