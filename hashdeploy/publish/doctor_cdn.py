"""`doctor` rules, distribution side: one CloudFront distribution's configuration in, findings out (pure).

Each finding names the distribution. Behaviors are the default one plus every path pattern, and the cache
policies, functions and origin access controls they refer to come read (or Unread) in the facts.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from hashdeploy.publish.doctor import (
    CLOUDFRONT_SERVICE,
    ERROR,
    OK,
    RECORDS,
    WARNING,
    DistributionFacts,
    Facts,
    Finding,
    Unread,
    allows,
    behaviors,
    bucket_origin,
    oac_statement,
    object_arn,
    principals,
    public_read,
    source_arns,
    statements,
)
from hashdeploy.publish.doctor_records import served_records

# The viewer-request function that answers /dir/ with /dir/index.html (what an S3 REST origin cannot do).
DIRECTORY_FUNCTION = ("function handler(event) { var r = event.request; "
                      "if (r.uri.endsWith('/')) { r.uri += 'index.html'; } return r; }")
YEAR = 31536000
STABLE_S_MAXAGE = 86400


def distribution_findings(d: DistributionFacts, facts: Facts) -> list[Finding]:
    """Every check of one distribution; the bucket's configuration comes from facts."""
    if isinstance(d.distribution, Unread):
        return [Finding("distribution", ERROR, f"{d.id}: " + (
            "no such distribution." if d.missing else f"not checked: {d.distribution.reason}"),
            "check --distribution-id (aws cloudfront list-distributions)" if d.missing else "")]
    dist, b = d.distribution, facts.bucket
    conf = dist.get("DistributionConfig", {})
    origin = bucket_origin(dist, b.bucket)
    if origin is None:
        names = ", ".join(str(o.get("DomainName")) for o in conf.get("Origins", {}).get("Items", []) or [])
        return [Finding("origin-access", ERROR, f"{d.id}: no origin on s3://{b.bucket} (origins: {names or 'none'}): "
                        "it does not serve what hashdeploy deploys, and invalidating it refreshes nothing.",
                        f"check --bucket and --distribution-id, or add an origin {b.bucket}.s3.<region>.amazonaws.com")]
    website = ".s3-website" in origin["DomainName"]
    out = [Finding("distribution", WARNING, f"{d.id} is disabled: it serves nothing.", "enable it, or drop this "
                   "--distribution-id.")] if conf.get("Enabled") is False else []
    out += [_origin_access(d, facts, origin, website), _origin_path(d.id, origin, facts)]
    out += _root_and_directories(d, facts, website)
    out += _error_responses(d.id, conf)
    for pattern, beh in behaviors(conf):
        out += _caching(d, pattern, beh)
    out.append(served_records(d, facts, origin))
    return out


def _origin_access(d: DistributionFacts, facts: Facts, origin: dict[str, Any], website: bool) -> Finding:
    b, dist = facts.bucket, d.distribution
    assert not isinstance(dist, Unread)
    key = object_arn(b.bucket, b.prefix + "index.html")
    public = public_read(b, b.prefix + "index.html")
    if isinstance(b.policy, Unread):
        return Finding("origin-access", WARNING, f"{d.id}: not checked whether s3://{b.bucket} grants it access: "
                       f"{b.policy.reason}")
    if website:
        if public:
            return Finding("origin-access", WARNING, f"{d.id}: S3 website endpoint origin {origin['DomainName']}: the "
                           "bucket must be public and CloudFront reaches it over plain HTTP.",
                           "use the REST endpoint with Origin Access Control and a directory-URL function.")
        return Finding("origin-access", ERROR, f"{d.id}: S3 website endpoint origin, but s3://{b.bucket} is not public: "
                       "every URL is answered 403.", "use the REST endpoint with Origin Access Control.")
    oac_id = origin.get("OriginAccessControlId") or ""
    oai = str(origin.get("S3OriginConfig", {}).get("OriginAccessIdentity") or "")
    if oac_id:
        oac = d.access_controls.get(oac_id)
        if isinstance(oac, dict) and oac.get("SigningBehavior") == "never":
            return Finding("origin-access", ERROR, f"{d.id}: Origin Access Control {oac_id} never signs requests: "
                           "S3 answers 403.", f"set SigningBehavior to always on {oac_id}.")
        arn = str(dist.get("ARN", ""))
        grants = [s for s in statements(b.policy) if allows(s, "s3:GetObject", key)
                  and CLOUDFRONT_SERVICE in principals(s, "Service")]
        scoped = [s for s in grants if any(fnmatchcase(arn, str(v)) for v in source_arns(s))]
        if scoped:
            return Finding("origin-access", OK, f"{d.id}: S3 REST origin with Origin Access Control {oac_id}; the "
                           f"bucket policy grants this distribution s3:GetObject.")
        if any(not source_arns(s) for s in grants):
            return Finding("origin-access", WARNING, f"{d.id}: the bucket policy grants s3:GetObject to every "
                           "CloudFront distribution (no AWS:SourceArn condition), of any account.",
                           f"add the condition {{\"StringEquals\": {{\"AWS:SourceArn\": \"{arn}\"}}}}.")
        others = sorted({str(a) for s in grants for a in source_arns(s)})
        return Finding("origin-access", ERROR, f"{d.id}: Origin Access Control {oac_id}, but the bucket policy does not "
                       "grant this distribution s3:GetObject" + (f" (only {', '.join(others)})" if others else "") +
                       ": every URL is answered 403.",
                       "add to the bucket policy: " + json.dumps(oac_statement(b.bucket, b.prefix, arn)))
    if oai:
        oai_id = oai.rsplit("/", 1)[-1]
        who = f"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {oai_id}"
        granted = any(allows(s, "s3:GetObject", key) and who in principals(s, "AWS") for s in statements(b.policy))
        return Finding("origin-access", WARNING if granted else ERROR,
                       f"{d.id}: legacy Origin Access Identity {oai_id}" + (
                           "; the bucket policy grants it." if granted else
                           ", but the bucket policy does not grant it s3:GetObject: every URL is answered 403."),
                       "switch the origin to Origin Access Control and grant it: " +
                       json.dumps(oac_statement(b.bucket, b.prefix, str(dist.get("ARN", "")))))
    return Finding("origin-access", WARNING if public else ERROR,
                   f"{d.id}: S3 REST origin without Origin Access Control: " + (
                       f"it works only because the bucket is public ({public})." if public else
                       "CloudFront's requests are unsigned and the bucket is not public: every URL is answered 403."),
                   "create an Origin Access Control, set it on the origin and grant it: " +
                   json.dumps(oac_statement(b.bucket, b.prefix, str(dist.get("ARN", "")))))


def _origin_path(dist_id: str, origin: dict[str, Any], facts: Facts) -> Finding:
    path = str(origin.get("OriginPath") or "").strip("/")
    prefix = facts.bucket.prefix.rstrip("/")
    given = None if facts.origin_path is None else facts.origin_path.strip("/")
    if given is not None and given != path:
        return Finding("origin-path", ERROR, f"{dist_id}: --origin-path /{given}, but the origin path is /{path}: "
                       "invalidations are computed for the wrong URLs.", f"pass --origin-path /{path} or drop it.")
    if path and not (prefix == path or prefix.startswith(path + "/")):
        return Finding("origin-path", ERROR, f"{dist_id}: origin path /{path}, but --prefix is '{prefix}': the "
                       "distribution serves other keys than the deploy writes, and invalidations miss.",
                       f"deploy with --prefix {path}, or set the origin path to /{prefix}" if prefix else
                       f"deploy with --prefix {path}")
    served = "/" + prefix[len(path):].strip("/")
    return Finding("origin-path", OK, f"{dist_id}: origin path /{path}, --prefix '{prefix}': the site is served "
                   f"at {served.rstrip('/') + '/'}.")


def _root_and_directories(d: DistributionFacts, facts: Facts, website: bool) -> list[Finding]:
    dist = d.distribution
    assert not isinstance(dist, Unread)
    conf, web = dist.get("DistributionConfig", {}), facts.bucket.website
    if website:
        if isinstance(web, Unread):
            return [Finding("directory-urls", WARNING, f"{d.id}: not checked: {web.reason}")]
        suffix = (web or {}).get("IndexDocument", {}).get("Suffix")
        return [Finding("default-root-object", OK, f"{d.id}: the website endpoint answers / itself."),
                Finding("directory-urls", OK if suffix else ERROR, f"{d.id}: the website endpoint " + (
                    f"answers /dir/ with /dir/{suffix}." if suffix else "has no index document: /dir/ is a 404."),
                    "" if suffix else f"aws s3 website s3://{facts.bucket.bucket} --index-document index.html")]
    root = conf.get("DefaultRootObject") or ""
    out = [Finding("default-root-object", OK if root == "index.html" else WARNING if root else ERROR,
                   f"{d.id}: default root object " + (f"'{root}'." if root else "not set: / is answered 403."),
                   "" if root == "index.html" else "set DefaultRootObject to index.html.")]
    beh = conf.get("DefaultCacheBehavior", {})
    functions = [f for f in beh.get("FunctionAssociations", {}).get("Items", []) or []
                 if f.get("EventType") == "viewer-request"]
    edge = [f for f in beh.get("LambdaFunctionAssociations", {}).get("Items", []) or []
            if f.get("EventType") in ("viewer-request", "origin-request")]
    fix = f"attach this viewer-request CloudFront Function to the default behavior: {DIRECTORY_FUNCTION}"
    if functions:
        arn = str(functions[0].get("FunctionARN"))
        code = d.functions.get(arn, Unread("its code was not read"))
        if isinstance(code, Unread):
            out.append(Finding("directory-urls", WARNING, f"{d.id}: viewer-request function {arn}; not checked "
                               f"whether it maps /dir/ to /dir/index.html: {code.reason}"))
        elif "index.html" in code:
            out.append(Finding("directory-urls", OK, f"{d.id}: viewer-request function {arn} maps directory URLs "
                               "(its code appends index.html)."))
        else:
            out.append(Finding("directory-urls", ERROR, f"{d.id}: viewer-request function {arn} never mentions "
                               "index.html: /dir/ is answered 403 by the S3 REST origin.", fix))
    elif edge:
        out.append(Finding("directory-urls", WARNING, f"{d.id}: Lambda@Edge {edge[0].get('LambdaFunctionARN')} on "
                           f"{edge[0].get('EventType')}; not checked (doctor does not read Lambda code)."))
    else:
        out.append(Finding("directory-urls", ERROR, f"{d.id}: no viewer-request function: the S3 REST origin maps "
                           "only / to the default root object, so /docs/ is answered 403.", fix))
    return out


def _error_responses(dist_id: str, conf: dict[str, Any]) -> list[Finding]:
    out = []
    for r in conf.get("CustomErrorResponses", {}).get("Items", []) or []:
        code, status, page = int(r.get("ErrorCode", 0)), str(r.get("ResponseCode") or ""), r.get("ResponsePagePath")
        ttl = int(r.get("ErrorCachingMinTTL", 10))
        if code in (403, 404) and status == "200":
            out.append(Finding("error-responses", ERROR, f"{dist_id}: {code} is answered with {page} and status 200: "
                               "a missing asset is served as HTML and cached as if it were the asset.",
                               f"set ResponseCode to 404 (and ResponsePagePath /404.html) for error {code}."))
        elif code in (403, 404) and ttl > 60:
            out.append(Finding("error-responses", WARNING, f"{dist_id}: {code} responses are cached {ttl} s: a URL "
                               "requested before its deploy keeps answering an error that long.",
                               f"set ErrorCachingMinTTL to 10 for error {code}."))
    return out or [Finding("error-responses", OK, f"{dist_id}: no custom error response turns 403/404 into 200.")]


def _caching(d: DistributionFacts, pattern: str, beh: dict[str, Any]) -> list[Finding]:
    where = f"{d.id} behavior {pattern}"
    out = []
    https = beh.get("ViewerProtocolPolicy")
    out.append(Finding("https", OK if https in ("redirect-to-https", "https-only") else WARNING,
                       f"{where}: viewer protocol policy {https}" + ("." if https != "allow-all" else
                       ": pages are also served over plain HTTP, where anyone on the path can alter them."),
                       "" if https != "allow-all" else "set ViewerProtocolPolicy to redirect-to-https."))
    if pattern.lstrip("/").startswith(RECORDS):
        return out
    policy_id = beh.get("CachePolicyId") or ""
    if policy_id:
        policy = d.cache_policies.get(policy_id, Unread("it was not read"))
        if isinstance(policy, Unread):
            return out + [Finding("cache-policy", WARNING, f"{where}: cache policy {policy_id}; not checked: "
                                  f"{policy.reason}")]
        conf = policy.get("CachePolicyConfig", policy)
        params = conf.get("ParametersInCacheKeyAndForwardedToOrigin", {})
        ttls = _ttl_values(conf)
        encodings = bool(params.get("EnableAcceptEncodingGzip")) or bool(params.get("EnableAcceptEncodingBrotli"))
        name = f"cache policy {conf.get('Name', policy_id)}"
    else:
        ttls = _ttl_values(beh)
        encodings, name = True, "legacy cache settings"
    compress = bool(beh.get("Compress"))
    if not compress or not encodings or ttls[2] == 0:
        why = ("Compress is off" if not compress else "the cache policy has gzip and Brotli off" if not encodings
               else "caching is disabled (MaxTTL 0), which turns compression off")
        out.append(Finding("compression", WARNING, f"{where}: {why}: text assets are sent uncompressed.",
                           "set Compress on the behavior and use a cache policy with gzip and Brotli and MaxTTL > 0."))
    else:
        out.append(Finding("compression", OK, f"{where}: gzip/Brotli compression on."))
    out.append(_ttls(where, name, *ttls))
    return out


def _ttl_values(conf: dict[str, Any]) -> tuple[int, int, int]:
    """MinTTL, DefaultTTL, MaxTTL with CloudFront's defaults for the optional ones (a day, a year, or MinTTL above)."""
    low = int(conf.get("MinTTL", 0))
    default = int(conf.get("DefaultTTL", max(low, STABLE_S_MAXAGE)))
    return low, default, int(conf.get("MaxTTL", default if max(low, default) > YEAR else YEAR))


def _ttls(where: str, name: str, low: int, default: int, high: int) -> Finding:
    fix = "use a cache policy with MinTTL 0, DefaultTTL 86400, MaxTTL 31536000 (honours the origin's Cache-Control)."
    seen = f"{where}: {name} TTLs min {low} / default {default} / max {high}"
    if high == 0:
        return Finding("cache-policy", WARNING, f"{seen}: nothing is cached, every request goes to S3.", fix)
    if low == high or low >= STABLE_S_MAXAGE:
        return Finding("cache-policy", ERROR, f"{seen}: the origin's Cache-Control is ignored, so stable pages stay "
                       f"{low} s whatever hashdeploy sends.", fix)
    if low > 60:  # CachingOptimized's 1 s is harmless; minutes keep no-store files and error pages that long
        return Finding("cache-policy", WARNING, f"{seen}: files hashdeploy marks no-store are still kept {low} s.", fix)
    if high < YEAR:
        return Finding("cache-policy", WARNING, f"{seen}: hashed assets (max-age={YEAR}, immutable) are fetched "
                       f"from S3 again every {high} s.", fix)
    return Finding("cache-policy", OK, f"{seen}: the origin's Cache-Control is honoured.")
