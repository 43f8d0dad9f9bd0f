from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import DEMO

from hashdeploy.backends.base import Tick, Upload
from hashdeploy.backends.local import LocalBackend
from hashdeploy.engine import build
from hashdeploy.errors import RemoteError
from hashdeploy.model import FileClass, OutputFile
from hashdeploy.publish.invalidation import caller_reference, encode_path, plan_invalidation, viewer_urls
from hashdeploy.publish.plan import plan_deploy
from hashdeploy.publish.records import DeployRecord, RemoteObject
from hashdeploy.publish.run import deploy
from hashdeploy.settings import Settings


def f(key: str, cls: FileClass, sha: str = "a", ctype: str = "text/html; charset=utf-8") -> OutputFile:
    return OutputFile(key, key, cls, sha, 1, ctype, "")


def test_plan_reasons() -> None:
    live = DeployRecord("d1", "t", {
        "a.1.css": RemoteObject("x", 1, "text/css", "forever", "hashed"),
        "index.html": RemoteObject("old", 1, "text/html; charset=utf-8", "short", "stable"),
        "robots.txt": RemoteObject("a", 1, "text/plain", "short", "stable"),
        "gone.html": RemoteObject("g", 1, "text/html", "short", "stable"),
        "gone.1.js": RemoteObject("g", 1, "text/javascript", "forever", "hashed"),
    })
    files = (f("a.1.css", FileClass.HASHED, "x", "text/css"), f("index.html", FileClass.STABLE),
             f("robots.txt", FileClass.STABLE, "a", "text/plain"), f("new.html", FileClass.STABLE))
    cc = {"a.1.css": "forever", "index.html": "short", "robots.txt": "longer", "new.html": "short"}
    plan = plan_deploy(files, cc, live)
    assert [(a.key, a.action, a.reason, a.phase) for a in plan.actions] == [
        ("a.1.css", "skip", "unchanged: the name is the content", 1),
        ("index.html", "upload", "changed", 3),
        ("robots.txt", "headers", "headers changed", 2),
        ("new.html", "upload", "new", 3),
    ]
    assert plan.removed == ("gone.1.js", "gone.html")
    assert plan.changed_stable == ("gone.html", "index.html", "robots.txt")
    verified = plan_deploy(files, cc, live, missing=frozenset({"a.1.css"}))
    assert verified.actions[0].action == "upload" and verified.actions[0].reason.startswith("missing")


def test_viewer_urls_and_encoding() -> None:
    assert viewer_urls("index.html", "/") == ["/index.html", "/"]
    assert viewer_urls("docs/index.html", "/") == ["/docs/index.html", "/docs/"]
    assert viewer_urls("docs/a.html", "/site/") == ["/site/docs/a.html"]
    assert encode_path("/a b/ü*.html") == "/a%20b/%C3%BC%2A.html"
    assert encode_path("/x+y/(1).html") == "/x+y/(1).html"


def test_invalidation_budget_and_limits() -> None:
    keys = [f"s{s}/p{p}.html" for s in range(30) for p in range(50)] + ["index.html"]
    small = plan_invalidation(["s1/p1.html", "index.html"], keys, "/", 10)
    assert small.paths == ("/", "/index.html", "/s1/p1.html") and small.flushed_unchanged == 0
    changed = [f"s{s}/p{p}.html" for s in range(20) for p in range(50)]
    big = plan_invalidation(changed, keys, "/", 10)
    assert big.billed <= 15 and big.changed_urls == 1000
    assert all(p.endswith("/*") for p in big.paths)
    # every changed URL is covered
    assert all(any(u.startswith(p[:-1]) for p in big.paths) for u in (f"/{k}" for k in changed))
    partial = plan_invalidation([f"s1/p{p}.html" for p in range(49)] + ["s2/p1.html"], keys, "/", 5)
    assert partial.paths == ("/s1/*", "/s2/p1.html") and partial.flushed_unchanged == 1


def test_caller_reference_is_stable_for_a_retry() -> None:
    a = caller_reference("d1", "content", ["/b", "/a"])
    assert a == caller_reference("d1", "content", ["/a", "/b"])
    assert a != caller_reference("d2", "content", ["/a", "/b"]), "A -> B -> A needs a new invalidation"


class FlakyCdn(LocalBackend):
    """A local target with a CDN whose first invalidation fails after the deploy committed."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures
        self.calls: list[tuple[tuple[str, ...], str]] = []

    def invalidate(self, paths: Sequence[str], caller_reference: str, distribution_id: str | None = None) -> str | None:
        self.calls.append((tuple(paths), caller_reference))
        if len(self.calls) <= self.failures:
            raise RemoteError("CloudFront distribution X: network down")
        return f"I{len(self.calls)}"


def test_invalidation_owed_after_a_failure_is_sent_with_the_same_reference(tmp_path: Path) -> None:
    out = tmp_path / "out"
    site = tmp_path / "site"
    import shutil

    shutil.copytree(DEMO, site)
    cfg = Settings(site=site, out=out)
    backend = FlakyCdn(tmp_path / "www", failures=1)
    deploy(build(cfg), out, backend, cfg, cdn=True)
    (site / "robots.txt").write_text("changed")
    result = build(cfg)
    with pytest.raises(RemoteError):
        deploy(result, out, backend, cfg, cdn=True)
    report = deploy(result, out, backend, cfg, cdn=True)
    assert report.uploaded == 0 and report.invalidation_id == "I2"
    assert backend.calls[0] == backend.calls[1] == (("/robots.txt",), backend.calls[0][1])
    again = deploy(result, out, backend, cfg, cdn=True)
    assert again.invalidation.paths == () and len(backend.calls) == 2


class CountingBackend(LocalBackend):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.phases: list[list[str]] = []
        self.copying = False

    def upload(self, items: Sequence[Upload], tick: Tick) -> None:
        served = [i.key for i in items if not i.key.startswith(".hashdeploy/")]
        if served and not self.copying:
            self.phases.append(served)
        super().upload(items, tick)

    def copy_objects(self, pairs: Sequence[tuple[str, Upload]], tick: Tick) -> None:
        served = [dest.key for _src, dest in pairs if not dest.key.startswith(".hashdeploy/")]
        if served:
            self.phases.append(served)
        self.copying = True
        try:
            super().copy_objects(pairs, tick)
        finally:
            self.copying = False


def test_local_target_order_and_second_deploy(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    cfg = Settings(site=site, out=tmp_path / "out")
    assert cfg.out is not None
    backend = CountingBackend(tmp_path / "www")
    deploy(build(cfg), cfg.out, backend, cfg)
    assert [k.endswith(".html") for k in backend.phases[2]] == [True] * 3
    assert not any(k.endswith(".html") for k in backend.phases[0] + backend.phases[1])
    (site / "css/base.css").write_text("html { box-sizing: content-box; }\n")
    backend.phases.clear()
    report = deploy(build(cfg), cfg.out, backend, cfg)
    uploaded = sorted(k.split(".")[0] for phase in backend.phases for k in phase)
    assert uploaded == ["404", "about/index", "css/base", "css/site", "index"]
    assert report.skipped == 18
    www = {p.relative_to(tmp_path / "www").as_posix() for p in (tmp_path / "www").rglob("*") if p.is_file()}
    assert not any(".hashdeploy-" in k for k in www if not k.startswith(".hashdeploy/")), "no temporary file left"
