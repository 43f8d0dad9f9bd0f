from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, AwsWorld, RunCli, write_tree

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))


def deploy(run: RunCli, aws: AwsWorld, site: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(site, "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--json", *extra)
    return code, (json.loads(out) if out.strip() else {}), err


def small_site(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", {
        "index.html": '<link rel="stylesheet" href="css/site.css"><img src="img/logo.png"><a href="docs/">docs</a>',
        "docs/index.html": '<link rel="stylesheet" href="../css/site.css"><p>docs</p>',
        "other/index.html": '<link rel="stylesheet" href="../css/other.css"><p>other</p>',
        "css/site.css": "body{background:url(../img/bg.png)}",
        "css/other.css": "body{color:red}",
        "img/bg.png": PNG, "img/logo.png": PNG + b"logo",
        "robots.txt": "User-agent: *\n",
    })


def test_first_deploy_uploads_everything_with_headers(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    code, doc, err = deploy(run, aws, DEMO)
    assert code == 0, err
    objects = aws.objects()
    assert ".hashdeploy/current.json" in objects
    record = json.loads(objects[".hashdeploy/current.json"])
    assert record["pending_invalidation"] == [] and record["base"] is None
    served = {k for k in objects if not k.startswith(".hashdeploy/")}
    assert served == set(record["objects"])
    css = next(k for k in served if k.startswith("css/site.") and k.endswith(".css"))
    head = aws.head(css)
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "text/css; charset=utf-8"
    assert head["Metadata"]["sha256"] == record["objects"][css]["sha256"]
    page = aws.head("index.html")
    assert page["CacheControl"] == "public, max-age=0, must-revalidate, s-maxage=86400"
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert aws.head("js/" + next(k for k in served if k.startswith("js/app.") and k.endswith(".js"))[3:])[
        "ContentType"] == "text/javascript; charset=utf-8"
    assert not any("x-amz-acl" in r.headers for r in aws.recorder.log), "no ACL unless configured"
    assert doc["invalidation"]["paths"] == [] and aws.invalidations() == []


def test_upload_order_is_assets_then_stable_then_html(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    code, doc, err = deploy(run, aws, DEMO)
    assert code == 0, err
    keys = [p.split("/", 2)[2] for p in aws.puts()]
    classes = {a["key"]: a["class"] for a in doc["plan"]}
    phase = [0 if classes[k] != "stable" else (2 if k.endswith(".html") else 1) for k in keys]
    assert phase == sorted(phase), list(zip(keys, phase, strict=False))
    last_writes = [r.path for r in aws.recorder.writes()][-2:]
    assert all("/.hashdeploy/" in p for p in last_writes), "the record commits the deploy after every object"


def test_redeploy_with_nothing_changed_writes_nothing(run: RunCli, aws: AwsWorld) -> None:
    assert deploy(run, aws, DEMO)[0] == 0
    aws.recorder.clear()
    code, doc, _ = deploy(run, aws, DEMO)
    assert code == 0
    assert aws.recorder.writes() == []
    assert doc["uploaded"] == 0 and doc["invalidation"]["paths"] == []
    reads = [r for r in aws.recorder.log if r.method == "GET" and "list-type" in r.query]
    assert reads == [], "planning must not list the bucket"


def test_one_image_changed(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    (site / "img/bg.png").write_bytes(PNG + b"new background")
    aws.recorder.clear()
    code, doc, err = deploy(run, aws, site)
    assert code == 0, err
    uploaded = sorted(a["key"] for a in doc["plan"] if a["action"] == "upload")
    assert [k.split(".")[0] for k in uploaded] == ["css/site", "docs/index", "img/bg", "index"]
    assert sorted(p.split("/", 2)[2] for p in aws.puts()) == uploaded
    assert doc["invalidation"]["paths"] == ["/", "/docs/", "/docs/index.html", "/index.html"]
    assert aws.invalidations() == [["/", "/docs/", "/docs/index.html", "/index.html"]]


def test_deleted_page_is_invalidated_and_kept(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    (site / "other/index.html").unlink()
    code, doc, _ = deploy(run, aws, site)
    assert code == 0
    assert doc["removed_kept"] == ["css/" + next(k for k in doc["removed_kept"] if "other" in k)[4:], "other/index.html"]
    assert "other/index.html" in aws.objects()
    assert doc["invalidation"]["paths"] == ["/other/", "/other/index.html"]


def test_dry_run_makes_no_write(run: RunCli, aws: AwsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = small_site(tmp_path)
    code, out, err = run(site, "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--dry-run")
    assert code == 0, err
    assert aws.recorder.writes() == []
    assert "upload   index.html  (new; stable; public, max-age=0, must-revalidate, s-maxage=86400)" in out
    assert out.strip().splitlines()[-1].startswith(f"dry run for s3://{aws.bucket}/: would upload 8,")
    assert deploy(run, aws, site)[0] == 0
    (site / "robots.txt").write_text("changed")
    aws.recorder.clear()
    code, out, err = run(site, "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--dry-run")
    assert aws.recorder.writes() == []
    assert "invalidate /robots.txt" in out and "would invalidate 1 path(s) (1 billed)" in out


def test_headers_changed_uses_a_metadata_copy(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    aws.recorder.clear()
    code, doc, _ = deploy(run, aws, site, "--cache-control", "robots.txt=public, max-age=3600")
    assert code == 0
    assert [(a["key"], a["action"]) for a in doc["plan"] if a["action"] != "skip"] == [("robots.txt", "headers")]
    copies = [r for r in aws.recorder.writes() if "x-amz-copy-source" in r.headers]
    assert [r.path.split("/", 2)[2] for r in copies] == ["robots.txt"]
    assert aws.head("robots.txt")["CacheControl"] == "public, max-age=3600"
    assert doc["invalidation"]["paths"] == ["/robots.txt"]


def test_endpoint_from_standard_variables_only(run: RunCli, aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    url = aws.server.url
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFRONT", url)
    code, doc, err = deploy(run, aws, DEMO)
    assert code == 0, err
    assert doc["uploaded"] == 23


def test_prefix_and_target_url(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    code, out, err = run(site, "--target", f"s3://{aws.bucket}/www/site", "--distribution-id", aws.distribution_id,
                         "--json")
    assert code == 0, err
    assert "www/site/index.html" in aws.objects("www/")
    (site / "robots.txt").write_text("x")
    code, out, err = run(site, "--target", f"s3://{aws.bucket}/www/site", "--distribution-id", aws.distribution_id,
                         "--json")
    assert json.loads(out)["invalidation"]["paths"] == ["/www/site/robots.txt"]
    code, out, err = run(site, "--target", f"s3://{aws.bucket}/www/site", "--distribution-id", aws.distribution_id,
                         "--json", "--origin-path", "/www/site")
    assert code == 0


def test_many_changed_pages_collapse_to_wildcards(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    # 7 x 60 pages: 840 changed URLs, well over the budget of 100 (at 7 x 500 the test took 80 s of uploads)
    files = {f"sec{s}/p{p}/index.html": f"<p>{s}-{p}</p>" for s in range(7) for p in range(60)}
    files["index.html"] = "<p>home</p>"
    site = write_tree(tmp_path / "big", files)
    assert deploy(run, aws, site, "--workers", "32")[0] == 0
    for s in range(7):
        for p in range(60):
            (site / f"sec{s}/p{p}/index.html").write_text(f"<p>{s}-{p} v2</p>")
    code, doc, err = deploy(run, aws, site, "--workers", "32")
    assert code == 0, err
    inv = doc["invalidation"]
    assert inv["changed_urls"] == 840
    assert inv["paths"] == [f"/sec{s}/*" for s in range(7)]
    assert inv["billed_paths"] == 7 and inv["flushed_unchanged"] == 0
    assert doc["uploaded"] == 420


def test_verify_repairs_drift(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    lost = next(k for k in aws.objects() if k.startswith("img/logo."))
    aws.s3.delete_object(Bucket=aws.bucket, Key=lost)
    code, doc, _ = deploy(run, aws, site)
    assert code == 0 and doc["uploaded"] == 0, "without --verify the record is trusted"
    code, doc, _ = deploy(run, aws, site, "--verify")
    assert code == 0 and [(a["key"], a["reason"]) for a in doc["plan"] if a["action"] == "upload"] == [
        (lost, "missing: the record lists it but the bucket lacks it")]
    assert lost in aws.objects()


def test_wait_polls_until_complete(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    (site / "robots.txt").write_text("changed")
    aws.recorder.clear()
    code, doc, err = deploy(run, aws, site, "--wait", "--wait-timeout", "30")
    assert code == 0 and doc["warnings"] == [], err
    polls = [r for r in aws.recorder.log if r.method == "GET" and "/invalidation/" in r.path]
    assert len(polls) >= 1, "moto answers COMPLETED in capitals: compared case-insensitively"


def test_large_file_goes_multipart(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = write_tree(tmp_path / "big", {"index.html": '<video src="v.mp4"></video>'})
    with open(site / "v.mp4", "wb") as f:
        f.write(bytes(range(256)) * (80 * 1024))  # 20 MiB
    code, doc, err = deploy(run, aws, site)
    assert code == 0, err
    assert any(r.method == "POST" and "uploads" in r.query for r in aws.recorder.log), "CreateMultipartUpload"
    key = next(k for k in aws.objects() if k.endswith(".mp4"))
    assert aws.head(key)["ContentLength"] == 20 * 1024 * 1024


def test_control_characters_in_a_name_are_refused(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = write_tree(tmp_path / "ctl", {"index.html": "<p>", "bad\x01name.txt": "x"})
    code, _, err = run(site, "--bucket", aws.bucket)
    assert code == 1 and "holds control characters; rename the file" in err
    assert aws.recorder.writes() == []
