"""SIGTERM, SIGINT and SIGHUP end a deploy, rollback, prune or watch like Ctrl-C, at every stage.

Each command runs as a real subprocess (`python -m hashdeploy`) against the moto server, whose fault hook slows the
object writes down and sends the signal itself when the request that marks the stage arrives (the first asset, the
first page, the lock, the last commit write, a rollback's first copy, a prune's deletion). The command must then
exit 128 + the signal's number with one line saying what state the live site is in, start no further request
beyond those in flight, leave no lock behind and the live site consistent, and a rerun must finish the job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import DEMO, ROOT, AwsWorld, RunCli

sys.path.insert(0, str(ROOT / "tests" / "publish"))
from test_crash import broken_references, snapshot, unreadable_records  # noqa: E402

RESERVED = ".hashdeploy/"
LOCK = RESERVED + "lock.json"
WORKERS = 2
DELAY = 0.6  # seconds each object write waits at the server
HASHED = re.compile(r"\.[0-9a-f]{12}\.")

Match = Callable[[str, str, dict[str, str]], bool]


class SignalAt:
    """Fault hook: delay every object write to the bucket by DELAY; when the first request `when` accepts arrives,
    send `signum` to the process (then let that request through), and count the object writes that arrive after."""

    def __init__(self, aws: AwsWorld, signum: int, when: Match, delay: float = DELAY) -> None:
        self.aws, self.signum, self.when, self.delay = aws, signum, when, delay
        self.pid: int | None = None
        self.ready = threading.Event()
        self.sent = threading.Event()
        self.after: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> None:
        if path != f"/{self.aws.bucket}" and not path.startswith(f"/{self.aws.bucket}/"):
            return None
        key = path[len(self.aws.bucket) + 2:]
        fire = False
        with self.lock:
            if self.sent.is_set() and method in ("PUT", "POST", "DELETE") and not key.startswith(RESERVED):
                self.after.append(f"{method} {key}")
            if not self.sent.is_set() and self.when(method, key, headers):
                fire = True
                self.sent.set()
        if fire:
            self.ready.wait(10)
            assert self.pid is not None
            os.kill(self.pid, self.signum)
        if method in ("PUT", "POST", "DELETE") and (not key.startswith(RESERVED) or fire):
            time.sleep(self.delay)
        return None


def asset_put(method: str, key: str, headers: dict[str, str]) -> bool:
    return method == "PUT" and bool(HASHED.search(key)) and not key.startswith(RESERVED)


def page_put(method: str, key: str, headers: dict[str, str]) -> bool:
    return method == "PUT" and key.endswith(".html") and not key.startswith(RESERVED)


def lock_put(method: str, key: str, headers: dict[str, str]) -> bool:
    return method == "PUT" and key == LOCK


def history_put(method: str, key: str, headers: dict[str, str]) -> bool:
    return method == "PUT" and key == RESERVED + "history.json"


def stable_copy(method: str, key: str, headers: dict[str, str]) -> bool:
    return method == "PUT" and "x-amz-copy-source" in headers and not key.startswith(RESERVED)


def deletion(method: str, key: str, headers: dict[str, str]) -> bool:
    return method == "POST" and key == ""  # DeleteObjects: POST /bucket/?delete


class World:
    def __init__(self, aws: AwsWorld, run: RunCli, tmp: Path) -> None:
        self.aws, self.run, self.tmp = aws, run, tmp
        self.target = ["--bucket", aws.bucket, "--distribution-id", aws.distribution_id]
        self.site = tmp / "site"
        shutil.copytree(DEMO, self.site)

    def deploy(self) -> dict[str, Any]:
        code, out, err = self.run(self.site, *self.target, "--json")
        assert code == 0, err
        return cast(dict[str, Any], json.loads(out))

    def life(self, *args: str) -> dict[str, Any]:
        code, out, err = self.run(*args, *self.target, "--json")
        assert code == 0, err
        return cast(dict[str, Any], json.loads(out))

    def signalled(self, hook: SignalAt, *args: str | Path) -> tuple[int, str, str]:
        """Run the command with `hook` set; wait for it to end (it must end within seconds of the signal)."""
        self.aws.recorder.fault = hook
        env = dict(os.environ, HASHDEPLOY_WORKERS=str(WORKERS), HASHDEPLOY_MAX_ATTEMPTS="2")
        proc = subprocess.Popen([sys.executable, "-m", "hashdeploy", *map(str, args), *self.target], cwd=self.tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        hook.pid = proc.pid
        hook.ready.set()
        try:
            while not hook.sent.wait(0.5):
                assert proc.poll() is None, f"ended before the stage was reached: {proc.communicate()}"
            signalled = time.monotonic()
            out, err = proc.communicate(timeout=60)
            took = time.monotonic() - signalled
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            self.aws.recorder.fault = None
        assert took < 15 + 4 * DELAY, f"the command took {took:.1f} s to stop after the signal"
        assert len(hook.after) <= WORKERS, f"requests started after the signal: {hook.after}"
        return proc.returncode, out, err

    def current(self) -> dict[str, Any]:
        body = self.aws.s3.get_object(Bucket=self.aws.bucket, Key=RESERVED + "current.json")["Body"].read()
        return cast(dict[str, Any], json.loads(body))

    def sound(self) -> None:
        """The live site is consistent, every record parses, no lock is left."""
        objects = snapshot(self.aws, self.aws.bucket)
        assert broken_references(objects) == []
        assert unreadable_records(objects) == []
        assert LOCK not in objects, "the lock was left behind"

    def complete(self, record: dict[str, Any]) -> None:
        """The live record is `record`'s content, fully served and invalidated, and no lock is left."""
        self.sound()
        now = self.current()
        assert now["objects"] == record["objects"] and now["pending_invalidation"] == []


def v2(site: Path) -> None:
    """New images, a script and a stylesheet (renaming what uses them), page text and robots.txt."""
    from conftest import png

    for i, name in enumerate(("bg", "hero", "logo", "hero@2x", "icon-192")):
        (site / f"img/{name}.png").write_bytes(png(4 + i, 3, (200, 10 * i, 40)))
    (site / "css/base.css").write_text("html { box-sizing: border-box; color: #c00; }\n")
    (site / "js/util.js").write_text("export const twice = (x) => x * 2 + 0;\n")
    (site / "index.html").write_text((site / "index.html").read_text().replace("Annual report", "Annual report 2026"))
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /v2/\n")


@pytest.fixture
def world(aws: AwsWorld, run: RunCli, tmp_path: Path) -> World:
    return World(aws, run, tmp_path)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("signum", "when", "line"), [
    (signal.SIGTERM, asset_put, "new assets uploaded but not yet live; rerun to complete the deploy"),
    (signal.SIGTERM, page_put, "the deploy was partly live: pages may be mixed; rerun to complete it"),
    (signal.SIGHUP, lock_put, "nothing live changed"),
], ids=["sigterm-mid-assets", "sigterm-mid-pages", "sighup-taking-the-lock"])
def test_deploy_interrupted_before_its_commit(world: World, signum: int, when: Match, line: str) -> None:
    v1 = world.deploy()
    v2(world.site)
    code, _out, err = world.signalled(SignalAt(world.aws, signum, when), world.site, "--quiet")
    assert code == 128 + signum, err
    assert one_line(err) == f"interrupted ({signal.Signals(signum).name}): {line}"
    world.sound()
    assert world.current()["id"] == v1["deploy_id"], "nothing was committed"
    again = world.deploy()
    assert again["deploy_id"] is not None and not any("took over" in w for w in again["warnings"])
    world.complete(world.current())
    assert world.current()["id"] == again["deploy_id"]


def test_deploy_interrupted_after_its_commit_owes_the_invalidation(world: World) -> None:
    world.deploy()
    v2(world.site)
    before = len(world.aws.invalidations())
    code, _out, err = world.signalled(SignalAt(world.aws, signal.SIGINT, history_put), world.site, "--quiet")
    assert code == 130, err
    assert one_line(err) == "interrupted (SIGINT): deployed; the invalidation is owed to the next run"
    world.sound()
    live = world.current()
    assert live["pending_invalidation"] and len(world.aws.invalidations()) == before
    again = world.deploy()
    assert again["deploy_id"] is None and again["invalidation"]["id"], "the rerun only sends what is owed"
    world.complete(live)


def test_rollback_interrupted_midway(world: World) -> None:
    v1 = world.deploy()
    v2(world.site)
    v2_id = world.deploy()["deploy_id"]
    code, _out, err = world.signalled(SignalAt(world.aws, signal.SIGTERM, stable_copy), "rollback")
    assert code == 143, err
    assert one_line(err) == "interrupted (SIGTERM): the rollback was partly live: pages may be mixed; rerun to complete it"
    world.sound()
    assert world.current()["id"] == v2_id
    doc = world.life("rollback")
    assert doc["rolled_back_to"] == v1["deploy_id"]
    world.complete(json.loads(world.aws.s3.get_object(
        Bucket=world.aws.bucket, Key=f"{RESERVED}deploys/{v1['deploy_id']}.json")["Body"].read()))


def test_prune_interrupted_midway(world: World) -> None:
    from datetime import datetime, timedelta

    world.deploy()
    v2(world.site)
    world.deploy()
    (world.site / "css/base.css").write_text("html { box-sizing: border-box; color: #0c0; }\n")
    world.deploy()
    key = RESERVED + "history.json"
    doc = json.loads(world.aws.s3.get_object(Bucket=world.aws.bucket, Key=key)["Body"].read())
    for e in doc["deploys"]:
        e["created"] = (datetime.fromisoformat(e["created"]) - timedelta(days=30)).isoformat(timespec="seconds")
    world.aws.s3.put_object(Bucket=world.aws.bucket, Key=key, Body=json.dumps(doc).encode())
    doomed = sorted(d["key"] for d in world.life("prune", "--keep", "1", "--dry-run")["deleted"])
    assert doomed
    code, _out, err = world.signalled(SignalAt(world.aws, signal.SIGTERM, deletion), "prune", "--keep", "1")
    assert code == 143, err
    assert one_line(err).startswith("interrupted (SIGTERM): nothing live changed; some objects no kept deploy uses")
    world.sound()
    world.life("prune", "--keep", "1")
    world.sound()
    assert not set(doomed) & set(world.aws.objects())


def test_watch_interrupted_mid_cycle(world: World) -> None:
    """SIGTERM while a watch cycle uploads: the cycle's requests stop, the lock goes, one line, exit 143."""
    v1 = world.deploy()
    v2(world.site)  # the watch's first cycle deploys v2 over v1
    hook = SignalAt(world.aws, signal.SIGTERM, page_put)
    code, out, err = world.signalled(hook, world.site, "--watch", "--quiet-period", "0.3")
    assert code == 143, err
    assert one_line(err) == "interrupted (SIGTERM): the deploy was partly live: pages may be mixed; rerun to complete it"
    assert "cycle 1:" not in out, "the first cycle did not finish"
    world.sound()
    assert world.current()["id"] == v1["deploy_id"]
    world.deploy()
    world.complete(world.current())
