from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from conftest import DEMO, AwsWorld, RunCli

from hashdeploy.backends.local import LocalBackend
from hashdeploy.engine import build
from hashdeploy.errors import ConflictError, LockedError, PruneAborted, RollbackError
from hashdeploy.publish.history import history
from hashdeploy.publish.lock import locked
from hashdeploy.publish.prune import prune
from hashdeploy.publish.rollback import rollback
from hashdeploy.publish.run import deploy
from hashdeploy.settings import Settings


class Clock:
    """A controllable clock for records and prune ages."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


# site, settings, target, clock, ship() -> the id of the deploy it made
World = tuple[Path, Settings, LocalBackend, Clock, Callable[[], str]]


@pytest.fixture
def world(tmp_path: Path) -> World:
    """A site with three versions deployed to a local directory target."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    cfg = Settings(site=site, out=tmp_path / "out")
    backend = LocalBackend(tmp_path / "www")
    clock = Clock()

    def ship() -> str:
        assert cfg.out is not None
        report = deploy(build(cfg), cfg.out, backend, cfg, clock=clock)
        clock.advance(days=1)
        assert report.deploy_id is not None
        return report.deploy_id

    return site, cfg, backend, clock, ship


def served(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith(".hashdeploy")}


def test_history_rollback_and_roll_forward(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    v1 = ship()
    page_v1 = (tmp_path / "www/index.html").read_bytes()
    (site / "css/base.css").write_text("html { color: navy; }\n")
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /v2/\n")
    v2 = ship()
    page_v2 = (tmp_path / "www/index.html").read_bytes()
    assert page_v1 != page_v2
    entries = history(backend)
    assert [e["id"] for e in entries] == [v2, v1] and [e["live"] for e in entries] == [True, False]
    report = rollback(backend, cfg, clock=clock)
    assert report.target_id == v1
    assert sorted(report.restored) == ["404.html", "about/index.html", "index.html", "robots.txt"]
    assert (tmp_path / "www/index.html").read_bytes() == page_v1
    assert (tmp_path / "www/robots.txt").read_text() == "User-agent: *\nAllow: /\nSitemap: https://example.com/sitemap.xml\n"
    top = history(backend)[0]
    assert top["live"] and top["kind"] == "rollback" and top["rollback_of"] == v1
    # every page served still points at objects that exist: v1's assets were never deleted
    forward = rollback(backend, cfg, v2, clock=clock)
    assert forward.target_id == v2 and (tmp_path / "www/index.html").read_bytes() == page_v2
    with pytest.raises(RollbackError, match="is already live"):
        rollback(backend, cfg, history(backend)[0]["id"], clock=clock)
    with pytest.raises(RollbackError, match="no deploy 'nope' is recorded"):
        rollback(backend, cfg, "nope", clock=clock)


def test_rollback_refuses_when_assets_were_pruned(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    v1 = ship()
    old_css = next(k for k in served(tmp_path / "www") if k.startswith("css/site."))
    (site / "css/base.css").write_text("html { color: navy; }\n")
    ship()
    (tmp_path / "www" / old_css).unlink()
    before = served(tmp_path / "www")
    with pytest.raises(RollbackError, match=f"deploy {v1} cannot be restored: 1 of its assets were pruned"):
        rollback(backend, cfg, clock=clock)
    assert served(tmp_path / "www") == before


def test_prune_keeps_recent_deploys_and_recently_live_assets(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    ids = []
    for i in range(4):
        (site / "css/base.css").write_text(f"html {{ --v: {i}; }}\n")
        ids.append(ship())
    www = tmp_path / "www"
    css = sorted(k for k in served(www) if k.startswith("css/base."))
    assert len(css) == 4
    plan = prune(backend, cfg, keep=2, older_than=2 * 86400, dry_run=True, clock=clock)
    deleted = sorted(k for k, _ in plan.deletions)
    kept = {k for i in ids[2:] for k in json.loads(cast(bytes, backend.read_record(f"deploys/{i}.json")))["objects"]}
    # versions 0 and 1 left the live site 3 and 2 days ago and are not among the last 2 deploys
    assert [k for k in deleted if k.startswith("css/base.")] == sorted(set(css) - kept)
    assert any(k.startswith(".hashdeploy/stable/") for k in deleted), "old kept copies of pages go too"
    assert all("off the live site for" in r for _, r in plan.deletions)
    younger = prune(backend, cfg, keep=2, older_than=2.5 * 86400, dry_run=True, clock=clock)
    # with 2.5 days only version 0 (off the site for 3 days) goes; version 1 left 2 days ago
    assert len([k for k, _ in younger.deletions if k.startswith("css/base.")]) == 1
    assert served(www) and all((www / k).exists() for k in deleted), "a dry run deletes nothing"
    real = prune(backend, cfg, keep=2, older_than=2 * 86400, clock=clock)
    assert sorted(k for k, _ in real.deletions) == deleted
    assert not any((www / k).exists() for k in deleted)
    # the retained deploys can still be rolled back to
    rollback(backend, cfg, ids[2], clock=clock)


def test_prune_safety_caps(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    for i in range(3):
        (site / "css/base.css").write_text(f"html {{ --v: {i}; }}\n")
        ship()
    clock.advance(days=30)
    with pytest.raises(PruneAborted, match="over --max-deletes 1; nothing was deleted"):
        prune(backend, cfg, keep=1, max_deletes=1, clock=clock)
    with pytest.raises(Exception, match="shorter than the stable files' caching time"):
        prune(backend, cfg, keep=1, older_than=60, clock=clock)


def test_prune_refuses_to_delete_more_than_half(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    ship()
    for version in range(3):
        for path in list(site.rglob("*")):
            if path.is_file() and path.suffix in (".png", ".woff2", ".js", ".css", ".map", ".webmanifest"):
                path.write_bytes(path.read_bytes() + f"\n/* v{version} */".encode())
        ship()
    clock.advance(days=30)
    with pytest.raises(PruneAborted, match="more than half"):
        prune(backend, cfg, keep=1, max_deletes=10_000, clock=clock)


def test_delete_removed_stable_files(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    ship()
    (site / "docs/report.pdf").unlink()
    ship()
    assert (tmp_path / "www/docs/report.pdf").exists(), "a deploy never deletes"
    plain = prune(backend, cfg, keep=5, clock=clock)
    assert plain.removed_stable == [] and (tmp_path / "www/docs/report.pdf").exists()
    report = prune(backend, cfg, keep=5, delete_removed=True, clock=clock)
    assert report.removed_stable == ["docs/report.pdf"] and not (tmp_path / "www/docs/report.pdf").exists()


def test_lock_blocks_a_second_run_and_can_be_broken(world: World, tmp_path: Path) -> None:
    site, cfg, backend, clock, ship = world
    ship()
    (site / "robots.txt").write_text("v2")
    backend.write_record("lock.json", json.dumps({"host": "ci-runner-7", "pid": 4242, "user": "ci",
                                                  "operation": "deploy", "started": "2026-01-01T10:00:00+00:00"}).encode(),
                         if_absent=True)
    with pytest.raises(LockedError, match="locked by ci@ci-runner-7 pid 4242 \\(deploy\\) since 2026-01-01T10:00:00"):
        ship()
    assert cfg.out is not None
    report = deploy(build(cfg), cfg.out, backend, cfg, clock=clock, break_lock=True)
    assert report.uploaded == 1 and any("broke the lock of ci@ci-runner-7" in w for w in report.warnings)
    assert backend.read_record("lock.json") is None


def test_lock_of_a_dead_local_process_is_taken_over(world: World) -> None:
    import os
    import socket
    import subprocess

    site, cfg, backend, clock, ship = world
    dead = subprocess.Popen(["true"])
    dead.wait()
    backend.write_record("lock.json", json.dumps({"host": socket.gethostname(), "pid": dead.pid, "user": "me",
                                                  "operation": "deploy", "started": "x"}).encode(), if_absent=True)
    warnings: list[str] = []
    with locked(backend, "deploy", warn=warnings.append):
        assert json.loads(cast(bytes, backend.read_record("lock.json")))["pid"] == os.getpid()
    assert warnings and "no longer running" in warnings[0]


def test_current_is_written_with_if_match(world: World) -> None:
    site, cfg, backend, clock, ship = world
    ship()
    record = backend.read_record_tag("current.json")
    assert record is not None
    data, tag = record
    backend.write_record("current.json", data + b" ", if_match=tag)
    with pytest.raises(ConflictError):
        backend.write_record("current.json", data, if_match=tag)


def test_lifecycle_commands_against_moto(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    target = ["--bucket", aws.bucket, "--distribution-id", aws.distribution_id]
    assert run(site, *target, "--quiet")[0] == 0
    v1_page = aws.objects()["index.html"]
    (site / "index.html").write_text((site / "index.html").read_text().replace("Demo", "Demo v2"))
    assert run(site, *target, "--quiet")[0] == 0
    code, out, err = run("history", *target, "--json")
    entries = json.loads(out)
    assert code == 0 and len(entries) == 2 and entries[0]["live"]
    code, out, err = run("rollback", *target, "--dry-run")
    assert code == 0 and out.startswith("dry run: rollback of") and "would restore 1 stable file(s)" in out
    assert aws.objects()["index.html"] != v1_page
    aws.recorder.clear()
    code, out, err = run("rollback", *target)
    assert code == 0, err
    assert aws.objects()["index.html"] == v1_page
    head = aws.head("index.html")
    assert head["CacheControl"] == "public, max-age=0, must-revalidate, s-maxage=86400"
    assert ["/", "/index.html"] in aws.invalidations()
    code, out, err = run("prune", *target, "--dry-run")
    assert code == 0 and "dry run: would delete 0 object(s)" in out
    code, out, err = run("history", *target)
    assert out.splitlines()[0].startswith("* ") and "rollback to" in out.splitlines()[0]


def test_without_rollback_copies_nothing_is_kept_and_rollback_says_why(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    cfg = Settings(site=site, out=tmp_path / "out", rollback_copies=False)
    assert cfg.out is not None
    backend = LocalBackend(tmp_path / "www")
    clock = Clock()
    deploy(build(cfg), cfg.out, backend, cfg, clock=clock)
    (site / "robots.txt").write_text("v2")
    deploy(build(cfg), cfg.out, backend, cfg, clock=clock)
    assert not (tmp_path / "www/.hashdeploy/stable").exists()
    with pytest.raises(RollbackError, match="no kept copy of robots.txt .1 file.s.; pruned, or replaced by a deploy"):
        rollback(backend, cfg, clock=clock)
