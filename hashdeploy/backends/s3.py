"""S3 + CloudFront backend: the only module that imports boto3/botocore."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from hashdeploy.backends.base import Tick, Upload
from hashdeploy.backends.parallel import POLL, run_parallel
from hashdeploy.errors import ConflictError, InvalidationDeferred, RemoteError
from hashdeploy.publish import interrupt
from hashdeploy.publish.records import RESERVED, STABLE_STORE

MULTIPART_THRESHOLD = 16 * 1024 * 1024
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequests", "RequestLimitExceeded"}


def describe(exc: BaseException, where: str, action: str) -> str:
    """One line naming the bucket/key or distribution, the problem and the fix."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ("no usable AWS credentials found; set AWS_PROFILE (or --profile), run `aws sso login`, or export "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, BotoConnectionError):
        return f"{where}: cannot reach the endpoint ({type(exc).__name__}); check the network or --endpoint-url, then rerun"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or ("HeadBucket" in action and code in ("404", "NotFound")):
            return f"{where}: the bucket does not exist; check --bucket, or create it first"
        if code in ("NoSuchDistribution",):
            return f"{where}: no such CloudFront distribution; check --distribution-id"
        if code in ("AccessDenied", "403", "Forbidden") or status == 403:
            return f"{where}: access denied to {action}; grant it to the deploying identity (README: IAM policy)"
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301", "IllegalLocationConstraintException"):
            return f"{where}: the bucket is in another region; set --region or AWS_REGION to the bucket's region"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                    "InvalidClientTokenId", "ExpiredTokenException"):
            return f"{where}: the credentials were rejected ({code}); refresh them (e.g. `aws sso login`) and rerun"
        if code == "SlowDown" or (isinstance(status, int) and status >= 500):
            return f"{where}: the service kept failing ({code or status}) after retries; rerun later, the live site is consistent"
        return f"{where}: {action} failed ({code or status}: {err.get('Message', '')}); rerun, or use --debug"
    return f"{where}: {action} failed ({type(exc).__name__}: {exc}); rerun, or use --debug"


@contextmanager
def translated(where: str, action: str) -> Iterator[None]:
    """Turn botocore failures into a one-line RemoteError."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise RemoteError(describe(exc, where, action)) from exc


def make_clients(*, profile: str | None, region: str | None, endpoint_url: str | None, workers: int,
                 max_attempts: int, with_cloudfront: bool) -> tuple[Any, Any | None]:
    """Create clients through boto3's standard credential chain, with standard-mode bounded retries."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise RemoteError(describe(exc, f"profile {profile!r}", "loading the profile")) from exc
    cfg = BotoConfig(retries={"mode": "standard", "total_max_attempts": max_attempts},
                     max_pool_connections=max(10, workers + 4), connect_timeout=10, read_timeout=60)
    s3 = session.client("s3", endpoint_url=endpoint_url, config=cfg)
    cf = session.client("cloudfront", config=cfg) if with_cloudfront else None
    return s3, cf


class S3CloudFrontBackend:
    """Deploy target in S3, optionally behind a CloudFront distribution. Takes ready-made clients."""

    def __init__(self, s3: Any, bucket: str, prefix: str = "", *, cloudfront: Any = None,
                 distribution_ids: Sequence[str] = (), workers: int = 16, acl: str | None = None,
                 invalidation_patience: float = 60.0, sleep: Callable[[float], object] = interrupt.wait) -> None:
        self.s3, self.cf, self.bucket, self.prefix = s3, cloudfront, bucket, prefix
        self.distribution_ids, self.workers, self.acl = tuple(distribution_ids), workers, acl
        self.patience, self.sleep = invalidation_patience, sleep
        self.name = f"s3://{bucket}/{prefix}"

    def _where(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def check(self) -> None:
        """Fail early, with a clear message, if the bucket is missing or unreachable."""
        with translated(self._where(), "s3:ListBucket (HeadBucket)"):
            self.s3.head_bucket(Bucket=self.bucket)

    def read_record(self, name: str) -> bytes | None:
        """GET a record; None when it does not exist yet."""
        found = self.read_record_tag(name)
        return None if found is None else found[0]

    def read_record_tag(self, name: str) -> tuple[bytes, str] | None:
        """GET a record with its ETag."""
        key = self.prefix + RESERVED + name
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key)
            data: bytes = resp["Body"].read()
            return data, str(resp.get("ETag", ""))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise RemoteError(describe(exc, self._where(RESERVED + name), "s3:GetObject")) from exc
        except BotoCoreError as exc:
            raise RemoteError(describe(exc, self._where(RESERVED + name), "s3:GetObject")) from exc

    def write_record(self, name: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str:
        """PUT a record (never cached), conditionally with If-Match / If-None-Match: *."""
        cond: dict[str, str] = {}
        if if_match is not None:
            cond["IfMatch"] = if_match
        if if_absent:
            cond["IfNoneMatch"] = "*"
        try:
            resp = self.s3.put_object(Bucket=self.bucket, Key=self.prefix + RESERVED + name, Body=data,
                                      ContentType="application/json", CacheControl="no-store", **cond, **self._acl())
            return str(resp.get("ETag", ""))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            gone = if_match is not None and code in ("NoSuchKey", "404")  # If-Match on a record deleted meanwhile
            if gone or code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise ConflictError(f"{self._where(RESERVED + name)}: changed by another run since it was read "
                                    f"({code}); rerun") from exc
            raise RemoteError(describe(exc, self._where(RESERVED + name), "s3:PutObject")) from exc
        except BotoCoreError as exc:
            raise RemoteError(describe(exc, self._where(RESERVED + name), "s3:PutObject")) from exc

    def delete_record(self, name: str) -> None:
        """DELETE a record."""
        with translated(self._where(RESERVED + name), "s3:DeleteObject"):
            self.s3.delete_object(Bucket=self.bucket, Key=self.prefix + RESERVED + name)

    def list_objects(self) -> dict[str, float]:
        """LIST the prefix: every key but the records (stable copies included) -> LastModified."""
        out: dict[str, float] = {}
        with translated(self._where(), "s3:ListBucket"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", ()):
                    key = obj["Key"][len(self.prefix):]
                    if key.startswith(RESERVED) and not key.startswith(STABLE_STORE):
                        continue
                    out[key] = obj["LastModified"].timestamp()
        return out

    def copy_objects(self, pairs: Sequence[tuple[str, Upload]], tick: Tick) -> None:
        """Server-side copies with the destination's headers (no bytes go through this machine)."""
        def one(pair: tuple[str, Upload]) -> None:
            src, dest = pair
            with translated(self._where(dest.key), "s3:PutObject (copy)"):
                self.s3.copy_object(Bucket=self.bucket, Key=self.prefix + dest.key,
                                    CopySource={"Bucket": self.bucket, "Key": self.prefix + src},
                                    MetadataDirective="REPLACE", **self._extra(dest))

        run_parallel(one, pairs, self.workers, tick)

    def delete_objects(self, keys: Sequence[str]) -> list[tuple[str, str]]:
        """DeleteObjects in batches of 1,000, checking every per-key error in each response."""
        errors: list[tuple[str, str]] = []
        for i in range(0, len(keys), 1000):
            interrupt.checkpoint()
            batch = keys[i : i + 1000]
            with translated(self._where(), "s3:DeleteObject (DeleteObjects)"):
                resp = self.s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": self.prefix + k} for k in batch], "Quiet": True})
            for err in resp.get("Errors", []):
                errors.append((str(err.get("Key", ""))[len(self.prefix):], f"{err.get('Code')}: {err.get('Message')}"))
        return errors

    def _acl(self) -> dict[str, str]:
        return {"ACL": self.acl} if self.acl else {}

    def _extra(self, item: Upload) -> dict[str, Any]:
        return {"ContentType": item.content_type, "CacheControl": item.cache_control,
                "Metadata": {"sha256": item.sha256}, **self._acl()}

    def upload(self, items: Sequence[Upload], tick: Tick) -> None:
        """Upload through s3transfer (multipart above 16 MiB), `workers` at a time; a stop cancels those not sent."""
        if not items:
            return
        config = TransferConfig(max_concurrency=self.workers, multipart_threshold=MULTIPART_THRESHOLD,
                                multipart_chunksize=MULTIPART_THRESHOLD)
        manager = create_transfer_manager(self.s3, config)
        failure: tuple[BaseException, Upload] | None = None
        futures = []
        try:
            for i in items:
                interrupt.checkpoint()
                futures.append((manager.upload(str(i.path), self.bucket, self.prefix + i.key,
                                               extra_args=self._extra(i)), i))
            for future, item in futures:
                while not future.done():
                    interrupt.checkpoint()
                    interrupt.wait(POLL / 4)
                try:
                    future.result()
                    tick(1)
                except (ClientError, BotoCoreError) as exc:
                    failure = (exc, item)
                    break
        finally:
            if failure is not None or sys.exc_info()[0] is not None:
                # cancel each future: TransferManager.shutdown(cancel=True) passes its flag as the message
                for future, _item in futures:
                    future.cancel()
            manager.shutdown()
        if failure:
            error, item = failure
            raise RemoteError(describe(error, self._where(item.key), "s3:PutObject")) from error

    def set_headers(self, items: Sequence[Upload], tick: Tick) -> None:
        """Replace headers with an in-place metadata copy: no re-upload."""
        def one(item: Upload) -> None:
            with translated(self._where(item.key), "s3:PutObject (metadata copy)"):
                key = self.prefix + item.key
                self.s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                                    MetadataDirective="REPLACE", **self._extra(item))

        run_parallel(one, items, self.workers, tick)

    def _distribution(self, distribution_id: str | None) -> str | None:
        return distribution_id or next(iter(self.distribution_ids), None) if self.cf is not None else None

    def served_prefix(self, origin_path: str | None, distribution_id: str | None = None) -> str:
        """The viewer path of the bucket prefix: the prefix minus the distribution's origin path (never guessed)."""
        dist = self._distribution(distribution_id)
        if origin_path is None and dist:
            where = f"CloudFront distribution {dist}"
            try:
                conf = self.cf.get_distribution_config(Id=dist)["DistributionConfig"]
            except (ClientError, BotoCoreError) as exc:
                if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchDistribution":
                    raise RemoteError(describe(exc, where, "")) from exc
                if not self.prefix:  # without a prefix the origin path changes no viewer path
                    return "/"
                why = describe(exc, where, "cloudfront:GetDistributionConfig").split(": ", 1)[1]
                raise RemoteError(f"{where}: cannot read its origin path: {why}; or pass --origin-path (e.g. /www)") from exc
            for origin in conf.get("Origins", {}).get("Items", []):
                if origin.get("DomainName", "").startswith(self.bucket + "."):
                    origin_path = origin.get("OriginPath", "")
                    break
        path, origin = "/" + self.prefix, (origin_path or "").strip("/")
        if origin and path.startswith("/" + origin + "/"):
            path = path[len(origin) + 1 :]
        return path

    def invalidate(self, paths: Sequence[str], caller_reference: str, distribution_id: str | None = None) -> str | None:
        """Create one invalidation; back off while CloudFront has too many in progress or throttles."""
        dist = self._distribution(distribution_id)
        if not dist or not paths:
            return None
        where, delay, waited = f"CloudFront distribution {dist}", 1.0, 0.0
        while True:
            interrupt.checkpoint()
            try:
                resp = self.cf.create_invalidation(
                    DistributionId=dist, InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": list(paths)},
                                                            "CallerReference": caller_reference})
                return str(resp["Invalidation"]["Id"])
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in _THROTTLED or code == "TooManyInvalidationsInProgress":
                    if waited + delay > self.patience:
                        raise InvalidationDeferred(f"{where}: {code} for {waited:.0f} s; "
                                                   "the paths are recorded and sent first by the next run") from exc
                    self.sleep(delay)  # wakes early on a stop request, which the loop then raises
                    waited, delay = waited + delay, min(delay * 2, 20.0)
                    continue
                raise RemoteError(describe(exc, where, "cloudfront:CreateInvalidation")) from exc
            except BotoCoreError as exc:
                raise RemoteError(describe(exc, where, "cloudfront:CreateInvalidation")) from exc

    def wait_invalidation(self, invalidation_id: str, timeout: float, distribution_id: str | None = None) -> bool:
        """Poll GetInvalidation (status compared case-insensitively) until Completed or the deadline."""
        dist = self._distribution(distribution_id)
        if not dist:
            return True
        deadline = time.monotonic() + timeout
        while True:
            interrupt.checkpoint()
            with translated(f"CloudFront invalidation {invalidation_id}", "cloudfront:GetInvalidation"):
                status = self.cf.get_invalidation(DistributionId=dist, Id=invalidation_id)
            if str(status["Invalidation"]["Status"]).lower() == "completed":
                return True
            if time.monotonic() >= deadline:
                return False
            self.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
