"""doctor's reads where moto lacks the API (cache policies, published function code, Lambda@Edge), through botocore's
Stubber on the exact CloudFront request and response shapes, and the findings they lead to."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from hashdeploy.backends.s3_config import read_distribution
from hashdeploy.publish.doctor import BucketFacts, Facts, Finding
from hashdeploy.publish.doctor_cdn import DIRECTORY_FUNCTION, distribution_findings

BUCKET, DIST, OAC = "my-site", "E1EXAMPLE", "E2OACEXAMPLE"
ARN = f"arn:aws:cloudfront::123456789012:distribution/{DIST}"
FN = "arn:aws:cloudfront::123456789012:function/dir-index"
OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def cf() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def distribution(*, default: dict[str, Any] | None = None, origin: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GetDistribution response: an S3 REST origin with OAC, a default root object, the given default behavior."""
    beh = default or {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https", "Compress": True,
                      "CachePolicyId": OPTIMIZED,
                      "FunctionAssociations": {"Quantity": 1, "Items": [{"FunctionARN": FN,
                                                                         "EventType": "viewer-request"}]}}
    o = {"Id": "s3", "DomainName": f"{BUCKET}.s3.eu-west-1.amazonaws.com", "OriginPath": "",
         "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": OAC, **(origin or {})}
    return {"ETag": "E3ETAG", "Distribution": {
        "Id": DIST, "ARN": ARN, "Status": "Deployed", "LastModifiedTime": WHEN, "InProgressInvalidationBatches": 0,
        "DomainName": "d111111abcdef8.cloudfront.net",
        "DistributionConfig": {"CallerReference": "ref", "Comment": "", "Enabled": True,
                               "DefaultRootObject": "index.html", "Origins": {"Quantity": 1, "Items": [o]},
                               "DefaultCacheBehavior": beh}}}


def cache_policy(pid: str, name: str, *, ttls: dict[str, int], gzip: bool = True) -> dict[str, Any]:
    """A GetCachePolicy response (DefaultTTL and MaxTTL are optional in the API)."""
    return {"ETag": "E4ETAG", "CachePolicy": {"Id": pid, "LastModifiedTime": WHEN, "CachePolicyConfig": {
        "Name": name, "Comment": "", **ttls, "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": gzip, "EnableAcceptEncodingBrotli": gzip,
            "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "none"}}}}}


def function_code(code: str) -> dict[str, Any]:
    raw = code.encode()
    return {"FunctionCode": StreamingBody(io.BytesIO(raw), len(raw)), "ETag": "E5ETAG",
            "ContentType": "application/octet-stream"}


def oac(signing: str = "always") -> dict[str, Any]:
    return {"ETag": "E6ETAG", "OriginAccessControl": {"Id": OAC, "OriginAccessControlConfig": {
        "Name": "site", "SigningProtocol": "sigv4", "SigningBehavior": signing,
        "OriginAccessControlOriginType": "s3"}}}


def judge(client: Any) -> dict[str, Finding]:
    """Read the distribution through the stubbed client; its findings by check (bucket granting this ARN)."""
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                             "Condition": {"StringEquals": {"AWS:SourceArn": ARN}}}]}
    bucket = BucketFacts(bucket=BUCKET, prefix="", policy=policy, public_access_block=None, ownership=None,
                         acl_grants=[], website=None)
    facts = Facts(bucket=bucket, distributions=(), serving=(DIST,))
    found = distribution_findings(read_distribution(client, DIST, BUCKET), facts)
    return {f.check: f for f in found if f.check not in ("https", "error-responses", "records-exposed")}


def expect_reads(stub: Stubber, policy: dict[str, Any] | None, code: str | None, signing: str = "always") -> None:
    stub.add_response("get_distribution", distribution(), {"Id": DIST})
    if policy is None:
        stub.add_client_error("get_cache_policy", "AccessDenied", "User is not authorized to perform: "
                              "cloudfront:GetCachePolicy", 403, expected_params={"Id": OPTIMIZED})
    else:
        stub.add_response("get_cache_policy", policy, {"Id": OPTIMIZED})
    if code is not None:
        stub.add_response("get_function", function_code(code), {"Name": "dir-index", "Stage": "LIVE"})
    stub.add_response("get_origin_access_control", oac(signing), {"Id": OAC})


def test_the_managed_caching_optimized_policy_and_a_directory_function_are_ok(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    policy = cache_policy(OPTIMIZED, "Managed-CachingOptimized", ttls={"MinTTL": 1, "DefaultTTL": 86400,
                                                                       "MaxTTL": 31536000})
    expect_reads(stub, policy, DIRECTORY_FUNCTION)
    got = judge(client)
    assert {c: f.severity for c, f in got.items()} == {
        "origin-access": "ok", "origin-path": "ok", "default-root-object": "ok", "directory-urls": "ok",
        "compression": "ok", "cache-policy": "ok"}
    assert got["cache-policy"].message == (f"{DIST} behavior *: cache policy Managed-CachingOptimized TTLs min 1 / "
                                           "default 86400 / max 31536000: the origin's Cache-Control is honoured.")
    assert got["directory-urls"].message == (f"{DIST}: viewer-request function {FN} maps directory URLs "
                                             "(its code appends index.html).")


def test_a_policy_with_the_optional_ttls_left_out_gets_cloudfronts_defaults(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    expect_reads(stub, cache_policy(OPTIMIZED, "site", ttls={"MinTTL": 0}), DIRECTORY_FUNCTION)
    assert "min 0 / default 86400 / max 31536000" in judge(client)["cache-policy"].message


def test_caching_disabled_turns_compression_off(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    policy = cache_policy(OPTIMIZED, "Managed-CachingDisabled", ttls={"MinTTL": 0, "DefaultTTL": 0, "MaxTTL": 0},
                          gzip=False)
    expect_reads(stub, policy, DIRECTORY_FUNCTION)
    got = judge(client)
    assert (got["compression"].severity, got["cache-policy"].severity) == ("warning", "warning")
    assert "the cache policy has gzip and Brotli off" in got["compression"].message
    assert "nothing is cached, every request goes to S3" in got["cache-policy"].message


def test_a_policy_ignoring_cache_control_is_an_error(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    expect_reads(stub, cache_policy(OPTIMIZED, "day", ttls={"MinTTL": 86400, "DefaultTTL": 86400, "MaxTTL": 86400}),
                 "function handler(event) { return event.request; }")
    got = judge(client)
    assert got["cache-policy"].severity == "error"
    assert "the origin's Cache-Control is ignored, so stable pages stay 86400 s" in got["cache-policy"].message
    assert got["directory-urls"].severity == "error"
    assert got["directory-urls"].fix.endswith(DIRECTORY_FUNCTION)


def test_unreadable_cache_policy_is_not_checked(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    expect_reads(stub, None, DIRECTORY_FUNCTION, signing="never")
    got = judge(client)
    assert got["cache-policy"].severity == "warning"
    assert got["cache-policy"].message == (f"{DIST} behavior *: cache policy {OPTIMIZED}; not checked: access denied "
                                           "to cloudfront:GetCachePolicy; grant it to the deploying identity "
                                           "(README: IAM policy)")
    assert "compression" not in got
    assert got["origin-access"].severity == "error" and "never signs requests" in got["origin-access"].message


def test_a_lambda_at_edge_directory_handler_is_not_checked(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    edge = "arn:aws:lambda:us-east-1:123456789012:function:dir-index:3"
    default = {"TargetOriginId": "s3", "ViewerProtocolPolicy": "https-only", "Compress": True, "MinTTL": 0,
               "LambdaFunctionAssociations": {"Quantity": 1, "Items": [{"LambdaFunctionARN": edge,
                                                                        "EventType": "origin-request"}]}}
    stub.add_response("get_distribution", {**distribution(default=default)}, {"Id": DIST})
    stub.add_response("get_origin_access_control", oac(), {"Id": OAC})
    got = judge(client)
    assert got["directory-urls"].severity == "warning"
    assert got["directory-urls"].message == (f"{DIST}: Lambda@Edge {edge} on origin-request; not checked (doctor "
                                             "does not read Lambda code).")


def test_unreadable_function_code_is_not_checked(cf: tuple[Any, Stubber]) -> None:
    client, stub = cf
    stub.add_response("get_distribution", distribution(), {"Id": DIST})
    stub.add_response("get_cache_policy", cache_policy(OPTIMIZED, "site", ttls={"MinTTL": 0}), {"Id": OPTIMIZED})
    stub.add_client_error("get_function", "AccessDenied", "not authorized", 403,
                          expected_params={"Name": "dir-index", "Stage": "LIVE"})
    stub.add_response("get_origin_access_control", oac(), {"Id": OAC})
    got = judge(client)["directory-urls"]
    assert (got.severity, got.message) == ("warning", f"{DIST}: viewer-request function {FN}; not checked whether it "
                                           "maps /dir/ to /dir/index.html: access denied to cloudfront:GetFunction; "
                                           "grant it to the deploying identity (README: IAM policy)")
