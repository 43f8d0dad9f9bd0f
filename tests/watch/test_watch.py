from __future__ import annotations

import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, ROOT, AwsWorld, RunCli

from hashdeploy.model import BuildResult
from hashdeploy.settings import Settings
from hashdeploy.watch.session import CycleResult, run_watch

QUIET = 0.3
WAIT = 20.0


class Watching:
    """run_watch on a thread; cycles arrive on a queue."""

    def __init__(self, cfg: Settings, invalidation_interval: float = 0.0) -> None:
        self.cycles: queue.Queue[CycleResult] = queue.Queue()
        self.stop = threading.Event()
        self.stream = io.StringIO()
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, args=(cfg, invalidation_interval), daemon=True)
        self.thread.start()

    def _run(self, cfg: Settings, interval: float) -> None:
        self.code = run_watch(replace(cfg, quiet_period=QUIET, invalidation_interval=interval), stream=self.stream,
                              stop=self.stop, on_cycle=self.cycles.put)

    def next(self, timeout: float = WAIT) -> CycleResult:
        return self.cycles.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            extra = self.cycles.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected cycle: {extra.line}")

    def close(self) -> str:
        self.stop.set()
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive() and self.code == 0
        return self.stream.getvalue()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    return site


def s3_cfg(site: Path, aws: AwsWorld) -> Settings:
    return Settings(site=site, bucket=aws.bucket, distribution_id=(aws.distribution_id,))


def test_one_change_one_cycle_uploads_it_and_its_referrers(src: Path, aws: AwsWorld) -> None:
    w = Watching(s3_cfg(src, aws))
    try:
        first = w.next()
        assert first.ok and len(first.uploaded) == 23
        (src / "img/bg.png").write_bytes(b"\x89PNG new background")
        cycle = w.next()
        assert cycle.ok and cycle.changed == ["img/bg.png"]
        assert sorted(k.split(".")[0] for k in cycle.uploaded) == ["404", "about/index", "css/site", "img/bg", "index"]
        assert sorted(cycle.invalidated) == ["/", "/404.html", "/about/", "/about/index.html", "/index.html"]
        assert w.none_within(QUIET * 4)
    finally:
        out = w.close()
    assert out.splitlines()[-1].endswith("stopped")


def test_burst_of_500_writes_is_one_cycle(src: Path, tmp_path: Path) -> None:
    w = Watching(Settings(site=src, out=tmp_path / "out"))
    try:
        assert w.next().ok
        for i in range(500):
            (src / "img" / f"gen-{i:03}.png").write_bytes(b"\x89PNG" + i.to_bytes(2, "big"))
        cycle = w.next()
        assert cycle.ok and len(cycle.changed) == 500
        assert w.none_within(QUIET * 4)
        assert (tmp_path / "out/img/gen-499.png").is_file()
    finally:
        w.close()


def test_site_deleted_and_rebuilt_is_one_correct_deploy(src: Path, aws: AwsWorld) -> None:
    w = Watching(s3_cfg(src, aws))
    try:
        assert w.next().ok
        shutil.rmtree(src)
        shutil.copytree(DEMO, src)
        (src / "robots.txt").write_text("User-agent: *\nDisallow: /x/\n")
        cycle = w.next()
        assert cycle.ok, cycle.line
        assert [k for k in cycle.uploaded] == ["robots.txt"]
        assert cycle.invalidated == ("/robots.txt",)
        assert aws.objects()["robots.txt"].endswith(b"/x/\n")
        assert w.none_within(QUIET * 4)
    finally:
        w.close()


def test_site_gone_then_back(src: Path, tmp_path: Path) -> None:
    w = Watching(Settings(site=src, out=tmp_path / "out"))
    try:
        assert w.next().ok
        shutil.rmtree(src)
        gone = w.next()
        assert not gone.ok and "missing or empty; waiting for the build" in gone.line
        shutil.copytree(DEMO, src)
        assert w.next().ok
    finally:
        w.close()


def test_temporary_file_renamed_into_place(src: Path, tmp_path: Path) -> None:
    w = Watching(Settings(site=src, out=tmp_path / "out"))
    try:
        assert w.next().ok
        tmp = src / "css" / ".site.css.tmp-123"
        tmp.write_text("body { color: teal; }\n")
        os.replace(tmp, src / "css/site.css")
        cycle = w.next()
        assert cycle.ok and cycle.changed == ["css/site.css"]
        out = tmp_path / "out"
        css = [p for p in (out / "css").iterdir() if p.name.startswith("site.") and p.suffix == ".css"]
        assert [p.read_text() for p in css] == ["body { color: teal; }\n"]
        assert not any(".tmp-" in p.name for p in out.rglob("*"))
    finally:
        w.close()


def test_failing_cycle_then_good_cycle(src: Path, aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDEPLOY_MAX_ATTEMPTS", "1")
    from hashdeploy.sources import load_settings

    cfg = load_settings(src, {"bucket": aws.bucket, "distribution_id": aws.distribution_id}, directory=src)
    w = Watching(cfg)
    try:
        assert w.next().ok
        aws.recorder.fault = lambda m, p, h: (500, "InternalError", "x") if m == "PUT" else None
        (src / "robots.txt").write_text("v2")
        bad = w.next()
        assert not bad.ok and bad.line.startswith(f"cycle 2 failed: RemoteError: s3://{aws.bucket}/")
        aws.recorder.fault = None
        (src / "docs/report.pdf").write_bytes(b"%PDF-1.4 v2")
        good = w.next()
        assert good.ok and sorted(good.uploaded) == ["docs/report.pdf", "robots.txt"], good.line
        assert sorted(good.invalidated) == ["/docs/report.pdf", "/robots.txt"]
    finally:
        w.close()


def test_invalidations_of_a_burst_are_coalesced(src: Path, aws: AwsWorld) -> None:
    w = Watching(s3_cfg(src, aws), invalidation_interval=3600)
    try:
        assert w.next().ok
        (src / "robots.txt").write_text("v2")
        first = w.next()
        assert first.ok and first.invalidated == ("/robots.txt",), "the first change is invalidated at once"
        (src / "sitemap.xml").write_text("<urlset/>")
        second = w.next()
        assert second.ok and "invalidation path(s) owed" in second.line
        (src / "robots.txt").write_text("v3")
        third = w.next()
        assert third.ok and "invalidation path(s) owed" in third.line
        assert aws.invalidations() == [["/robots.txt"]]
    finally:
        w.close()
    assert sorted(aws.invalidations()) == [["/robots.txt"], ["/robots.txt", "/sitemap.xml"]], (
        "what the burst owes is sent together, once, when stopping")


def test_the_final_flush_never_deploys_a_tree_being_written(src: Path, aws: AwsWorld,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Found: stopping the watch sent what the last cycles owed by processing and deploying SITE as it was at that
    moment, without the before/after snapshot check of a cycle, so a build writing SITE then went live half-written."""
    import hashdeploy

    w = Watching(s3_cfg(src, aws), invalidation_interval=3600)
    real_build = hashdeploy.build

    def build_while_writing(cfg: Settings, **kwargs: Any) -> BuildResult:
        if w.stop.is_set():  # the flush on stopping: the site's build is writing a page right now
            (src / "late.html").write_text("<p>half")
            result = real_build(cfg, **kwargs)
            (src / "late.html").write_text("<p>half written, now complete</p>")
            return result
        return real_build(cfg, **kwargs)

    try:
        assert w.next().ok
        (src / "robots.txt").write_text("v2")
        assert w.next().invalidated == ("/robots.txt",)
        (src / "robots.txt").write_text("v3")
        assert "invalidation path(s) owed" in w.next().line
        monkeypatch.setattr(hashdeploy, "build", build_while_writing)
    finally:
        out = w.close()
    assert "late.html" not in aws.objects(), "a page the build was still writing went live"
    assert "is changing: the owed invalidation stays recorded for the next run" in out
    record = json.loads(aws.objects()[".hashdeploy/current.json"])
    assert record["pending_invalidation"] == ["robots.txt"]


def test_own_output_never_triggers_a_cycle(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    w = Watching(Settings(site=src, out=out))
    try:
        assert w.next().ok
        (out / "stray.txt").write_text("x")
        (src / ".hashdeploy").mkdir()
        (src / ".hashdeploy" / "note.json").write_text("{}")
        assert w.none_within(QUIET * 5)
    finally:
        w.close()


def test_watch_needs_an_output(src: Path, run: RunCli) -> None:
    code, _, err = run(src, "--watch")
    assert code == 2 and "needs --out DIR or a deploy target" in err


def test_sigterm_stops_cleanly(src: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "hashdeploy", str(src), "--out", str(tmp_path / "out"), "--watch",
                             "--quiet-period", str(QUIET)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "HASHDEPLOY_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "cycle 1:" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 143 and err == "interrupted; nothing was changed\n", err
    assert out.strip().endswith("stopped")


def test_watch_invalidates_every_distribution_and_flushes_both_when_stopping(src: Path, aws: AwsWorld) -> None:
    from conftest import invalidations, second_distribution

    other = second_distribution(aws)
    w = Watching(Settings(site=src, bucket=aws.bucket, distribution_id=(aws.distribution_id, other)),
                 invalidation_interval=3600)
    try:
        assert w.next().ok
        (src / "robots.txt").write_text("v2")
        assert w.next().invalidated == ("/robots.txt",)
        (src / "sitemap.xml").write_text("<urlset/>")
        assert "invalidation path(s) owed" in w.next().line
        for dist in (aws.distribution_id, other):
            assert invalidations(aws, dist) == [["/robots.txt"]]
    finally:
        w.close()
    for dist in (aws.distribution_id, other):  # what the burst owed went to both, once, when stopping
        assert sorted(invalidations(aws, dist)) == [["/robots.txt"], ["/sitemap.xml"]]
    record = json.loads(aws.objects()[".hashdeploy/current.json"])
    assert record["pending_invalidation"] == [] and record["pending_by_distribution"] == {}


def test_a_text_edit_is_patched_uploaded_alone_and_right(src: Path, aws: AwsWorld, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from hashdeploy.engine import build
    from hashdeploy.engine import patch as patch_module

    patched: list[bool] = []
    real = patch_module.patch

    def counted(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        patched.append(out is not None)
        return out

    monkeypatch.setattr(patch_module, "patch", counted)
    w = Watching(s3_cfg(src, aws))
    try:
        assert w.next().ok
        page = src / "about/index.html"
        page.write_text(page.read_text(encoding="utf-8").replace("</body>", "<p>an edit</p></body>"), encoding="utf-8")
        cycle = w.next()
        assert cycle.ok and cycle.changed == ["about/index.html"] and cycle.uploaded == ["about/index.html"]
        assert sorted(cycle.invalidated) == ["/about/", "/about/index.html"]
        assert patched == [True], "the edited page was rewritten alone"
    finally:
        w.close()
    fresh = tmp_path / "fresh"
    build(Settings(site=src, out=fresh, use_cache=False))
    live = aws.objects()
    assert {k: v for k, v in live.items() if not k.startswith(".hashdeploy/")} == {
        p.relative_to(fresh).as_posix(): p.read_bytes() for p in fresh.rglob("*")
        if p.is_file() and not p.relative_to(fresh).as_posix().startswith(".hashdeploy/")}
