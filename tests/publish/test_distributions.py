"""Several CloudFront distributions in front of one bucket: each is invalidated on its own, failures stay per id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import AwsWorld, RunCli, invalidations, second_distribution, write_tree

from hashdeploy.settings import Settings
from hashdeploy.sources import load_settings


def site_v1(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", {
        "index.html": '<link rel="stylesheet" href="css/site.css"><a href="docs/">docs</a>',
        "docs/index.html": '<link rel="stylesheet" href="../css/site.css"><p>docs</p>',
        "css/site.css": "body{color:red}",
        "robots.txt": "User-agent: *\n",
    })


def deploy(run: RunCli, aws: AwsWorld, site: Path, dists: list[str], *extra: str) -> tuple[int, dict[str, Any], str]:
    flags = [x for d in dists for x in ("--distribution-id", d)]
    code, out, err = run(site, "--bucket", aws.bucket, *flags, "--json", *extra)
    return code, (json.loads(out) if out.strip() else {}), err


def current(aws: AwsWorld, prefix: str = "") -> dict[str, Any]:
    return dict(json.loads(aws.objects(prefix)[prefix + ".hashdeploy/current.json"]))


def test_each_distribution_gets_its_own_invalidation_under_its_own_origin_path(
        run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    # the same objects under s3://bucket/www/: one distribution serves the bucket root (/www/docs/), the other has
    # origin path /www (/docs/)
    other = second_distribution(aws, "/www")
    site = site_v1(tmp_path)
    code, doc, err = deploy(run, aws, site, [aws.distribution_id, other], "--prefix", "www")
    assert code == 0, err
    (site / "docs" / "index.html").write_text("<p>docs v2</p>")
    code, doc, err = deploy(run, aws, site, [aws.distribution_id, other], "--prefix", "www")
    assert code == 0, err
    assert invalidations(aws, aws.distribution_id) == [["/www/docs/", "/www/docs/index.html"]]
    assert invalidations(aws, other) == [["/docs/", "/docs/index.html"]]
    by_id = {d["id"]: d for d in doc["distributions"]}
    assert set(by_id) == {aws.distribution_id, other}
    assert all(d["invalidation_id"] and not d["pending"] and d["error"] is None for d in by_id.values())
    record = current(aws, "www/")
    assert record["pending_invalidation"] == [] and record["pending_by_distribution"] == {}
    assert set(record["invalidation_ids"]) == {aws.distribution_id, other}
    # each distribution's request carries its own CallerReference
    refs = set()
    for dist in (aws.distribution_id, other):
        for item in aws.cf.list_invalidations(DistributionId=dist)["InvalidationList"]["Items"]:
            inv = aws.cf.get_invalidation(DistributionId=dist, Id=item["Id"])["Invalidation"]
            refs.add(inv["InvalidationBatch"]["CallerReference"])
    assert len(refs) == 2
    assert doc["invalidation"]["paths"] == ["/www/docs/", "/www/docs/index.html"]


def test_one_failing_distribution_is_reported_by_id_and_the_other_is_still_invalidated(
        run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    other = second_distribution(aws)
    site = site_v1(tmp_path)
    assert deploy(run, aws, site, [other, aws.distribution_id])[0] == 0
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    # the first distribution named refuses: the second must still be invalidated
    aws.recorder.fault = lambda m, p, h: (403, "AccessDenied", "denied") if (
        m == "POST" and p.endswith(f"/distribution/{other}/invalidation")) else None
    code, doc, err = deploy(run, aws, site, [other, aws.distribution_id])
    assert code == 1 and doc == {} and err.count("\n") == 1 and "Traceback" not in err
    assert other in err and "access denied" in err and f"{aws.distribution_id} invalidated" in err
    assert invalidations(aws, aws.distribution_id) == [["/robots.txt"]]
    assert invalidations(aws, other) == []
    record = current(aws)
    assert record["objects"]["robots.txt"]["size"] == len("User-agent: *\nDisallow: /private/\n"), "the deploy is live"
    assert record["pending_invalidation"] == [] and record["pending_by_distribution"] == {other: ["robots.txt"]}
    # the next run sends the owed paths to the failed distribution only, and uploads nothing
    aws.recorder.fault = None
    code, doc, err = deploy(run, aws, site, [other, aws.distribution_id])
    assert code == 0 and doc["uploaded"] == 0, err
    assert invalidations(aws, other) == [["/robots.txt"]]
    assert invalidations(aws, aws.distribution_id) == [["/robots.txt"]], "not invalidated twice"
    assert current(aws)["pending_by_distribution"] == {}
    code, doc, err = deploy(run, aws, site, [other, aws.distribution_id])
    assert code == 0 and len(aws.cf.list_invalidations(DistributionId=other)["InvalidationList"]["Items"]) == 1


def test_a_deferred_distribution_keeps_its_debt_and_a_new_change_adds_to_it(
        run: RunCli, aws: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDEPLOY_INVALIDATION_PATIENCE", "0")
    other = second_distribution(aws)
    site = site_v1(tmp_path)
    assert deploy(run, aws, site, [aws.distribution_id, other])[0] == 0
    (site / "robots.txt").write_text("v2")
    aws.recorder.fault = lambda m, p, h: (400, "TooManyInvalidationsInProgress", "busy") if (
        m == "POST" and p.endswith(f"/distribution/{other}/invalidation")) else None
    code, doc, err = deploy(run, aws, site, [aws.distribution_id, other])
    assert code == 0 and len(doc["warnings"]) == 1 and other in doc["warnings"][0], err
    assert doc["invalidation_pending"] is True
    assert current(aws)["pending_by_distribution"] == {other: ["robots.txt"]}
    # still busy, and the docs page changes too: the first distribution gets only the new change
    (site / "docs" / "index.html").write_text("<p>v3</p>")
    code, doc, err = deploy(run, aws, site, [aws.distribution_id, other])
    assert code == 0, err
    assert current(aws)["pending_by_distribution"] == {other: ["docs/index.html", "robots.txt"]}
    aws.recorder.fault = None
    code, doc, err = deploy(run, aws, site, [aws.distribution_id, other])
    assert code == 0 and doc["uploaded"] == 0
    assert invalidations(aws, other) == [["/docs/", "/docs/index.html", "/robots.txt"]]
    assert sorted(invalidations(aws, aws.distribution_id)) == [["/docs/", "/docs/index.html"], ["/robots.txt"]]
    assert current(aws)["pending_by_distribution"] == {} and current(aws)["pending_invalidation"] == []


def test_wait_polls_every_distribution(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    other = second_distribution(aws)
    site = site_v1(tmp_path)
    assert deploy(run, aws, site, [aws.distribution_id, other])[0] == 0
    (site / "robots.txt").write_text("v2")
    aws.recorder.clear()
    code, doc, err = deploy(run, aws, site, [aws.distribution_id, other], "--wait")
    assert code == 0 and doc["warnings"] == [], err
    polled = {r.path.split("/distribution/")[1].split("/")[0] for r in aws.recorder.log
              if r.method == "GET" and "/invalidation/" in r.path}
    assert polled == {aws.distribution_id, other}


def test_rollback_invalidates_every_distribution(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    other = second_distribution(aws)
    site = site_v1(tmp_path)
    assert deploy(run, aws, site, [aws.distribution_id, other])[0] == 0
    (site / "robots.txt").write_text("v2")
    assert deploy(run, aws, site, [aws.distribution_id, other])[0] == 0
    flags = ["--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--distribution-id", other, "--json"]
    code, out, err = run("rollback", *flags)
    assert code == 0, err
    doc = json.loads(out)
    assert {d["id"] for d in doc["distributions"] if d["invalidation_id"]} == {aws.distribution_id, other}
    assert invalidations(aws, other) == [["/robots.txt"], ["/robots.txt"]]
    assert invalidations(aws, aws.distribution_id) == [["/robots.txt"], ["/robots.txt"]]


def test_a_distribution_unknown_stops_the_deploy_before_any_write(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    code, doc, err = deploy(run, aws, site_v1(tmp_path), [aws.distribution_id, "ENOSUCHDIST"])
    assert code == 1 and "ENOSUCHDIST" in err and "check --distribution-id" in err and err.count("\n") == 1
    assert aws.recorder.writes() == []


def test_distribution_lists_in_every_source(tmp_path: Path) -> None:
    (tmp_path / "hashdeploy.toml").write_text('distribution_id = ["E1AAA", "E2BBB"]\n')
    assert load_settings(tmp_path, {}, env={}, directory=tmp_path).distribution_id == ("E1AAA", "E2BBB")
    (tmp_path / "hashdeploy.toml").write_text('distribution_id = "E1AAA"\n')
    assert load_settings(tmp_path, {}, env={}, directory=tmp_path).distribution_id == ("E1AAA",)
    env = {"HASHDEPLOY_DISTRIBUTION_ID": '["E3CCC", "E4DDD"]'}
    assert load_settings(tmp_path, {}, env=env, directory=tmp_path).distribution_id == ("E3CCC", "E4DDD")
    assert Settings(site=tmp_path, distribution_id="E5EEE").distribution_id == ("E5EEE",)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="named twice"):
        Settings(site=tmp_path, distribution_id=("E1AAA", "E1AAA"))
    with pytest.raises(Exception, match="not a CloudFront distribution id"):
        Settings(site=tmp_path, distribution_id=("https://d111.cloudfront.net",))


def test_prune_invalidates_removed_pages_in_every_distribution(aws: AwsWorld, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    import hashdeploy
    from hashdeploy.engine import build
    from hashdeploy.publish.prune import prune
    from hashdeploy.publish.run import deploy as publish

    other = second_distribution(aws, "/www")
    site = site_v1(tmp_path)
    cfg = Settings(site=site, out=tmp_path / "out", bucket=aws.bucket, prefix="www",
                   distribution_id=(aws.distribution_id, other))
    target = hashdeploy.open_target(cfg)
    assert [d.served_prefix for d in target.distributions] == ["/www/", "/"]
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    assert cfg.out is not None
    for _ in range(2):
        publish(build(cfg), cfg.out, target.backend, cfg, distributions=target.distributions, clock=lambda: now[0])
        (site / "docs" / "index.html").unlink(missing_ok=True)
        now[0] += timedelta(days=1)
    now[0] += timedelta(days=30)
    report = prune(target.backend, cfg, keep=5, delete_removed=True, served_prefix=target.served_prefix, cdn=True,
                   distributions=target.distributions, clock=lambda: now[0])
    assert report.removed_stable == ["docs/index.html"]
    assert invalidations(aws, aws.distribution_id)[-1] == ["/www/docs/", "/www/docs/index.html"]
    assert invalidations(aws, other)[-1] == ["/docs/", "/docs/index.html"]


def test_mkdocs_plugin_takes_one_distribution_or_a_list() -> None:
    from hashdeploy.integrations.mkdocs import HashdeployPlugin

    for given, expected in (("E1AAA", ["E1AAA"]), (["E1AAA", "E2BBB"], ["E1AAA", "E2BBB"])):
        plugin = HashdeployPlugin()
        assert plugin.load_config({"distribution_id": given}) == ([], [])
        assert plugin.config["distribution_id"] == expected
    errors, _ = HashdeployPlugin().load_config({"distribution_id": 5})
    assert [name for name, _ in errors] == ["distribution_id"]
