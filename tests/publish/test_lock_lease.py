"""The deploy lock is a lease: it expires unless renewed, an expired one is taken over from any host, every takeover
is conditional, a store that ignores If-None-Match is caught, and the record names no local user or host."""

from __future__ import annotations

import getpass
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import DEMO, ROOT, AwsWorld, RunCli

LOCK = ".hashdeploy/lock.json"
CI_VARS = ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "CI_JOB_ID", "BUILDKITE_JOB_ID", "CIRCLE_WORKFLOW_JOB_ID",
           "CODEBUILD_BUILD_ID", "BUILD_ID")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    return site


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARS:
        monkeypatch.delenv(name, raising=False)


def deploy(run: RunCli, aws: AwsWorld, site: Path, *extra: str) -> tuple[int, Any, str]:
    code, out, err = run(site, "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--json", *extra)
    return code, (json.loads(out) if code == 0 else None), err


def put_lock(aws: AwsWorld, doc: dict[str, Any]) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key=LOCK, Body=json.dumps(doc).encode(), ContentType="application/json")


def lock_doc(aws: AwsWorld) -> dict[str, Any] | None:
    try:
        return cast(dict[str, Any], json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=LOCK)["Body"].read()))
    except aws.s3.exceptions.NoSuchKey:
        return None


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def stamp(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


class SlowObjects:
    """Fault hook: object writes (not records) wait `delay` s; `on_first_asset` runs once when the first arrives;
    lock writes are collected."""

    def __init__(self, aws: AwsWorld, delay: float, on_first_asset: Any = None) -> None:
        self.aws, self.delay, self.on_first_asset = aws, delay, on_first_asset
        self.lock_writes: list[dict[str, str]] = []
        self.fired = False

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> None:
        if path == f"/{self.aws.bucket}/{LOCK}" and method == "PUT":
            self.lock_writes.append(headers)
        elif method == "PUT" and path.startswith(f"/{self.aws.bucket}/") and "/.hashdeploy/" not in path:
            if not self.fired and self.on_first_asset is not None:
                self.fired = True
                threading.Thread(target=self.on_first_asset).start()
            time.sleep(self.delay)
        return None


# ---------------------------------------------------------------------------------------------------------------
# what the record says


def test_lock_record_names_no_local_user_or_host(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from hashdeploy.backends.s3 import S3CloudFrontBackend
    from hashdeploy.publish.lock import locked

    backend = S3CloudFrontBackend(aws.s3, aws.bucket)
    seen = []
    for env in ({}, {"GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "2"}, {"HASHDEPLOY_LOCK_LABEL": "docs release"}):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        with locked(backend, "deploy"):
            raw = aws.s3.get_object(Bucket=aws.bucket, Key=LOCK)["Body"].read().decode()
        assert lock_doc(aws) is None, "released"
        for secret in (getpass.getuser(), socket.gethostname()):
            assert not re.search(rf"\b{re.escape(secret)}\b", raw), f"{secret!r} is in the public lock record: {raw}"
        seen.append(json.loads(raw)["label"])
    assert re.fullmatch(r"run [0-9a-f]{12}", seen[0]), seen
    assert seen[1:] == ["GitHub Actions run 4242/2", "docs release"]


def test_readme_says_how_to_keep_the_records_from_being_served() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "location ^~ /.hashdeploy/ { deny all; return 404; }" in text
    assert r"RedirectMatch 404 ^/\.hashdeploy/" in text


# ---------------------------------------------------------------------------------------------------------------
# taking over


def test_an_expired_lock_is_taken_over_from_any_host(run: RunCli, aws: AwsWorld, demo: Path) -> None:
    put_lock(aws, {"label": "GitHub Actions run 77/1", "token": "f" * 32, "operation": "deploy", "pid": 4321,
                   "salt": "00", "host": "0" * 32, "started": stamp(-600), "expires": stamp(-60)})
    code, doc, err = deploy(run, aws, demo)
    assert code == 0, err
    assert any(w.startswith("took over the lock left by GitHub Actions run 77/1 pid 4321 (deploy)")
               and "whose lease expired" in w for w in doc["warnings"]), doc["warnings"]
    assert lock_doc(aws) is None


def test_a_lock_within_its_lease_is_respected(run: RunCli, aws: AwsWorld, demo: Path) -> None:
    put_lock(aws, {"label": "GitHub Actions run 78/1", "token": "e" * 32, "operation": "rollback", "pid": 4321,
                   "salt": "00", "host": "0" * 32, "started": stamp(-10), "expires": stamp(110)})
    code, _doc, err = deploy(run, aws, demo)
    assert code == 1 and err.startswith("LockedError: ") and err.count("\n") == 1, err
    assert "locked by GitHub Actions run 78/1 pid 4321 (rollback)" in err and "expires" in err
    assert aws.puts() == []


def test_two_takers_of_a_stale_lock_cannot_both_win(aws: AwsWorld) -> None:
    """Found: a stale lock was taken over by deleting it and creating a new one, so a run that read the stale lock
    deleted the lock another run had just taken over, and both went on deploying."""
    from hashdeploy.backends.s3 import S3CloudFrontBackend
    from hashdeploy.errors import LockedError
    from hashdeploy.publish.lock import locked

    # left by a process of this host that is gone (as a crashed run, or an older hashdeploy, leaves it)
    put_lock(aws, {"host": socket.gethostname(), "pid": dead_pid(), "user": "ci", "operation": "deploy",
                   "started": stamp(-30)})
    rival = json.dumps({"label": "the other taker", "token": "d" * 32, "pid": 1, "expires": stamp(120)}).encode()
    real = S3CloudFrontBackend(aws.s3, aws.bucket)

    class Racing:
        """The other taker replaces the stale lock right after this run read it."""

        def __init__(self) -> None:
            self.name = real.name

        def __getattr__(self, attr: str) -> Any:
            return getattr(real, attr)

        def read_record_tag(self, name: str) -> tuple[bytes, str] | None:
            found = real.read_record_tag(name)
            if name == "lock.json" and found is not None and b"the other taker" not in found[0]:
                aws.s3.put_object(Bucket=aws.bucket, Key=LOCK, Body=rival, IfMatch=found[1])
            return found

    with pytest.raises(LockedError, match="another run took over the stale lock first"), \
            locked(Racing(), "deploy"):
        pytest.fail("both takers got the lock")
    assert aws.s3.get_object(Bucket=aws.bucket, Key=LOCK)["Body"].read() == rival, "the winner keeps its lock"


class IgnoringConditions:
    """WSGI middleware: the store drops If-None-Match and If-Match, as some S3-compatible stores do."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_IF_NONE_MATCH", None)
        environ.pop("HTTP_IF_MATCH", None)
        return self.app(environ, start_response)


def test_a_store_that_ignores_if_none_match_is_reported(run: RunCli, aws: AwsWorld, demo: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.recorder, "app", IgnoringConditions(aws.recorder.app))
    code, _doc, err = deploy(run, aws, demo)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("LockUnsupportedError: s3://") and "ignores If-None-Match" in err, err
    assert aws.puts() == [], "nothing was uploaded"
    assert lock_doc(aws) is None


# ---------------------------------------------------------------------------------------------------------------
# renewing


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    import hashdeploy.publish.lock as lock

    monkeypatch.setattr(lock, "LEASE", 4.0, raising=False)
    monkeypatch.setattr(lock, "RENEW_EVERY", 0.4, raising=False)
    monkeypatch.setenv("HASHDEPLOY_WORKERS", "2")


def test_the_lease_is_renewed_while_the_run_goes_on(run: RunCli, aws: AwsWorld, demo: Path, short_lease: None) -> None:
    hook = aws.recorder.fault = SlowObjects(aws, 0.25)
    code, _doc, err = deploy(run, aws, demo)
    assert code == 0, err
    renewals = [h for h in hook.lock_writes if "if-match" in h]
    assert len(renewals) >= 3, f"{len(renewals)} renewals in a run of ~3 s with a renewal every 0.4 s"
    assert lock_doc(aws) is None


def test_a_lost_lease_stops_the_run_cleanly(run: RunCli, aws: AwsWorld, demo: Path, short_lease: None) -> None:
    assert deploy(run, aws, demo)[0] == 0
    live = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=".hashdeploy/current.json")["Body"].read())["id"]
    (demo / "css/base.css").write_text("html { box-sizing: border-box; color: #c00; }\n")
    for name in ("bg", "hero", "logo"):
        (demo / f"img/{name}.png").write_bytes(b"\x89PNG " + name.encode() * 50)
    rival = json.dumps({"label": "a run that took the lock over", "token": "c" * 32, "expires": stamp(120)}).encode()
    aws.recorder.fault = SlowObjects(aws, 0.6, on_first_asset=lambda: aws.s3.put_object(
        Bucket=aws.bucket, Key=LOCK, Body=rival))
    code, _doc, err = deploy(run, aws, demo)
    aws.recorder.fault = None
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"LockLostError: s3://{aws.bucket}/: the lock's lease could not be renewed"), err
    assert err.rstrip().endswith("new assets uploaded but not yet live; rerun to complete the deploy"), err
    assert aws.s3.get_object(Bucket=aws.bucket, Key=LOCK)["Body"].read() == rival, "the new holder's lock stays"
    current = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=".hashdeploy/current.json")["Body"].read())
    assert current["id"] == live, "nothing was committed"
