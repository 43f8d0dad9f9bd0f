"""`doctor` rule for `/.hashdeploy/*`: whether a distribution answers hashdeploy's deploy records to anyone (pure).

CloudFront uses the first cache behavior whose path pattern matches, so the records are guarded when that behavior
requires signed URLs, goes to another origin, or runs a viewer-request function that answers by itself (its code
returns a response with a `statusCode`); else the bucket policy must deny the records' keys.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from hashdeploy.publish.doctor import (
    CLOUDFRONT_SERVICE,
    OK,
    RECORDS,
    WARNING,
    DistributionFacts,
    Facts,
    Finding,
    Unread,
    account_of,
    allows,
    behaviors,
    deny_records,
    object_arn,
    principals,
    statements,
)

GUARD_FUNCTION = "function handler(event) { return { statusCode: 404, statusDescription: 'Not Found' }; }"


def served_records(d: DistributionFacts, facts: Facts, origin: dict[str, Any]) -> Finding:
    """Whether /.hashdeploy/* (hashdeploy's deploy records) is answered through this distribution."""
    dist, b = d.distribution, facts.bucket
    assert not isinstance(dist, Unread)
    path = str(origin.get("OriginPath") or "").strip("/")
    key = b.prefix + RECORDS + "current.json"
    if path and not key.startswith(path + "/"):
        return Finding("records-exposed", OK, f"{d.id}: the records (s3://{b.bucket}/{key}) are outside its origin path.")
    url = "/" + key[len(path):].lstrip("/")
    match = next(((p, beh) for p, beh in behaviors(dist.get("DistributionConfig", {}))[1:]
                  if fnmatchcase(url, "/" + p.lstrip("/"))), None)
    if match is not None:
        found = _guarded(d, url, *match, origin_id=str(origin["Id"]))
        if found is not None:
            return found
    if isinstance(b.policy, Unread):
        return Finding("records-exposed", WARNING, f"{d.id}: not checked whether {url} is served: {b.policy.reason}")
    arn = object_arn(b.bucket, key)
    if any(allows(s, "s3:GetObject", arn, "Deny") and ("*" in principals(s, "AWS") or CLOUDFRONT_SERVICE
           in principals(s, "Service")) for s in statements(b.policy)):
        return Finding("records-exposed", OK, f"{d.id}: the bucket policy denies reading {url}'s key.")
    return Finding("records-exposed", WARNING, f"https://{dist.get('DomainName')}{url} is served to anyone through "
                   f"{d.id}: the deploy records list every object of every deploy.",
                   "add to the bucket policy: " + json.dumps(deny_records(b, account_of(str(dist.get("ARN", ""))))) +
                   f", or attach this viewer-request function to a /{RECORDS}* behavior: {GUARD_FUNCTION}")


def _guarded(d: DistributionFacts, url: str, pattern: str, beh: dict[str, Any], *, origin_id: str) -> Finding | None:
    """The finding when the matching behavior decides by itself; None to fall back to the bucket policy."""
    where = f"{d.id}: {url} goes to behavior {pattern}"
    if any(beh.get(k, {}).get("Enabled") for k in ("TrustedKeyGroups", "TrustedSigners")):
        return Finding("records-exposed", OK, f"{where}, which requires signed URLs.")
    if beh.get("TargetOriginId") != origin_id:
        return Finding("records-exposed", OK, f"{where}, which sends it to origin {beh.get('TargetOriginId')}.")
    arns = [str(f.get("FunctionARN")) for f in beh.get("FunctionAssociations", {}).get("Items", []) or []
            if f.get("EventType") == "viewer-request"]
    if not arns:
        return None
    code = d.functions.get(arns[0], Unread("its code was not read"))
    if isinstance(code, Unread):
        return Finding("records-exposed", WARNING, f"{where} with viewer-request function {arns[0]}; not checked "
                       f"whether it answers by itself: {code.reason}")
    if "statusCode" in code:
        return Finding("records-exposed", OK, f"{where}, whose viewer-request function {arns[0]} answers by itself.")
    return None
