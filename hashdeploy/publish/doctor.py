"""`doctor` rules, bucket side: what was read from S3 and CloudFront in, findings out (pure, no I/O).

The facts are plain dicts shaped as the AWS APIs return them. A value doctor could not read is an `Unread`
with the reason, and every rule that needs it says "not checked" instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

ERROR, WARNING, OK = "error", "warning", "ok"
RECORDS = ".hashdeploy/"
CLOUDFRONT_SERVICE = "cloudfront.amazonaws.com"


@dataclass(frozen=True)
class Unread:
    """A configuration doctor could not read, and the one-line reason (a permission, an API the store lacks)."""

    reason: str


@dataclass(frozen=True)
class Finding:
    """One line of doctor's report: a check id, its severity, what was seen and why it matters, and the fix."""

    check: str
    severity: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """The finding as one line of text."""
        return f"{self.severity:<7} {self.check}: {self.message}" + (f" Fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class BucketFacts:
    """The bucket's configuration as S3 returns it (None: not configured)."""

    bucket: str
    prefix: str
    policy: dict[str, Any] | None | Unread
    public_access_block: dict[str, Any] | None | Unread
    ownership: str | None | Unread
    acl_grants: list[dict[str, Any]] | Unread
    website: dict[str, Any] | None | Unread


@dataclass(frozen=True)
class DistributionFacts:
    """One distribution (GetDistribution's `Distribution`) and what its behaviors refer to, read by id or ARN."""

    id: str
    distribution: dict[str, Any] | Unread
    missing: bool = False
    cache_policies: Mapping[str, dict[str, Any] | Unread] = field(default_factory=dict)
    functions: Mapping[str, str | Unread] = field(default_factory=dict)
    access_controls: Mapping[str, dict[str, Any] | Unread] = field(default_factory=dict)


@dataclass(frozen=True)
class Facts:
    """Everything doctor read, plus the settings it compares them with."""

    bucket: BucketFacts
    distributions: tuple[DistributionFacts, ...]
    serving: tuple[str, ...] | Unread  # every distribution with an origin on the bucket (ListDistributions)
    acl: str | None = None
    origin_path: str | None = None


def diagnose(facts: Facts) -> list[Finding]:
    """Every finding, bucket first, then each distribution in the order given."""
    from hashdeploy.publish.doctor_cdn import distribution_findings

    website_used = any(_uses_website(d, facts.bucket.bucket) for d in facts.distributions)
    arns = [str(d.distribution.get("ARN", "")) for d in facts.distributions if not isinstance(d.distribution, Unread)]
    out = [*bucket_findings(facts, website_used=website_used, account=account_of(next(iter(arns), "")))]
    out += _coverage(facts)
    for dist in facts.distributions:
        out += distribution_findings(dist, facts)
    return out


def _uses_website(dist: DistributionFacts, bucket: str) -> bool:
    origin = None if isinstance(dist.distribution, Unread) else bucket_origin(dist.distribution, bucket)
    return origin is not None and ".s3-website" in origin["DomainName"]


def bucket_origin(dist: dict[str, Any], bucket: str) -> dict[str, Any] | None:
    """The distribution's origin on the bucket (REST or website endpoint), if any."""
    for origin in dist.get("DistributionConfig", {}).get("Origins", {}).get("Items", []) or []:
        if str(origin.get("DomainName", "")).startswith((f"{bucket}.s3.", f"{bucket}.s3-website", f"{bucket}.s3-")):
            return dict(origin)
    return None


def behaviors(conf: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path pattern, behavior) for the default behavior ("*") and every other one."""
    out = [("*", conf.get("DefaultCacheBehavior", {}))]
    return out + [(str(b.get("PathPattern")), b) for b in conf.get("CacheBehaviors", {}).get("Items", []) or []]


def bucket_findings(facts: Facts, *, website_used: bool, account: str = "ACCOUNT_ID") -> list[Finding]:
    """Block Public Access, ACLs against --acl, public reads, and the records read straight from S3."""
    b = facts.bucket
    out = [_public_access_block(b, website_used), _acls(b, facts.acl)]
    public = public_read(b, b.prefix + "index.html")
    if isinstance(public, Unread):
        out.append(Finding("bucket-public", WARNING, f"not checked: {public.reason}", ""))
    elif public and not website_used:
        out.append(Finding("bucket-public", WARNING,
                           f"s3://{b.bucket} is readable by anyone ({public}): the site can be fetched around "
                           "CloudFront, its cache and its HTTPS redirect.",
                           "serve it through Origin Access Control and remove the public grant."))
    else:
        out.append(Finding("bucket-public", OK, f"s3://{b.bucket} is " + (
            f"public ({public}), as the website endpoint needs." if public else "not readable by anyone.")))
    records = public_read(b, b.prefix + RECORDS + "current.json")
    if isinstance(records, str) and records:
        out.append(Finding("records-exposed", ERROR,
                           f"s3://{b.bucket}/{b.prefix}{RECORDS} is readable by anyone ({records}): the deploy "
                           "records list every object of every deploy.", "add to the bucket policy: " +
                           json.dumps(deny_records(b, account))))
    return out


def _public_access_block(b: BucketFacts, website_used: bool) -> Finding:
    pab = b.public_access_block
    if isinstance(pab, Unread):
        return Finding("public-access-block", WARNING, f"not checked: {pab.reason}")
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [n for n in names if not (pab or {}).get(n)]
    if not off:
        return Finding("public-access-block", OK, f"s3://{b.bucket}: Block Public Access is on.")
    if website_used:
        return Finding("public-access-block", OK, f"s3://{b.bucket}: Block Public Access is off ({', '.join(off)}), "
                       "as the website endpoint in front of it needs.")
    return Finding("public-access-block", WARNING,
                   f"s3://{b.bucket}: Block Public Access is off ({', '.join(off)}): a policy or ACL can make the "
                   "bucket and its deploy records public; with Origin Access Control it never needs to be.",
                   f"aws s3api put-public-access-block --bucket {b.bucket} --public-access-block-configuration "
                   "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")


def _acls(b: BucketFacts, acl: str | None) -> Finding:
    own, pab = b.ownership, b.public_access_block
    if isinstance(own, Unread):
        return Finding("acl", WARNING, f"not checked: {own.reason}")
    enforced = own == "BucketOwnerEnforced"
    state = "ACLs disabled (BucketOwnerEnforced)" if enforced else f"ACLs enabled ({own or 'ObjectWriter'})"
    if acl and enforced and acl != "bucket-owner-full-control":
        return Finding("acl", ERROR, f"--acl {acl}, but s3://{b.bucket} has {state}: every upload is refused "
                       "(AccessControlListNotSupported).", "drop --acl (serve through Origin Access Control).")
    if acl in ("public-read", "public-read-write") and isinstance(pab, dict) and pab.get("BlockPublicAcls"):
        return Finding("acl", ERROR, f"--acl {acl}, but s3://{b.bucket} blocks public ACLs: every upload is refused "
                       "(AccessDenied).", "drop --acl (serve through Origin Access Control).")
    if acl in ("public-read", "public-read-write"):
        return Finding("acl", WARNING, f"--acl {acl} makes every object, deploy records included, readable around "
                       "CloudFront.", "drop --acl and serve through Origin Access Control.")
    public = [g for g in (b.acl_grants if isinstance(b.acl_grants, list) else [])
              if str(g.get("Grantee", {}).get("URI", "")).endswith(("/AllUsers", "/AuthenticatedUsers"))]
    if public:
        return Finding("acl", ERROR, f"s3://{b.bucket}'s ACL grants {public[0].get('Permission')} to "
                       f"{public[0]['Grantee']['URI'].rsplit('/', 1)[1]}: anyone can list or read it.",
                       f"aws s3api put-bucket-ownership-controls --bucket {b.bucket} --ownership-controls "
                       "'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'")
    if not enforced:
        return Finding("acl", WARNING, f"s3://{b.bucket} has {state}: an object ACL can publish a file; "
                       "hashdeploy needs no ACL.", f"aws s3api put-bucket-ownership-controls --bucket {b.bucket} "
                       "--ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'")
    return Finding("acl", OK, f"s3://{b.bucket} has {state}" + (f"; --acl {acl} is accepted." if acl else "."))


def _coverage(facts: Facts) -> list[Finding]:
    """Distributions in front of the bucket that doctor (and so the deploy) was not given."""
    b, given = facts.bucket, {d.id for d in facts.distributions}
    if isinstance(facts.serving, Unread):
        return [Finding("distributions", WARNING, f"not checked which distributions serve s3://{b.bucket}: "
                        f"{facts.serving.reason}")]
    others = [i for i in facts.serving if i not in given]
    if not given:
        return [Finding("distributions", WARNING, "no --distribution-id: the distribution checks were not run" + (
            f"; distributions in front of s3://{b.bucket}: {', '.join(others)}." if others else "."),
            "pass every distribution in front of the bucket with --distribution-id.")]
    if others:
        return [Finding("distributions", ERROR, f"{', '.join(others)} also serve(s) s3://{b.bucket} but no "
                        "--distribution-id names it: deploys never invalidate it, so its users keep the old pages "
                        "for as long as it caches them.", "add --distribution-id " + " --distribution-id ".join(others))]
    return [Finding("distributions", OK, f"every distribution in front of s3://{b.bucket} is given "
                    f"({', '.join(sorted(given))}).")]


# --- bucket policies -------------------------------------------------------------------------------------------

def statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The policy's statements as a list."""
    return [s for s in _listed((policy or {}).get("Statement")) if isinstance(s, dict)]


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [] if value is None else [value]


def _covers(patterns: Any, value: str, *, fold: bool = False) -> bool:
    if fold:
        return any(fnmatchcase(value.lower(), str(p).lower()) for p in _listed(patterns))
    return any(fnmatchcase(value, str(p)) for p in _listed(patterns))


def allows(stmt: dict[str, Any], action: str, resource: str, effect: str = "Allow") -> bool:
    """Whether a statement with this effect names the action (wildcards, any case) on the resource."""
    return (stmt.get("Effect") == effect and _covers(stmt.get("Action"), action, fold=True)
            and _covers(stmt.get("Resource"), resource))


def principals(stmt: dict[str, Any], kind: str) -> list[str]:
    """The statement's principals of one kind ("AWS", "Service", "CanonicalUser"); "*" alone counts for every kind."""
    p = stmt.get("Principal")
    if p == "*":
        return ["*"]
    return [str(v) for v in _listed(p.get(kind))] if isinstance(p, dict) else []


def object_arn(bucket: str, key: str) -> str:
    """The ARN of one object."""
    return f"arn:aws:s3:::{bucket}/{key}"


def public_read(b: BucketFacts, key: str) -> str | Unread:
    """Why anyone may read the object ("" when nobody may), from the bucket policy; Unread when it was not read."""
    if isinstance(b.policy, Unread):
        return b.policy
    pab = b.public_access_block
    if isinstance(pab, dict) and pab.get("RestrictPublicBuckets"):
        return ""  # S3 ignores public policy grants then
    arn = object_arn(b.bucket, key)
    if any(allows(s, "s3:GetObject", arn, "Deny") and "*" in principals(s, "AWS") for s in statements(b.policy)):
        return ""
    for s in statements(b.policy):
        if allows(s, "s3:GetObject", arn) and "*" in principals(s, "AWS") and not s.get("Condition"):
            return f"bucket policy statement {s.get('Sid') or '#' + str(statements(b.policy).index(s) + 1)}"
    return ""


def account_of(arn: str) -> str:
    """The account id in an ARN (arn:aws:cloudfront::123456789012:distribution/E…), or a placeholder."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else "ACCOUNT_ID"


def deny_records(b: BucketFacts, account: str = "ACCOUNT_ID") -> dict[str, Any]:
    """The bucket policy statement that keeps hashdeploy's records from every reader outside the account."""
    return {"Sid": "HashdeployRecordsPrivate", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": object_arn(b.bucket, b.prefix + RECORDS + "*"),
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account}}}


def source_arns(stmt: dict[str, Any]) -> list[str]:
    """The distribution ARNs an AWS:SourceArn condition of the statement names."""
    out: list[str] = []
    for test in (stmt.get("Condition") or {}).values():
        for k, v in (test if isinstance(test, dict) else {}).items():
            if k.lower() == "aws:sourcearn":
                out += v if isinstance(v, list) else [v]
    return out


def oac_statement(bucket: str, prefix: str, dist_arn: str) -> dict[str, Any]:
    """The bucket policy statement that lets one distribution read the site through Origin Access Control."""
    return {"Sid": "CloudFrontRead", "Effect": "Allow", "Principal": {"Service": CLOUDFRONT_SERVICE},
            "Action": "s3:GetObject", "Resource": object_arn(bucket, prefix + "*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": dist_arn}}}
