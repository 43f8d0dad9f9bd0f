"""doctor's rules on bucket policies and origin paths, pure: facts in, findings out."""

from __future__ import annotations

from typing import Any

import pytest

from hashdeploy.publish.doctor import BucketFacts, DistributionFacts, Facts, Finding, Unread, diagnose

BUCKET, DIST = "my-site", "E1EXAMPLE"
ARN = f"arn:aws:cloudfront::123456789012:distribution/{DIST}"


def facts(policy: dict[str, Any] | None | Unread, *, prefix: str = "", origin_path: str = "",
          given_origin_path: str | None = None, extra: tuple[dict[str, Any], ...] = (),
          functions: dict[str, str | Unread] | None = None) -> Facts:
    origin = {"Id": "s3", "DomainName": f"{BUCKET}.s3.eu-west-1.amazonaws.com", "OriginPath": origin_path,
              "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": "EOAC"}
    dist = {"Id": DIST, "ARN": ARN, "DomainName": "d1.cloudfront.net", "DistributionConfig": {
        "DefaultRootObject": "index.html", "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "https-only", "Compress": True},
        "CacheBehaviors": {"Quantity": len(extra), "Items": list(extra)}}}
    bucket = BucketFacts(bucket=BUCKET, prefix=prefix, policy=policy, public_access_block=None, ownership=None,
                         acl_grants=[], website=None)
    return Facts(bucket=bucket, distributions=(DistributionFacts(DIST, dist, functions=functions or {}),),
                 serving=(DIST,),
                 origin_path=given_origin_path)


def by_check(found: list[Finding], check: str) -> Finding:
    [one] = [f for f in found if f.check == check]
    return one


def grant(condition: dict[str, Any] | None, resource: str = f"arn:aws:s3:::{BUCKET}/*") -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": ["cloudfront.amazonaws.com"]},
                            "Action": ["s3:Get*"], "Resource": resource}
    return {**stmt, "Condition": condition} if condition else stmt


@pytest.mark.parametrize(("statements", "severity", "seen"), [
    ([grant({"StringEquals": {"AWS:SourceArn": ARN}})], "ok", "grants this distribution s3:GetObject"),
    ([grant({"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/*"}})], "ok", "grants"),
    ([grant(None)], "warning", "grants s3:GetObject to every CloudFront distribution (no AWS:SourceArn condition)"),
    ([grant({"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/EOLD"}})], "error",
     "does not grant this distribution s3:GetObject (only arn:aws:cloudfront::123456789012:distribution/EOLD)"),
    ([grant({"StringEquals": {"AWS:SourceArn": ARN}}, f"arn:aws:s3:::{BUCKET}/other/*")], "error",
     "does not grant this distribution s3:GetObject: every URL is answered 403."),
    ([], "error", "does not grant this distribution s3:GetObject: every URL is answered 403."),
])
def test_origin_access_control_grants(statements: list[dict[str, Any]], severity: str, seen: str) -> None:
    found = by_check(diagnose(facts({"Statement": statements})), "origin-access")
    assert found.severity == severity and seen in found.message, found
    if severity == "error":
        assert f'"AWS:SourceArn": "{ARN}"' in found.fix


def test_an_unreadable_policy_is_not_checked() -> None:
    found = diagnose(facts(Unread("access denied to s3:GetBucketPolicy; grant it")))
    assert by_check(found, "origin-access").message == (f"{DIST}: not checked whether s3://{BUCKET} grants it access: "
                                                        "access denied to s3:GetBucketPolicy; grant it")
    assert by_check(found, "bucket-public").message.startswith("not checked: access denied to s3:GetBucketPolicy")
    assert by_check(found, "records-exposed").severity == "warning"


def test_a_deny_on_the_records_keeps_them_private() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/www/.hashdeploy/*"}
    found = diagnose(facts({"Statement": [grant({"StringEquals": {"AWS:SourceArn": ARN}}), deny]}, prefix="www/"))
    records = by_check(found, "records-exposed")
    assert (records.severity, records.message) == (
        "ok", f"{DIST}: the bucket policy denies reading /www/.hashdeploy/current.json's key.")
    without = by_check(diagnose(facts({"Statement": []}, prefix="www/")), "records-exposed")
    assert without.severity == "warning" and '"aws:PrincipalAccount": "123456789012"' in without.fix


@pytest.mark.parametrize(("prefix", "origin_path", "given", "severity", "seen"), [
    ("www/", "/www", None, "ok", "origin path /www, --prefix 'www': the site is served at /."),
    ("www/docs/", "/www", None, "ok", "the site is served at /docs/."),
    ("site/", "", None, "ok", "the site is served at /site/."),
    ("", "/www", None, "error", "origin path /www, but --prefix is ''"),
    ("wwwx/", "/www", None, "error", "origin path /www, but --prefix is 'wwwx'"),
    ("www/", "/www", "/site", "error", "--origin-path /site, but the origin path is /www"),
])
def test_origin_path_against_prefix(prefix: str, origin_path: str, given: str | None, severity: str,
                                    seen: str) -> None:
    found = by_check(diagnose(facts({"Statement": []}, prefix=prefix, origin_path=origin_path,
                                    given_origin_path=given)), "origin-path")
    assert found.severity == severity and seen in found.message, found


FN = "arn:aws:cloudfront::123456789012:function/records"


def records_behavior(pattern: str = "/.hashdeploy/*", **extra: Any) -> dict[str, Any]:
    return {"PathPattern": pattern, "TargetOriginId": "s3", "ViewerProtocolPolicy": "https-only", **extra}


@pytest.mark.parametrize(("extra", "functions", "severity", "seen"), [
    ((records_behavior(TrustedKeyGroups={"Enabled": True, "Quantity": 1, "Items": ["K1"]}),), {}, "ok",
     "goes to behavior /.hashdeploy/*, which requires signed URLs."),
    ((records_behavior(TargetOriginId="deny-all"),), {}, "ok", "which sends it to origin deny-all."),
    ((records_behavior(FunctionAssociations={"Quantity": 1, "Items": [{"FunctionARN": FN,
                                                                        "EventType": "viewer-request"}]}),),
     {FN: "function handler(event) { return { statusCode: 404 }; }"}, "ok", "answers by itself."),
    ((records_behavior(FunctionAssociations={"Quantity": 1, "Items": [{"FunctionARN": FN,
                                                                        "EventType": "viewer-request"}]}),),
     {FN: Unread("access denied to cloudfront:GetFunction")}, "warning", "not checked whether it answers by itself"),
    ((records_behavior(FunctionAssociations={"Quantity": 1, "Items": [{"FunctionARN": FN,
                                                                        "EventType": "viewer-request"}]}),),
     {FN: "function handler(event) { return event.request; }"}, "warning", "is served to anyone through"),
    ((records_behavior("/.hash*"), records_behavior(TargetOriginId="deny-all")), {}, "warning",
     "is served to anyone through"),  # the first matching behavior decides
])
def test_a_records_behavior(extra: tuple[dict[str, Any], ...], functions: dict[str, str | Unread], severity: str,
                            seen: str) -> None:
    found = by_check(diagnose(facts({"Statement": []}, extra=extra, functions=functions)), "records-exposed")
    assert found.severity == severity and seen in found.message, found


def test_a_distribution_without_an_origin_on_the_bucket_or_disabled() -> None:
    f = facts({"Statement": []})
    dist = f.distributions[0].distribution
    assert isinstance(dist, dict)
    dist["DistributionConfig"]["Origins"]["Items"][0]["DomainName"] = "other-site.s3.eu-west-1.amazonaws.com"
    [found] = [x for x in diagnose(f) if x.check not in ("public-access-block", "acl", "bucket-public", "distributions")]
    assert (found.check, found.severity) == ("origin-access", "error")
    assert found.message.startswith(f"{DIST}: no origin on s3://{BUCKET} (origins: other-site.s3.eu-west-1.amazonaws.com)")
    f = facts({"Statement": []})
    dist = f.distributions[0].distribution
    assert isinstance(dist, dict)
    dist["DistributionConfig"]["Enabled"] = False
    assert by_check(diagnose(f), "distribution").message == f"{DIST} is disabled: it serves nothing."
