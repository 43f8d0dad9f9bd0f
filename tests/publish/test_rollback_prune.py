"""Rollback lineage, prune and pages a deploy left in place, and crash bookkeeping without rollback copies.

- A plain `hashdeploy rollback` walks back through the versions the site had, skipping rollback records: rolling
  back twice from C goes to B, then to A; one more is a one-line error. `history` says what it would restore.
- Prune never deletes what a page still served from the target loads: deploys keep pages removed from the site
  (only `prune --delete-removed` deletes them), so their stylesheets and images must stay as long as they do.
- `--no-rollback-copies` turns off the kept copies, not the crash bookkeeping: after a deploy killed (or failed)
  midway through its pages, deploying the previous version puts every page of that version back.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import AwsWorld, RunCli, read_tree, write_tree
from siteassert import subresource_urls
from test_crash import (
    PAGES,
    KillAt,
    _page,
    killed_deploy,
    new_target,
    page_write,
    run_deploy,
    site_files,
    snapshot,
)
from test_crash import served as served_s3

from hashdeploy.backends.local import LocalBackend
from hashdeploy.engine import build
from hashdeploy.errors import RollbackError
from hashdeploy.publish.history import history
from hashdeploy.publish.prune import prune
from hashdeploy.publish.rollback import rollback
from hashdeploy.publish.run import deploy
from hashdeploy.settings import Settings

RESERVED = ".hashdeploy/"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def served(www: Path) -> dict[str, bytes]:
    """What the file:// target serves (records and kept copies excluded)."""
    return {k: v for k, v in read_tree(www).items() if not k.startswith(RESERVED)}


def broken(www: Path) -> list[str]:
    """Every subresource of every served page and stylesheet that the target lacks."""
    out = []
    for key in sorted(served(www)):
        if key.endswith((".html", ".css")):
            out += [f"{key} -> {url} (missing {target})" for url, target in subresource_urls(www, key)
                    if not (www / target).is_file()]
    return out


class Target:
    """A site deployed to a local directory target, one processed version at a time."""

    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.site, self.www, self.tmp = tmp / "site", tmp / "www", tmp
        self.cfg = Settings(site=self.site, out=tmp / "out", **settings)
        self.backend = LocalBackend(self.www)
        self.clock = Clock()
        self.outputs: dict[str, dict[str, bytes]] = {}  # deploy id -> its processed tree

    def ship(self, files: dict[str, str | bytes]) -> str:
        if self.site.exists():
            shutil.rmtree(self.site)
        write_tree(self.site, files)
        assert self.cfg.out is not None
        report = deploy(build(self.cfg), self.cfg.out, self.backend, self.cfg, clock=self.clock)
        assert report.deploy_id
        self.outputs[report.deploy_id] = {k: v for k, v in read_tree(self.cfg.out).items()
                                          if not k.startswith(RESERVED)}
        self.clock.advance(days=1)
        return report.deploy_id

    def serves(self, deploy_id: str) -> list[str]:
        """Keys of that deploy's processed tree that the target does not serve with the same bytes."""
        now = served(self.www)
        return sorted(k for k, v in self.outputs[deploy_id].items() if now.get(k) != v)

    def rollback(self, deploy_id: str | None = None) -> str:
        rep = rollback(self.backend, self.cfg, deploy_id, clock=self.clock)
        self.clock.advance(hours=1)
        return rep.target_id


def version(n: int) -> dict[str, str | bytes]:
    """Version n of a small site: its stylesheet, script and page text all change."""
    return {
        "index.html": f'<!doctype html><html><head><link rel="stylesheet" href="css/site.css">'
                      f'<script src="js/app.js"></script></head><body><h1>Home v{n}</h1>'
                      f'<a href="about/">about</a></body></html>\n',
        "about/index.html": f'<!doctype html><html><head><link rel="stylesheet" href="../css/site.css"></head>'
                            f'<body><h1>About v{n}</h1></body></html>\n',
        "css/site.css": f"body {{ --version: {n}; }}\n",
        "js/app.js": f"console.log('v{n}');\n",
        "robots.txt": f"User-agent: *\nDisallow: /v{n}/\n",
    }


# ---------------------------------------------------------------------------------------------------------------
# 1. a plain rollback goes back through the site's versions


def test_plain_rollback_twice_goes_back_two_versions(tmp_path: Path, run: RunCli) -> None:
    """Deploys A, B, C; C is broken, roll back (B), B is broken too, roll back again: A, not C again
    (found: the second plain rollback picked the history entry before the live rollback record, i.e. C)."""
    t = Target(tmp_path)
    a, b, c = (t.ship(version(n)) for n in (1, 2, 3))
    entries = history(t.backend)
    assert [e["id"] for e in entries if e["rollback_target"]] == [b]
    assert t.rollback() == b and t.serves(b) == []
    entries = history(t.backend)
    assert entries[0]["live"] and entries[0]["kind"] == "rollback"
    assert [e["id"] for e in entries if e["rollback_target"]] == [a], "history must say a plain rollback restores A"
    target = ["--target", t.www.as_uri()]
    code, out, _err = run("history", *target)
    assert code == 0 and f"a plain `hashdeploy rollback` restores {a}" in out, out
    assert t.rollback() == a, "the second plain rollback must go back to A, not forward to the broken C"
    assert t.serves(a) == [] and broken(t.www) == []
    # nothing before A: one line, and nothing changes
    before = read_tree(t.www)
    with pytest.raises(RollbackError, match=f"serves deploy {a}, the first deploy; there is nothing before it"):
        t.rollback()
    code, out, err = run("rollback", *target)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and a in err, err
    assert read_tree(t.www) == before
    code, out, _err = run("history", *target, "--json")
    assert code == 0 and not any(e["rollback_target"] for e in json.loads(out))
    assert "a plain `hashdeploy rollback` has nothing to restore" in run("history", *target)[1]
    # `rollback ID` still goes anywhere, forward too; from C a plain rollback goes to B again
    assert t.rollback(c) == c and t.serves(c) == []
    assert t.rollback() == b and t.serves(b) == []


def test_plain_rollback_after_a_fix_on_top_of_a_rollback(tmp_path: Path) -> None:
    """A, B, C (broken) rolled back to B, then a fix D is deployed and is broken too: a plain rollback restores B,
    the version D replaced, never the broken C; then A (found: it rolled back to the rollback record, then forward
    to D)."""
    t = Target(tmp_path)
    a, b, c = (t.ship(version(n)) for n in (1, 2, 3))
    assert t.rollback() == b
    d = t.ship(version(4))
    assert [e["id"] for e in history(t.backend) if e["rollback_target"]] == [b]
    assert t.rollback() == b and t.serves(b) == []
    assert t.rollback() == a and t.serves(a) == []
    # a deploy made while A is back live rolls back to A too, not to D or C
    t.ship(version(5))
    assert t.rollback() == a and t.serves(a) == []
    assert d not in [e["id"] for e in history(t.backend) if e["rollback_target"]]


# ---------------------------------------------------------------------------------------------------------------
# 2. prune and the pages deploys left in place


def with_old_page(n: int) -> dict[str, str | bytes]:
    """Version n plus old.html, which loads its own stylesheet and image, and a few assets to share the site."""
    files = version(n) | {f"img/shared{i}.png": f"shared image {i}".encode() for i in range(24)}
    files["index.html"] = str(files["index.html"]).replace("</body>", "".join(
        f'<img src="img/shared{i}.png">' for i in range(24)) + "</body>")
    return files | {
        "old.html": '<!doctype html><html><head><link rel="stylesheet" href="css/old.css"></head>'
                    '<body><img src="img/old.png"><p>an old page, still linked from elsewhere</p></body></html>\n',
        "css/old.css": "body { background: url(../img/old-bg.png); }\n",
        "img/old.png": b"\x89PNG old",
        "img/old-bg.png": b"\x89PNG old background",
    }


def without_old_page(n: int) -> dict[str, str | bytes]:
    files = with_old_page(n)
    for key in ("old.html", "css/old.css", "img/old.png", "img/old-bg.png"):
        del files[key]
    return files


def test_prune_keeps_what_a_page_left_in_place_loads(tmp_path: Path) -> None:
    """v1 has old.html; v2 and v3 drop it (the deploys keep it served); weeks later prune must not delete its
    stylesheet and images (found: they were pruned once v1 aged out, and old.html lost its stylesheet)."""
    t = Target(tmp_path)
    t.ship(with_old_page(1))
    loads = [k for _, k in subresource_urls(t.www, "old.html")]
    old_assets = set(loads) | {k for css in loads if css.endswith(".css") for _, k in subresource_urls(t.www, css)}
    assert len(old_assets) == 3 and all(k.startswith(("css/old.", "img/old")) for k in old_assets), old_assets
    v2 = t.ship(without_old_page(2))
    v2_css = next(k for k in t.outputs[v2] if k.startswith("css/site."))
    t.ship(without_old_page(3))
    assert (t.www / "old.html").is_file(), "a deploy never deletes a page"
    t.clock.advance(days=30)
    plan = prune(t.backend, t.cfg, keep=1, older_than=7 * 86400, dry_run=True, clock=t.clock)
    doomed = {k for k, _ in plan.deletions}
    assert not doomed & old_assets, f"prune would delete what old.html loads: {sorted(doomed & old_assets)}"
    assert v2_css in doomed, "what no served page loads is still pruned"
    prune(t.backend, t.cfg, keep=1, older_than=7 * 86400, clock=t.clock)
    assert not (t.www / v2_css).exists()
    assert broken(t.www) == [], "every page the target serves must load completely"
    # --delete-removed deletes the page; its assets stay this time (the page was still served when planned),
    # and go with the next prune
    gone = prune(t.backend, t.cfg, keep=1, older_than=7 * 86400, delete_removed=True, clock=t.clock)
    assert gone.removed_stable == ["old.html"] and not (t.www / "old.html").exists()
    assert all((t.www / k).is_file() for k in old_assets) and broken(t.www) == []
    t.clock.advance(days=8)
    after = prune(t.backend, t.cfg, keep=1, older_than=7 * 86400, clock=t.clock)
    assert old_assets <= {k for k, _ in after.deletions} and broken(t.www) == []


def test_prune_keeps_the_assets_of_the_version_of_a_page_still_served(tmp_path: Path) -> None:
    """old.html changes its stylesheet in v2 and leaves in v3: the served old.html is v2's, so v2's old.css
    stays while v1's goes (records hold no per-page references: the newest record listing the page counts)."""
    t = Target(tmp_path)
    v1 = t.ship(with_old_page(1))
    v2_files = with_old_page(2) | {"css/old.css": "body { color: olive; }\n"}
    v2 = t.ship(v2_files)
    t.ship(without_old_page(3))
    t.ship(without_old_page(4))
    old_v1 = next(k for k in t.outputs[v1] if k.startswith("css/old."))
    old_v2 = next(k for k in t.outputs[v2] if k.startswith("css/old."))
    assert old_v1 != old_v2
    t.clock.advance(days=30)
    report = prune(t.backend, t.cfg, keep=1, older_than=7 * 86400, clock=t.clock)
    assert old_v1 in {k for k, _ in report.deletions} and (t.www / old_v2).is_file()
    assert (t.www / "old.html").read_bytes() == t.outputs[v2]["old.html"] and broken(t.www) == []


# ---------------------------------------------------------------------------------------------------------------
# 4. --no-rollback-copies keeps the crash bookkeeping


def _fail_after_pages(n: int, bucket: str) -> Any:
    """Fault hook: let the first n page PUTs through, refuse every later one (AccessDenied is not retried)."""
    seen = [0]

    def hook(method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        if not (path.startswith(f"/{bucket}/") and page_write(method, path, headers)):
            return None
        seen[0] += 1
        return None if seen[0] <= n else (403, "AccessDenied", "injected after the first pages")

    return hook


@pytest.mark.parametrize("how", ["killed", "failed"])
def test_no_rollback_copies_still_redeploys_pages_a_crashed_run_replaced(
        aws: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """v1 live; a v2 deploy with --no-rollback-copies dies after 5 pages; deploying v1 again must put v1's bytes
    back on every page (found: without rollback copies nothing was marked dirty, the v1 deploy found nothing to
    do, and the 5 pages of v2 stayed live)."""
    monkeypatch.setenv("HASHDEPLOY_ROLLBACK_COPIES", "0")
    monkeypatch.setenv("HASHDEPLOY_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("HASHDEPLOY_WORKERS", "1")  # one request at a time: the first 5 page PUTs complete
    v1 = write_tree(tmp_path / "v1", site_files(1))
    v2 = write_tree(tmp_path / "v2", site_files(2) | {f"pages/p{i:02d}/index.html": _page(i, f"Page {i} v2", PAGES - 1)
                                                      for i in range(PAGES - 1)})
    t = new_target(aws, "nocopies")
    cache = tmp_path / "cache"
    assert run_deploy(v1, t, cache, tmp_path)[0] == 0
    v1_served = served_s3(snapshot(aws, t.bucket))
    if how == "killed":
        pages = iter(range(10**6))
        fifth = lambda m, p, h: page_write(m, p, h) and next(pages) == 5  # noqa: E731
        killed_deploy(aws, v2, t, KillAt(t, when=fifth), cache, tmp_path)
    else:
        aws.recorder.fault = _fail_after_pages(5, t.bucket)
        try:
            code, _doc, err = run_deploy(v2, t, cache, tmp_path)
        finally:
            aws.recorder.fault = None
        assert code == 1 and "access denied to s3:PutObject" in err, err
    middle = served_s3(snapshot(aws, t.bucket))
    replaced = sorted(k for k in v1_served if k.endswith(".html") and middle.get(k) != v1_served[k])
    assert len(replaced) >= 5, f"the interrupted run should have replaced some pages: {replaced}"
    assert not any(k.startswith(RESERVED + "stable/") for k in snapshot(aws, t.bucket)), "no rollback copies"
    code, doc, err = run_deploy(v1, t, cache, tmp_path)
    assert code == 0, err
    got = served_s3(snapshot(aws, t.bucket))
    differ = sorted(k for k in v1_served if got.get(k) != v1_served[k])
    assert differ == [], f"after deploying v1 again these still serve the interrupted v2 deploy: {differ}"
    items = aws.cf.list_invalidations(DistributionId=t.distribution_id)["InvalidationList"].get("Items", [])
    paths = {p for inv in items
             for p in aws.cf.get_invalidation(DistributionId=t.distribution_id, Id=inv["Id"])
             ["Invalidation"]["InvalidationBatch"]["Paths"].get("Items", [])}
    missed = [k for k in replaced if "/" + k not in paths and "/" + k.removesuffix("index.html") not in paths]
    assert missed == [], f"pages the interrupted run replaced were never invalidated: {missed}"
