"""`hashdeploy doctor` against the moto server: a well-configured and a misconfigured setup, read-only, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import AwsWorld, RunCli

GOOD_FUNCTION = (b"function handler(event) { var r = event.request; "
                 b"if (r.uri.endsWith('/')) { r.uri += 'index.html'; } return r; }")
DENY_FUNCTION = b"function handler(event) { return {statusCode: 403, statusDescription: 'Forbidden'}; }"


@pytest.fixture(autouse=True)
def _function_associations(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto (in this process, behind HTTP) drops a behavior's FunctionAssociations; keep them as CloudFront does."""
    import moto.cloudfront.models as models

    original = models.DefaultCacheBehaviour.__init__

    def keep(self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        if config.get("FunctionAssociations"):
            self.function_associations = config["FunctionAssociations"]

    monkeypatch.setattr(models.DefaultCacheBehaviour, "__init__", keep)
    yield


def behavior(origin: str = "s3", **extra: Any) -> dict[str, Any]:
    """A legacy-TTL cache behavior (moto has no cache policies) honouring the origin's Cache-Control."""
    return {"TargetOriginId": origin, "ViewerProtocolPolicy": "redirect-to-https", "Compress": True,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0, "DefaultTTL": 86400, "MaxTTL": 31536000, **extra}


def viewer_request(arn: str) -> dict[str, Any]:
    return {"FunctionAssociations": {"Quantity": 1, "Items": [{"FunctionARN": arn, "EventType": "viewer-request"}]}}


def dist_config(bucket: str, ref: str, *, origin: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    o = {"Id": "s3", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com", "OriginPath": "",
         "S3OriginConfig": {"OriginAccessIdentity": ""}, **(origin or {})}
    o = {k: v for k, v in o.items() if v is not None}
    return {"CallerReference": ref, "Comment": "", "Enabled": True, "Origins": {"Quantity": 1, "Items": [o]},
            "DefaultCacheBehavior": behavior(), **extra}


def replace_config(aws: AwsWorld, config: dict[str, Any]) -> None:
    etag = aws.cf.get_distribution_config(Id=aws.distribution_id)["ETag"]
    aws.cf.update_distribution(Id=aws.distribution_id, IfMatch=etag, DistributionConfig=config)


def function(aws: AwsWorld, name: str, code: bytes) -> str:
    made = aws.cf.create_function(Name=name, FunctionConfig={"Comment": "", "Runtime": "cloudfront-js-2.0"},
                                  FunctionCode=code)
    return str(made["FunctionSummary"]["FunctionMetadata"]["FunctionARN"])


def findings(out: str) -> dict[tuple[str, str], str]:
    """{(check, severity): message + fix} from doctor's JSON, several findings of a kind joined."""
    got: dict[tuple[str, str], str] = {}
    for f in json.loads(out)["findings"]:
        key = (f["check"], f["severity"])
        got[key] = (got[key] + " | " if key in got else "") + f["message"] + " Fix: " + f["fix"]
    return got


def test_a_well_configured_setup_has_only_ok_findings(run: RunCli, aws: AwsWorld) -> None:
    bucket, n = aws.bucket, aws.bucket[-12:]
    oac = aws.cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": f"oac-{n}", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    dirs, deny = function(aws, f"dirs-{n}", GOOD_FUNCTION), function(aws, f"deny-{n}", DENY_FUNCTION)
    replace_config(aws, dist_config(
        bucket, bucket, origin={"OriginPath": "/www", "OriginAccessControlId": oac}, DefaultRootObject="index.html",
        DefaultCacheBehavior=behavior(**viewer_request(dirs)),
        CacheBehaviors={"Quantity": 1, "Items": [{"PathPattern": "/.hashdeploy/*", **behavior(**viewer_request(deny))}]},
        CustomErrorResponses={"Quantity": 1, "Items": [{"ErrorCode": 404, "ResponsePagePath": "/404.html",
                                                         "ResponseCode": "404", "ErrorCachingMinTTL": 10}]}))
    arn = aws.cf.get_distribution(Id=aws.distribution_id)["Distribution"]["ARN"]
    aws.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringEquals": {"AWS:SourceArn": arn}}}]}))
    aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    aws.s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    aws.recorder.clear()

    code, out, err = run("doctor", "--bucket", bucket, "--prefix", "www", "--distribution-id", aws.distribution_id,
                         "--json")

    assert code == 0, out + err
    assert aws.recorder.writes() == [], "doctor never writes"
    got = findings(out)
    assert {sev for _check, sev in got} == {"ok"}, got
    assert {check for check, _sev in got} == {
        "public-access-block", "acl", "bucket-public", "distributions", "origin-access", "origin-path",
        "default-root-object", "directory-urls", "error-responses", "https", "compression", "cache-policy",
        "records-exposed"}
    assert "Origin Access Control" in got["origin-access", "ok"]
    assert f"function {dirs} maps directory URLs" in got["directory-urls", "ok"]
    assert "the site is served at /." in got["origin-path", "ok"]
    assert (f"/.hashdeploy/current.json goes to behavior /.hashdeploy/*, whose viewer-request function {deny} "
            "answers by itself.") in got["records-exposed", "ok"]
    assert "min 0 / default 86400 / max 31536000" in got["cache-policy", "ok"]
    code, text, _err = run("doctor", "--bucket", bucket, "--prefix", "www", "--distribution-id", aws.distribution_id)
    assert code == 0 and len(text.splitlines()) == len(json.loads(out)["findings"])
    assert all(line.startswith("ok      ") for line in text.splitlines()), text


def test_a_misconfigured_setup_reports_each_problem_with_its_fix(run: RunCli, aws: AwsWorld) -> None:
    bucket = aws.bucket
    errors = {"Quantity": 2, "Items": [
        {"ErrorCode": 404, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 10},
        {"ErrorCode": 403, "ResponsePagePath": "/404.html", "ResponseCode": "404", "ErrorCachingMinTTL": 300}]}
    replace_config(aws, dist_config(bucket, bucket, CustomErrorResponses=errors, DefaultCacheBehavior=behavior(
        ViewerProtocolPolicy="allow-all", Compress=False, MinTTL=86400, DefaultTTL=86400, MaxTTL=86400)))
    legacy = aws.cf.create_distribution(DistributionConfig=dist_config(
        bucket, bucket + "-b", DefaultRootObject="home.html",
        origin={"OriginPath": "/www", "S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/E2OAI"}},
    ))["Distribution"]["Id"]
    forgotten = aws.cf.create_distribution(DistributionConfig=dist_config(bucket, bucket + "-c"))["Distribution"]["Id"]
    aws.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    aws.recorder.clear()

    code, out, err = run("doctor", "--bucket", bucket, "--distribution-id", aws.distribution_id,
                         "--distribution-id", legacy, "--acl", "public-read", "--json")

    assert code == 1, out + err
    assert aws.recorder.writes() == [], "doctor never writes"
    got = findings(out)
    d = aws.distribution_id
    expected = {
        ("public-access-block", "warning"): "IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets",
        ("acl", "error"): "--acl public-read, but s3://" + bucket + " blocks public ACLs",
        ("bucket-public", "warning"): "readable by anyone (bucket policy statement Public)",
        ("records-exposed", "error"): f"s3://{bucket}/.hashdeploy/ is readable by anyone",
        ("records-exposed", "warning"): f"/.hashdeploy/current.json is served to anyone through {d}",
        ("records-exposed", "ok"): f"{legacy}: the records (s3://{bucket}/.hashdeploy/current.json) are outside its",
        ("distributions", "error"): f"{forgotten} also serve(s) s3://{bucket}",
        ("origin-access", "warning"): f"{d}: S3 REST origin without Origin Access Control: it works only because",
        ("origin-access", "error"): f"{legacy}: legacy Origin Access Identity E2OAI, but the bucket policy does not",
        ("origin-path", "error"): f"{legacy}: origin path /www, but --prefix is ''",
        ("origin-path", "ok"): f"{d}: origin path /, --prefix '': the site is served at /.",
        ("default-root-object", "error"): f"{d}: default root object not set: / is answered 403.",
        ("default-root-object", "warning"): f"{legacy}: default root object 'home.html'.",
        ("directory-urls", "error"): "if (r.uri.endsWith('/')) { r.uri += 'index.html'; }",
        ("error-responses", "error"): f"{d}: 404 is answered with /index.html and status 200",
        ("error-responses", "warning"): f"{d}: 403 responses are cached 300 s",
        ("error-responses", "ok"): f"{legacy}: no custom error response",
        ("https", "warning"): f"{d} behavior *: viewer protocol policy allow-all",
        ("https", "ok"): f"{legacy} behavior *: viewer protocol policy redirect-to-https.",
        ("compression", "warning"): f"{d} behavior *: Compress is off",
        ("compression", "ok"): f"{legacy} behavior *: gzip/Brotli",
        ("cache-policy", "error"): f"{d} behavior *: legacy cache settings TTLs min 86400 / default 86400 / max 86400",
        ("cache-policy", "ok"): f"{legacy} behavior *: legacy cache settings TTLs min 0",
    }
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    for key, text in expected.items():
        assert text in got[key], (key, got[key])
    assert "add --distribution-id " + forgotten in got["distributions", "error"]
    assert '"AWS:SourceArn": "arn:aws:cloudfront::' in got["origin-access", "error"]
    assert "Fix: deploy with --prefix www" in got["origin-path", "error"]
    assert got["directory-urls", "error"].count("no viewer-request function") == 2
    assert '"Effect": "Deny"' in got["records-exposed", "error"]
    assert "(origins:" not in out, "both distributions have an origin on the bucket"
    code, text, _err = run("doctor", "--bucket", bucket, "--distribution-id", aws.distribution_id,
                           "--distribution-id", legacy, "--acl", "public-read")
    assert code == 1 and "Traceback" not in text and "testing-secret" not in text + out
    assert len(text.splitlines()) == len(json.loads(out)["findings"])
    assert f"error   error-responses: {d}: 404 is answered with /index.html and status 200" in text


def test_a_cache_policy_moto_cannot_read_is_not_checked(run: RunCli, aws: AwsWorld) -> None:
    managed = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # CachingOptimized; moto has no GetCachePolicy
    replace_config(aws, dist_config(aws.bucket, aws.bucket, DefaultCacheBehavior={
        "TargetOriginId": "s3", "ViewerProtocolPolicy": "https-only", "Compress": True, "CachePolicyId": managed}))
    aws.recorder.clear()
    code, out, _err = run("doctor", "--bucket", aws.bucket, "--distribution-id", aws.distribution_id,
                          "--max-attempts", "1", "--json")
    got = findings(out)
    assert f"cache policy {managed}; not checked: cloudfront:GetCachePolicy failed (500: " in got["cache-policy",
                                                                                                  "warning"]
    assert not any(check == "compression" for check, _sev in got), "not judged without the policy"
    assert aws.recorder.writes() == []
    assert code == 1  # the setup's own errors (no origin access, no root object), not the unread policy


def test_without_a_distribution_only_the_bucket_is_checked(run: RunCli, aws: AwsWorld) -> None:
    disabled = dist_config(aws.bucket, aws.bucket + "-off")
    aws.cf.create_distribution(DistributionConfig={**disabled, "Enabled": False})  # serves nothing: not listed
    aws.recorder.clear()
    code, out, err = run("doctor", "--target", f"s3://{aws.bucket}/site")
    assert code == 0, out + err
    line = next(x for x in out.splitlines() if " distributions: " in x)
    assert line.startswith("warning distributions: no --distribution-id: the distribution checks were not run; "
                           f"distributions in front of s3://{aws.bucket}: {aws.distribution_id}.")
    assert not any(" origin-access: " in x for x in out.splitlines())
    assert aws.recorder.writes() == []


def test_an_unknown_distribution_is_one_error_line(run: RunCli, aws: AwsWorld) -> None:
    code, out, err = run("doctor", "--bucket", aws.bucket, "--distribution-id", "E0000UNKNOWN00")
    assert code == 1 and "Traceback" not in out + err
    assert [x for x in out.splitlines() if x.startswith("error")] == [
        f"error   distributions: {aws.distribution_id} also serve(s) s3://{aws.bucket} but no --distribution-id "
        "names it: deploys never invalidate it, so its users keep the old pages for as long as it caches them. "
        f"Fix: add --distribution-id {aws.distribution_id}",
        "error   distribution: E0000UNKNOWN00: no such distribution. Fix: check --distribution-id "
        "(aws cloudfront list-distributions)"]


def test_no_permission_is_one_line(run: RunCli, aws: AwsWorld) -> None:
    aws.recorder.fault = lambda method, path, headers: (403, "AccessDenied", "Access Denied")
    code, out, err = run("doctor", "--bucket", aws.bucket, "--distribution-id", aws.distribution_id)
    assert (code, out) == (1, "") and "testing-secret" not in err
    assert err == (f"RemoteError: s3://{aws.bucket}: access denied to s3:ListBucket (HeadBucket); grant it to the "
                   "deploying identity (README: IAM policy)\n")


def test_denied_reads_are_not_checked(run: RunCli, aws: AwsWorld) -> None:
    def deny(method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        return None if method == "HEAD" else (403, "AccessDenied", "Access Denied")

    aws.recorder.fault = deny
    code, out, err = run("doctor", "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--json")
    assert code == 1 and "Traceback" not in err
    got = findings(out)
    assert got["distribution", "error"].startswith(f"{aws.distribution_id}: not checked: access denied to "
                                                    "cloudfront:GetDistribution")
    assert got["public-access-block", "warning"].startswith("not checked: access denied to "
                                                            "s3:GetBucketPublicAccessBlock")
    assert "not checked which distributions serve" in got["distributions", "warning"]


@pytest.mark.parametrize("args", [("doctor",), ("doctor", "--target", "file:///srv/www"),
                                  ("doctor", "--bucket", "Bad_Bucket")])
def test_invalid_settings_exit_2(run: RunCli, args: tuple[str, ...]) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("ConfigError: "), err


def test_a_website_endpoint_origin(run: RunCli, aws: AwsWorld) -> None:
    bucket = aws.bucket
    replace_config(aws, dist_config(bucket, bucket, origin={
        "DomainName": f"{bucket}.s3-website-us-east-1.amazonaws.com", "S3OriginConfig": None,
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}))
    aws.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}))
    aws.s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    aws.recorder.clear()
    args = ("doctor", "--bucket", bucket, "--distribution-id", aws.distribution_id, "--json")
    code, out, _err = run(*args)
    got = findings(out)
    d = aws.distribution_id
    assert got["origin-access", "warning"].startswith(f"{d}: S3 website endpoint origin {bucket}.s3-website-")
    assert got["public-access-block", "ok"].endswith("as the website endpoint in front of it needs. Fix: ")
    assert "as the website endpoint needs" in got["bucket-public", "ok"]
    assert got["default-root-object", "ok"].startswith(f"{d}: the website endpoint answers / itself.")
    assert got["directory-urls", "ok"].startswith(f"{d}: the website endpoint answers /dir/ with /dir/index.html.")
    assert ("records-exposed", "error") in got and ("records-exposed", "warning") in got
    assert code == 1 and aws.recorder.writes() == []
    aws.s3.delete_bucket_website(Bucket=bucket)
    aws.s3.delete_bucket_policy(Bucket=bucket)
    got = findings(run(*args)[1])
    assert got["origin-access", "error"].startswith(f"{d}: S3 website endpoint origin, but s3://{bucket} is not public")
    assert got["directory-urls", "error"] == (f"{d}: the website endpoint has no index document: /dir/ is a 404. "
                                              f"Fix: aws s3 website s3://{bucket} --index-document index.html")


@pytest.mark.parametrize(("ownership", "acl", "severity", "seen"), [
    ("BucketOwnerEnforced", "public-read", "error", "has ACLs disabled (BucketOwnerEnforced): every upload is refused"),
    ("BucketOwnerEnforced", "bucket-owner-full-control", "ok", "--acl bucket-owner-full-control is accepted."),
    ("ObjectWriter", None, "warning", "has ACLs enabled (ObjectWriter): an object ACL can publish a file"),
    ("ObjectWriter", "public-read", "warning", "--acl public-read makes every object, deploy records included"),
])
def test_acls_against_acl(run: RunCli, aws: AwsWorld, ownership: str, acl: str | None, severity: str,
                          seen: str) -> None:
    aws.s3.put_bucket_ownership_controls(Bucket=aws.bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": ownership}]})
    code, out, _err = run("doctor", "--bucket", aws.bucket, "--json", *(("--acl", acl) if acl else ()))
    assert seen in findings(out)["acl", severity]
    assert code == (1 if severity == "error" else 0)


def test_a_public_bucket_acl_is_an_error(run: RunCli, aws: AwsWorld) -> None:
    aws.s3.put_bucket_ownership_controls(Bucket=aws.bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    aws.s3.put_bucket_acl(Bucket=aws.bucket, ACL="public-read")
    code, out, _err = run("doctor", "--bucket", aws.bucket, "--json")
    assert code == 1
    assert findings(out)["acl", "error"].startswith(f"s3://{aws.bucket}'s ACL grants READ to AllUsers: anyone can "
                                                     "list or read it.")


def test_the_python_api_returns_the_findings(aws: AwsWorld) -> None:
    from pathlib import Path

    import hashdeploy

    settings = hashdeploy.load_settings(Path("."), {"target": f"s3://{aws.bucket}",
                                                    "distribution_id": aws.distribution_id})
    found = hashdeploy.doctor(settings)
    assert {f.check for f in found} >= {"origin-access", "directory-urls", "records-exposed"}
    assert all(f.severity in ("error", "warning", "ok") for f in found)
    assert aws.recorder.writes() == []
