"""The distribution's origin path is read, or given with --origin-path; it is never guessed."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import DEMO, AwsWorld, RunCli


def test_an_unreadable_origin_path_stops_the_deploy(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    """Found: AccessDenied on GetDistributionConfig was taken as an empty origin path, so a site deployed under
    --prefix www behind an origin path /www was invalidated at /www/index.html: nothing served was refreshed."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)

    def denied(method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        if method == "GET" and path.endswith(f"/distribution/{aws.distribution_id}/config"):
            return 403, "AccessDenied", "User is not authorized to perform: cloudfront:GetDistributionConfig"
        return None

    aws.recorder.fault = denied
    target = ["--bucket", aws.bucket, "--prefix", "www", "--distribution-id", aws.distribution_id]
    code, _out, err = run(site, *target)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"RemoteError: CloudFront distribution {aws.distribution_id}: cannot read its origin path")
    assert "cloudfront:GetDistributionConfig" in err and "--origin-path" in err, err
    assert aws.puts() == [], "nothing was uploaded"
    code, _out, err = run(site, *target, "--origin-path", "/www")
    assert code == 0, err
    (site / "index.html").write_text((site / "index.html").read_text().replace("Annual report", "Annual report 2"))
    code, _out, err = run(site, *target, "--origin-path", "/www")
    assert code == 0, err
    paths = {p for batch in aws.invalidations() for p in batch}
    assert "/index.html" in paths and not any(p.startswith("/www/") for p in paths), paths
