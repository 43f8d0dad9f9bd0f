"""Read-only reads of a bucket's and its distributions' configuration for `doctor`: ready-made clients in, facts out.

Only GET/HEAD/LIST requests. A read that fails becomes an `Unread` with its one-line reason (doctor then says
"not checked"); a configuration that does not exist (no bucket policy, no website) is None. The bucket itself
must be reachable: HeadBucket failing (no bucket, no credentials, no permission) stops with one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from hashdeploy.backends.s3 import describe, make_clients, translated
from hashdeploy.publish.doctor import BucketFacts, DistributionFacts, Facts, Unread, behaviors, bucket_origin
from hashdeploy.settings import Settings

T = TypeVar("T")
# error codes that mean "this configuration does not exist", not "could not be read"
_ABSENT = {"NoSuchBucketPolicy", "NoSuchPublicAccessBlockConfiguration", "OwnershipControlsNotFoundError",
           "NoSuchWebsiteConfiguration"}


def _read(call: Callable[[], T], where: str, action: str) -> T | None | Unread:
    try:
        return call()
    except Exception as exc:  # botocore's errors, told apart by their response (this module never imports botocore)
        if not type(exc).__module__.startswith(("botocore", "urllib3")):
            raise
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in _ABSENT:
            return None
        return Unread(_reason(exc, where, action))


def _reason(exc: Exception, where: str, action: str) -> str:
    """Why a read failed, in a few words: the permission to grant, or the request's own error."""
    resp = getattr(exc, "response", None) or {}
    code = str(resp.get("Error", {}).get("Code", ""))
    status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if not resp or code in ("AccessDenied", "403") or status == 403:
        return describe(exc, where, action).split(": ", 1)[-1]
    return f"{action} failed ({code or status}: {resp.get('Error', {}).get('Message', '')})"


def read_bucket(s3: Any, bucket: str, prefix: str) -> BucketFacts:
    """The bucket's policy, Block Public Access, object ownership, ACL and website configuration."""
    where = f"s3://{bucket}"
    with translated(where, "s3:ListBucket (HeadBucket)"):
        s3.head_bucket(Bucket=bucket)
    policy = _read(lambda: json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]), where, "s3:GetBucketPolicy")
    pab = _read(lambda: dict(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]), where,
                "s3:GetBucketPublicAccessBlock")
    own = _read(lambda: str(s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]
                            ["ObjectOwnership"]), where, "s3:GetBucketOwnershipControls")
    acl = _read(lambda: list(s3.get_bucket_acl(Bucket=bucket).get("Grants", [])), where, "s3:GetBucketAcl")
    website = _read(lambda: {k: v for k, v in s3.get_bucket_website(Bucket=bucket).items() if k != "ResponseMetadata"},
                    where, "s3:GetBucketWebsite")
    return BucketFacts(bucket=bucket, prefix=prefix, policy=policy, public_access_block=pab, ownership=own,
                       acl_grants=acl if acl is not None else [], website=website)


def _cache_policy(cf: Any, pid: str) -> dict[str, Any]:
    return dict(cf.get_cache_policy(Id=pid)["CachePolicy"])


def _function_code(cf: Any, name: str) -> bytes:
    return bytes(cf.get_function(Name=name, Stage="LIVE")["FunctionCode"].read())


def read_distribution(cf: Any, dist_id: str, bucket: str) -> DistributionFacts:
    """GetDistribution, then the cache policies, functions and origin access control it refers to."""
    where = f"CloudFront distribution {dist_id}"
    try:
        dist: dict[str, Any] = cf.get_distribution(Id=dist_id)["Distribution"]
    except Exception as exc:
        if not type(exc).__module__.startswith(("botocore", "urllib3")):
            raise
        if str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")) == "NoSuchDistribution":
            return DistributionFacts(dist_id, Unread("no such distribution"), missing=True)
        return DistributionFacts(dist_id, Unread(_reason(exc, where, "cloudfront:GetDistribution")))
    conf = dist.get("DistributionConfig", {})
    policies: dict[str, dict[str, Any] | Unread] = {}
    functions: dict[str, str | Unread] = {}
    for _pattern, beh in behaviors(conf):
        pid = beh.get("CachePolicyId") or ""
        if pid and pid not in policies:
            got = _read(partial(_cache_policy, cf, pid), f"cache policy {pid}",
                        "cloudfront:GetCachePolicy")
            policies[pid] = got if got is not None else Unread("not found")
        for assoc in beh.get("FunctionAssociations", {}).get("Items", []) or []:
            arn = str(assoc.get("FunctionARN"))
            if assoc.get("EventType") == "viewer-request" and arn not in functions:
                name = arn.rsplit("/", 1)[-1]
                code = _read(partial(_function_code, cf, name),
                             f"CloudFront function {name}", "cloudfront:GetFunction")
                functions[arn] = (code.decode("utf-8", "replace") if isinstance(code, bytes)
                                  else code if isinstance(code, Unread) else Unread("not found"))
    controls: dict[str, dict[str, Any] | Unread] = {}
    origin = bucket_origin(dist, bucket)
    oac = (origin or {}).get("OriginAccessControlId") or ""
    if oac:
        got_oac = _read(lambda: dict(cf.get_origin_access_control(Id=oac)["OriginAccessControl"]
                                     ["OriginAccessControlConfig"]), f"origin access control {oac}",
                        "cloudfront:GetOriginAccessControl")
        controls[oac] = got_oac if got_oac is not None else Unread("not found")
    return DistributionFacts(dist_id, dist, cache_policies=policies, functions=functions, access_controls=controls)


def serving(cf: Any, bucket: str) -> tuple[str, ...] | Unread:
    """Every enabled distribution of the account with an origin on the bucket (ListDistributions)."""
    def ids() -> tuple[str, ...]:
        out = []
        for page in cf.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []) or []:
                if item.get("Enabled") and bucket_origin({"DistributionConfig": item}, bucket) is not None:
                    out.append(str(item["Id"]))
        return tuple(out)

    got = _read(ids, "CloudFront", "cloudfront:ListDistributions")
    return got if got is not None else ()


def read_facts(settings: Settings, bucket: str, prefix: str) -> Facts:
    """Everything doctor needs, read with boto3's standard chain; nothing is written."""
    s = settings
    s3, cf = make_clients(profile=s.profile, region=s.region, endpoint_url=s.endpoint_url, workers=4,
                          max_attempts=s.max_attempts, with_cloudfront=True)
    facts = read_bucket(s3, bucket, prefix)
    dists = tuple(read_distribution(cf, i, bucket) for i in s.distribution_id)
    return Facts(bucket=facts, distributions=dists, serving=serving(cf, bucket), acl=s.acl, origin_path=s.origin_path)
