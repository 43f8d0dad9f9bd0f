"""Rollback lineage, prune and pages a deploy left in place, and crash bookkeeping without rollback copies.

- A plain `hashdeploy rollback` walks back through the versions the site had, skipping rollback records: rolling
  back twice from C goes to B, then to A; one more is a one-line error. `history` says what it would restore.
- Prune never deletes what a page still served from the target loads: deploys keep pages removed from the site
  (only `prune --delete-removed` deletes them), so their stylesheets and images must stay as long as they do.
- `--no-rollback-copies` turns off the kept copies, not the crash bookkeeping: after a deploy killed (or failed)
  midway through its pages, deploying the previous version puts every page of that version back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import AwsWorld, write_tree
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

RESERVED = ".hashdeploy/"


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
