"""Deploy, rollback and prune against the moto server while it fails: 5xx and SlowDown storms, a permission error
in the middle, a partial DeleteObjects failure, TooManyInvalidationsInProgress.

Each failure must be one line naming the bucket (or key, or distribution) and exit non-zero, leave the live site
consistent (every served page, and what its stylesheets and modules load, exists) and the records readable, and a
rerun without the fault must finish the job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import DEMO, AwsWorld, RunCli
from motoserver import Reply
from test_crash import broken_references, served, snapshot, unreadable_records

RESERVED = ".hashdeploy/"
SECRET = "testing-secret-do-not-print"
V2_RESTORES = ["404.html", "about/index.html", "index.html", "robots.txt"]  # the stable files v2 changes


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDEPLOY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("HASHDEPLOY_INVALIDATION_PATIENCE", "0")
    monkeypatch.setenv("HASHDEPLOY_WORKERS", "4")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    return site


def make_v2(site: Path) -> None:
    """A stylesheet colour (renames base.css, site.css and every page using it), page text and robots.txt."""
    (site / "css/base.css").write_text("html { box-sizing: border-box; color: #c00; }\n")
    (site / "index.html").write_text((site / "index.html").read_text().replace("Annual report", "Annual report 2026"))
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /v2/\n")


class Ops:
    """hashdeploy commands against the `aws` bucket and distribution, in-process or as a subprocess."""

    def __init__(self, run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
        self.run, self.aws, self.tmp = run, aws, tmp_path
        self.target = ["--bucket", aws.bucket, "--distribution-id", aws.distribution_id]

    def _doc(self, code: int, out: str, err: str) -> tuple[int, Any, str]:
        assert SECRET not in out + err
        return code, (json.loads(out) if code == 0 and out.strip() else None), err

    def deploy(self, site: Path) -> tuple[int, Any, str]:
        return self._doc(*self.run(site, *self.target, "--json"))

    def life(self, *args: str) -> tuple[int, Any, str]:
        return self._doc(*self.run(*args, *self.target, "--json"))

    def subprocess(self, *args: str | Path) -> tuple[int, str, str]:
        """Run hashdeploy in its own process (its pid is dead afterwards, so a lock it leaves can be taken over)."""
        proc = subprocess.run([sys.executable, "-m", "hashdeploy", *map(str, args), *self.target], cwd=self.tmp,
                              capture_output=True, text=True, timeout=120, env=dict(os.environ))
        assert SECRET not in proc.stdout + proc.stderr
        return proc.returncode, proc.stdout, proc.stderr

    def current(self) -> dict[str, Any]:
        return cast(dict[str, Any],
                    json.loads(self.aws.s3.get_object(Bucket=self.aws.bucket, Key=RESERVED + "current.json")["Body"].read()))

    def live(self) -> tuple[str, dict[str, Any]]:
        """The live deploy: its id and objects (a failed run may annotate the record, never replace it)."""
        record = self.current()
        return record["id"], record["objects"]

    def sound(self) -> dict[str, Any]:
        """The live site is consistent and every record parses; return the snapshot."""
        objects = snapshot(self.aws, self.aws.bucket)
        assert broken_references(objects) == []
        assert unreadable_records(objects) == []
        return objects

    def live_matches_record(self) -> None:
        """What the bucket serves is exactly what the live record says, and nothing is owed."""
        objects = self.sound()
        record = json.loads(objects[RESERVED + "current.json"].body)
        got = served(objects)
        assert {k: got.get(k) for k in record["objects"]} == {
            k: (o["sha256"], o["content_type"], o["cache_control"]) for k, o in record["objects"].items()}
        assert record["pending_invalidation"] == []
        assert RESERVED + "lock.json" not in objects

    def sent_since(self, before: list[list[str]]) -> list[list[str]]:
        """Invalidation batches created since `before` was read (whatever order moto lists them in)."""
        old = Counter(tuple(b) for b in before)
        new = []
        for batch in self.aws.invalidations():
            if old[tuple(batch)] > 0:
                old[tuple(batch)] -= 1
            else:
                new.append(batch)
        return new


@pytest.fixture
def ops(run: RunCli, aws: AwsWorld, tmp_path: Path) -> Ops:
    return Ops(run, aws, tmp_path)


Match = Callable[[str, str, dict[str, str]], bool]


def any_write(method: str, path: str, headers: dict[str, str]) -> bool:
    return method in ("PUT", "POST", "DELETE")


def page_put(method: str, path: str, headers: dict[str, str]) -> bool:
    """A write of a page (an upload or a copy), not of a record or kept copy."""
    return method == "PUT" and path.endswith(".html") and f"/{RESERVED}" not in path


class Storm:
    """Fault hook: let the first `allowed` matching writes through (or all until one `start` accepts), then fail
    every matching write with `status`/`code` until the hook is removed; with `transient`, only the first attempt
    of each request (at most `limit` of them) fails."""

    def __init__(self, status: int, code: str, *, allowed: int = 0, start: Match | None = None,
                 match: Match = any_write, transient: bool = False, limit: int = 10**9) -> None:
        self.status, self.code, self.allowed, self.start, self.match = status, code, allowed, start, match
        self.transient, self.limit = transient, limit
        self.started = start is None
        self.seen = 0
        self.failed = 0
        self.attempts: set[tuple[str, str, str]] = set()
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        if not self.match(method, path, headers):
            return None
        with self.lock:
            self.seen += 1
            if not self.started:
                assert self.start is not None
                self.started = self.start(method, path, headers)
            if not self.started or self.seen <= self.allowed:
                return None
            if self.transient:  # botocore retries with the same invocation id
                attempt = (method, path, headers.get("amz-sdk-invocation-id", ""))
                if attempt in self.attempts or len(self.attempts) >= self.limit:
                    return None
                self.attempts.add(attempt)
            self.failed += 1
        return self.status, self.code, "injected storm"


STORMS = {"5xx": (500, "InternalError"), "SlowDown": (503, "SlowDown")}


def took_over(doc: dict[str, Any]) -> bool:
    """The run reported taking over a lock left by a process that is gone."""
    return any("took over the lock" in w and "no longer running" in w for w in doc["warnings"])


def assert_one_line_failure(code: int, err: str, *needles: str) -> None:
    assert code == 1, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for needle in needles:
        assert needle in err, err


def v1_v2(ops: Ops, demo: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deploy v1, then v2; return both snapshots."""
    code, _doc, err = ops.deploy(demo)
    assert code == 0, err
    v1 = snapshot(ops.aws, ops.aws.bucket)
    make_v2(demo)
    code, _doc, err = ops.deploy(demo)
    assert code == 0, err
    return v1, snapshot(ops.aws, ops.aws.bucket)


def site_state(objects: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Served keys -> (sha256, Content-Type, Cache-Control)."""
    return served(objects)


def age_history(aws: AwsWorld, days: float) -> None:
    """Make every recorded deploy `days` older (test setup: prune judges ages from history.json)."""
    key = RESERVED + "history.json"
    doc = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    for e in doc["deploys"]:
        e["created"] = (datetime.fromisoformat(e["created"]) - timedelta(days=days)).isoformat(timespec="seconds")
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(doc).encode(), ContentType="application/json")


def prunable(ops: Ops, demo: Path) -> list[str]:
    """v1, v2 and v3 deployed long ago; return what `prune --keep 1` deletes (v1's and v2's assets and copies)."""
    v1_v2(ops, demo)
    (demo / "css/base.css").write_text("html { box-sizing: border-box; color: #0c0; }\n")
    assert ops.deploy(demo)[0] == 0
    age_history(ops.aws, 30)
    code, doc, err = ops.life("prune", "--keep", "1", "--dry-run")
    assert code == 0, err
    doomed = sorted(d["key"] for d in doc["deleted"])
    assert len(doomed) >= 4 and any(k.startswith(RESERVED + "stable/") for k in doomed), doomed
    return doomed


def present(aws: AwsWorld) -> set[str]:
    return {o["Key"] for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=aws.bucket)
            for o in page.get("Contents", [])}


# ---------------------------------------------------------------------------------------------------------------
# storms


@pytest.mark.parametrize("where", ["assets", "pages"])
@pytest.mark.parametrize("storm", list(STORMS))
def test_storm_during_deploy(ops: Ops, aws: AwsWorld, demo: Path, storm: str, where: str) -> None:
    v1_v2(ops, demo)  # v2 live; v3 goes out in the storm
    (demo / "css/base.css").write_text("html { box-sizing: border-box; color: #00c; }\n")
    (demo / "robots.txt").write_text("User-agent: *\nDisallow: /v3/\n")
    live, before = ops.live(), aws.invalidations()
    status, code_name = STORMS[storm]
    # from the second write (the lock got through, one asset did not), or from the first page (robots.txt is v3)
    hook = aws.recorder.fault = Storm(status, code_name, allowed=1) if where == "assets" else Storm(
        status, code_name, start=page_put)
    code, out, err = ops.subprocess(demo, "--quiet")
    assert_one_line_failure(code, err, "RemoteError: s3://" + aws.bucket, f"the service kept failing ({code_name})",
                            "the live site is consistent")
    assert hook.failed >= 2, "the storm must have hit"
    lock_left = RESERVED + "lock.json" in ops.sound()
    assert ops.live() == live, "the live deploy must not change"
    aws.recorder.fault = None
    code, doc, err = ops.deploy(demo)
    assert code == 0, err
    assert took_over(doc) == lock_left
    ops.live_matches_record()
    sent = {p for b in ops.sent_since(before) for p in b}
    assert {"/robots.txt", "/", "/index.html", "/about/", "/404.html"} <= sent


@pytest.mark.parametrize("storm", list(STORMS))
def test_transient_storm_is_absorbed_by_retries(ops: Ops, aws: AwsWorld, demo: Path, storm: str) -> None:
    assert ops.deploy(demo)[0] == 0
    make_v2(demo)
    # the first attempt of 6 writes fails (botocore backs off up to a second or more per retry: keep it short)
    hook = aws.recorder.fault = Storm(*STORMS[storm], transient=True, limit=6)
    code, doc, err = ops.deploy(demo)
    assert code == 0, err
    assert hook.failed == 6
    ops.live_matches_record()


@pytest.mark.parametrize("storm", list(STORMS))
def test_storm_during_rollback(ops: Ops, aws: AwsWorld, demo: Path, storm: str) -> None:
    v1, v2 = v1_v2(ops, demo)
    v2_live, before = ops.live(), aws.invalidations()
    # the lock and one copy get through (the live bodies are being kept aside), then every write fails
    aws.recorder.fault = Storm(*STORMS[storm], allowed=2)
    code, out, err = ops.subprocess("rollback")
    assert_one_line_failure(code, err, "RemoteError: s3://" + aws.bucket, f"the service kept failing ({STORMS[storm][1]})")
    lock_left = RESERVED + "lock.json" in ops.sound()
    assert ops.live() == v2_live, "nothing half-done: v2 is still the live deploy"
    assert site_state(snapshot(aws, aws.bucket)) == site_state(v2), "no stable file was restored yet"
    aws.recorder.fault = None
    code, doc, err = ops.life("rollback")
    assert code == 0, err
    assert sorted(doc["restored"]) == V2_RESTORES and took_over(doc) == lock_left
    ops.live_matches_record()
    now = site_state(snapshot(aws, aws.bucket))
    assert {k: now[k] for k in V2_RESTORES} == {k: site_state(v1)[k] for k in V2_RESTORES}
    assert [set(b) for b in ops.sent_since(before)] == [urls(V2_RESTORES)]


def test_roll_forward_after_a_rollback_that_failed_midway(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    """Found: the rerun of a rollback that had failed midway copied the v1 bytes it had already restored over the
    kept copy of the v2 body (.hashdeploy/stable/<v2 sha256>), so rolling forward served v1's robots.txt."""
    v1, v2 = v1_v2(ops, demo)
    v2_id = ops.current()["id"]
    # the copies that keep v2's bodies aside and the restore of robots.txt get through; a storm from the first page
    aws.recorder.fault = Storm(500, "InternalError", start=page_put)
    code, out, err = ops.subprocess("rollback")
    assert code == 1, err
    assert site_state(snapshot(aws, aws.bucket))["robots.txt"] == site_state(v1)["robots.txt"], "robots.txt restored"
    aws.recorder.fault = None
    assert ops.life("rollback")[0] == 0
    code, doc, err = ops.life("rollback", v2_id)
    assert code == 0, err
    now = site_state(snapshot(aws, aws.bucket))
    wrong = sorted(k for k in V2_RESTORES if now[k] != site_state(v2)[k])
    assert wrong == [], f"rolled forward to v2, but {wrong} do not hold v2's bytes"


@pytest.mark.parametrize("storm", list(STORMS))
def test_storm_during_prune(ops: Ops, aws: AwsWorld, demo: Path, storm: str) -> None:
    doomed = prunable(ops, demo)
    before = present(aws)
    aws.recorder.fault = Storm(*STORMS[storm], allowed=1)  # the lock gets through, then every write fails
    code, out, err = ops.subprocess("prune", "--keep", "1")
    assert_one_line_failure(code, err, "RemoteError: s3://" + aws.bucket, f"the service kept failing ({STORMS[storm][1]})")
    assert present(aws) - {RESERVED + "lock.json"} == before, "nothing was deleted"
    lock_left = RESERVED + "lock.json" in ops.sound()
    aws.recorder.fault = None
    code, doc, err = ops.life("prune", "--keep", "1")
    assert code == 0, err
    assert sorted(d["key"] for d in doc["deleted"]) == doomed
    assert took_over(doc) == lock_left
    assert present(aws) == before - set(doomed)
    ops.live_matches_record()


# ---------------------------------------------------------------------------------------------------------------
# a permission error in the middle


@pytest.mark.parametrize("allowed", [1, 3])
def test_access_denied_after_some_uploads(ops: Ops, aws: AwsWorld, demo: Path, allowed: int) -> None:
    v1, _ = v1_v2(ops, demo)
    (demo / "css/base.css").write_text("html { box-sizing: border-box; color: #00c; }\n")
    (demo / "robots.txt").write_text("User-agent: *\nDisallow: /v3/\n")
    live, before = ops.live(), aws.invalidations()
    objects = lambda m, p, h: m == "PUT" and f"/{RESERVED}" not in p  # noqa: E731 - site objects, not records
    # after 1 upload (an asset) or 3 (both assets and robots.txt, already replaced), every object write is denied
    aws.recorder.fault = Storm(403, "AccessDenied", allowed=allowed, match=objects)
    code, doc, err = ops.deploy(demo)
    assert_one_line_failure(code, err, f"RemoteError: s3://{aws.bucket}/", "access denied to s3:PutObject",
                            "grant it to the deploying identity")
    ops.sound()
    assert ops.live() == live
    aws.recorder.fault = None
    code, doc, err = ops.deploy(demo)
    assert code == 0, err
    ops.live_matches_record()
    assert {"/robots.txt", "/", "/index.html"} <= {p for b in ops.sent_since(before) for p in b}


# ---------------------------------------------------------------------------------------------------------------
# a partial DeleteObjects failure


class PartialDelete:
    """Intercept DeleteObjects: refuse `fail` of the keys with a per-key <Error> in a 200 response, delete the rest."""

    def __init__(self, aws: AwsWorld, fail: Callable[[list[str]], set[str]]) -> None:
        self.aws, self.fail = aws, fail
        self.refused: list[str] = []

    def __call__(self, req: Any) -> Reply | None:
        if req.method != "POST" or not re.search(r"(^|&)delete(=|&|$)", req.query):
            return None
        root = ET.fromstring(req.body)
        keys = [el.text or "" for el in root.iter() if el.tag.endswith("Key")]
        refused = self.fail(keys)
        for key in keys:
            if key not in refused:  # a plain DELETE through the same server (not intercepted)
                self.aws.s3.delete_object(Bucket=self.aws.bucket, Key=key)
        self.refused += sorted(refused)
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                + "".join(f"<Error><Key>{k}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                          for k in sorted(refused)) + "</DeleteResult>")
        return Reply(200, body.encode())


def test_partial_delete_objects_failure_during_prune(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    doomed = prunable(ops, demo)
    before = present(aws)
    hook = PartialDelete(aws, lambda keys: {k for k in keys if k.startswith(RESERVED + "stable/")} | {sorted(keys)[0]})
    aws.recorder.intercept = hook
    try:
        code, doc, err = ops.life("prune", "--keep", "1")
    finally:
        aws.recorder.intercept = None
    refused = sorted(hook.refused)
    assert 0 < len(refused) < len(doomed)
    assert_one_line_failure(code, err, f"PruneError: s3://{aws.bucket}/: {len(refused)} of {len(doomed)} deletions "
                                       f"failed (first: {sorted(refused)[0]}: AccessDenied: Access Denied); "
                                       "the rest were deleted; rerun prune")
    assert present(aws) == before - (set(doomed) - set(refused)), "the other keys are deleted, the refused ones kept"
    ops.live_matches_record()
    code, doc, err = ops.life("prune", "--keep", "1")
    assert code == 0, err
    assert sorted(d["key"] for d in doc["deleted"]) == refused
    assert present(aws) == before - set(doomed)
    ops.live_matches_record()


# ---------------------------------------------------------------------------------------------------------------
# TooManyInvalidationsInProgress


def too_many(m: str, p: str, h: dict[str, str]) -> tuple[int, str, str] | None:
    if m == "POST" and p.endswith("/invalidation"):
        return 400, "TooManyInvalidationsInProgress", "busy"
    return None


def urls(keys: list[str]) -> set[str]:
    out = set()
    for k in keys:
        out.add("/" + k)
        if k == "index.html" or k.endswith("/index.html"):
            out.add("/" + k[: -len("index.html")])
    return out


def test_too_many_invalidations_during_rollback_is_owed_to_the_next_deploy(ops: Ops, aws: AwsWorld,
                                                                          demo: Path, tmp_path: Path) -> None:
    v1, v2 = v1_v2(ops, demo)
    before = aws.invalidations()
    aws.recorder.fault = too_many
    code, doc, err = ops.life("rollback")
    aws.recorder.fault = None
    assert code == 0, err
    assert sorted(doc["restored"]) == V2_RESTORES and doc["invalidation_id"] is None
    assert len(doc["warnings"]) == 1 and "TooManyInvalidationsInProgress" in doc["warnings"][0]
    assert sorted(ops.current()["pending_invalidation"]) == V2_RESTORES, "the paths are owed"
    assert ops.sent_since(before) == []
    assert site_state(snapshot(aws, aws.bucket)) == {**site_state(v2), **{k: site_state(v1)[k] for k in V2_RESTORES}}
    # the next deploy (of the source v1 came from) has nothing to upload and sends what is owed
    v1_src = tmp_path / "v1-src"
    shutil.copytree(DEMO, v1_src)
    code, doc, err = ops.deploy(v1_src)
    assert code == 0, err
    assert doc["uploaded"] == 0 and set(doc["invalidation"]["paths"]) == urls(V2_RESTORES)
    assert [set(b) for b in ops.sent_since(before)] == [urls(V2_RESTORES)]
    ops.live_matches_record()


def test_too_many_invalidations_during_rollback_then_roll_forward(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    v1, v2 = v1_v2(ops, demo)
    v2_id = ops.current()["id"]
    aws.recorder.fault = too_many
    code, doc, err = ops.life("rollback")
    aws.recorder.fault = None
    assert code == 0 and doc["warnings"], err
    before = aws.invalidations()
    code, doc, err = ops.life("rollback", v2_id)
    assert code == 0 and doc["invalidation_id"], err
    assert urls(V2_RESTORES) <= {p for b in ops.sent_since(before) for p in b}
    assert site_state(snapshot(aws, aws.bucket)) == site_state(v2)
    ops.live_matches_record()


def test_invalidation_owed_by_a_rollback_is_sent_by_the_next_rollback(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    """Found: a rollback invalidated only the keys it restored and dropped the live record's pending_invalidation."""
    # v1; v2 changes the about page only; v3 changes robots.txt only
    assert ops.deploy(demo)[0] == 0
    v1_id = ops.current()["id"]
    about = demo / "about/index.html"
    about.write_text(about.read_text().replace("About this demo", "About this demo, v2"))
    assert ops.deploy(demo)[0] == 0
    (demo / "robots.txt").write_text("User-agent: *\nDisallow: /v3/\n")
    assert ops.deploy(demo)[0] == 0
    # back to v2: robots.txt is restored, but its invalidation is deferred (owed)
    aws.recorder.fault = too_many
    code, doc, err = ops.life("rollback")
    aws.recorder.fault = None
    assert code == 0 and doc["restored"] == ["robots.txt"] and ops.current()["pending_invalidation"] == ["robots.txt"]
    before = aws.invalidations()
    # back to v1: restores the about page; the owed /robots.txt must go out too (CloudFront still has v3's)
    code, doc, err = ops.life("rollback", v1_id)
    assert code == 0, err
    sent = {p for b in ops.sent_since(before) for p in b}
    assert {"/about/", "/about/index.html"} <= sent
    assert "/robots.txt" in sent, f"the owed /robots.txt was never sent: {sorted(sent)}; pending now " \
                                  f"{ops.current()['pending_invalidation']}"


# ---------------------------------------------------------------------------------------------------------------
# rollback across a deploy that removed a stable file (found while building the crash test)


def test_rollback_across_a_removed_stable_file(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    """Found: with stable bodies kept only when replaced, a stable file removed from the site was never kept, and
    rolling back across the removal failed with 'the kept copy of docs/report.pdf was pruned'."""
    assert ops.deploy(demo)[0] == 0
    v1 = snapshot(aws, aws.bucket)
    (demo / "docs/report.pdf").unlink()
    index = demo / "index.html"
    index.write_text(index.read_text().replace('<a href="docs/report.pdf">Annual report (PDF)</a>', ""))
    assert ops.deploy(demo)[0] == 0
    code, doc, err = ops.life("rollback")
    assert code == 0, err
    assert site_state(snapshot(aws, aws.bucket)) == site_state(v1)


def test_secrets_never_printed(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    """Every output above is checked for the secret; this one also covers --debug on a failing rollback."""
    v1_v2(ops, demo)
    aws.recorder.fault = Storm(500, "InternalError", allowed=1)
    code, out, err = ops.subprocess("rollback", "--debug")
    assert code == 1 and SECRET not in out + err
    assert hashlib.sha256(SECRET.encode()).hexdigest() not in out + err


# ---------------------------------------------------------------------------------------------------------------
# when the storm also hits the lock release


def test_failure_line_names_the_failed_write_not_the_lock_release(ops: Ops, aws: AwsWorld, demo: Path) -> None:
    """Found: the lock's release, failing in the same storm, raised from a `finally` and replaced the error that
    stopped the run, so the one line named .hashdeploy/lock.json instead of the object that could not be written."""
    assert ops.deploy(demo)[0] == 0
    make_v2(demo)
    aws.recorder.fault = Storm(500, "InternalError", allowed=1)  # the lock gets through, then every write fails
    code, out, err = ops.subprocess(demo, "--quiet")
    assert_one_line_failure(code, err, "the service kept failing (InternalError)")
    assert ".hashdeploy/lock.json" not in err, err
    assert re.match(rf"RemoteError: s3://{aws.bucket}/(?!\.hashdeploy/)\S+: ", err), "it names the object"


def test_a_later_run_in_the_same_process_is_not_locked_out_by_its_own_lock(ops: Ops, aws: AwsWorld,
                                                                          demo: Path) -> None:
    """Found: a lock whose release failed was held in the name of a live process, this one, so every later run in
    it (the next cycle of `hashdeploy --watch`) stopped with LockedError naming its own pid until --break-lock."""
    assert ops.deploy(demo)[0] == 0
    make_v2(demo)
    aws.recorder.fault = Storm(500, "InternalError", allowed=1)  # the lock gets through, then every write fails
    code, doc, err = ops.deploy(demo)
    assert code == 1 and RESERVED + "lock.json" in present(aws)
    aws.recorder.fault = None
    code, doc, err = ops.deploy(demo)  # same process, as the next cycle of `hashdeploy --watch`
    assert code == 0, err
    ops.live_matches_record()
