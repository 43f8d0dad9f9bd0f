"""The moto server's own limit: PutObject and CopyObject requests a second, and the least time any deploy can take.

    python bench/server_floor.py [--pages 2000] [--requests 600] [--workers N] [--work DIR]

Calibration: a moto server started as deploy_bench.py and watch_bench.py start theirs (`python -m moto.server` in
its own process on 127.0.0.1, its access log kept) gets a fresh bucket; then N PutObject of one body (the
median-size page of the generated site, with the headers hashdeploy sends: Content-Type, Cache-Control, sha256
metadata) and N CopyObject of those objects (MetadataDirective REPLACE, as hashdeploy's rollback copies and header
updates are sent) are timed, `workers` at a time, from a boto3 client made by hashdeploy's own make_clients
(hashdeploy's --workers default and its connection pool). The server's CPU time comes from /proc/<pid>/stat.

The floor of a run is then the least time any client could take for the PUTs and copies moto logged for it, at
the calibrated rates. Its other requests (GETs, HEADs, CloudFront calls) are left out, so it is a lower bound.
The figures go to WORK/server_floor.json, which bench/publish_figures.py reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import deploy_bench  # noqa: E402  (its MotoServer, the same server the deploy and watch benches use)
import run as build_bench  # noqa: E402  (site generation)

BUCKET = "bench-calibration"
COPY_KINDS = ("put_stable_body",)  # rollback copies into .hashdeploy/stable/ (hashdeploy never PUTs a body there)


def setting_default(name: str) -> int:
    """A default of hashdeploy's settings (--workers, --max-attempts), read from them, not repeated here."""
    from hashdeploy.settings import Settings

    default: int = next(f.default for f in dataclasses.fields(Settings) if f.name == name)  # type: ignore[assignment]
    return default


def representative_body(site: Path) -> tuple[Path, bytes]:
    """The median-size HTML page of the site: pages are most of what the deploy and watch figures send."""
    pages = sorted(site.rglob("*.html"), key=lambda p: (p.stat().st_size, str(p)))
    if not pages:
        raise SystemExit(f"server_floor: no HTML page in {site}")
    page = pages[len(pages) // 2]
    return page, page.read_bytes()


def _phase(name: str, one: Callable[[int], None], n: int, workers: int, moto: deploy_bench.MotoServer) -> dict[str, Any]:
    """Send n requests `workers` at a time; wall time, the server's CPU, and what moto logged meanwhile."""
    start, cpu0, client0 = moto.mark(), moto.cpu_s(), time.process_time()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - began
    client = time.process_time() - client0
    logged = moto.requests(start, moto.mark())
    cpu1 = moto.cpu_s()
    server = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return {
        "request": name, "requests": n, "wall_s": wall, "per_s": n / wall,
        "server_cpu_s": server, "server_cpu_ms_per_request": None if server is None else 1000 * server / n,
        "server_busy": None if server is None else server / wall, "client_cpu_s": client,
        "logged": len(logged), "logged_errors": sum(1 for r in logged if r["status"] >= 400),
    }


def calibrate(work: Path, pages: int, n: int, workers: int) -> dict[str, Any]:
    """Start a moto server, time n PutObject then n CopyObject on a fresh bucket, stop it."""
    from hashdeploy.backends.s3 import make_clients

    site = build_bench.ensure_site(work, pages)
    page, body = representative_body(site)
    sha = hashlib.sha256(body).hexdigest()
    base = work / "server-floor"
    base.mkdir(parents=True, exist_ok=True)
    env = deploy_bench.child_env("http://127.0.0.1:1", base)
    moto = deploy_bench.MotoServer(base / "moto.log")
    moto.start(env)
    try:
        os.environ.update({k: v for k, v in deploy_bench.child_env(moto.url, base).items() if k.startswith("AWS_")})
        s3, _ = make_clients(profile=None, region="us-east-1", endpoint_url=moto.url, workers=workers,
                             max_attempts=setting_default("max_attempts"), with_cloudfront=False)
        s3.create_bucket(Bucket=BUCKET)
        headers: dict[str, Any] = {"ContentType": "text/html; charset=utf-8", "CacheControl": "no-cache",
                                   "Metadata": {"sha256": sha}}

        def put(i: int, prefix: str = "page") -> None:
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}-{i:05d}/index.html", Body=body, **headers)

        def copy(i: int) -> None:
            s3.copy_object(Bucket=BUCKET, Key=f"{deploy_bench.STABLE_STORE}{sha}-{i:05d}", MetadataDirective="REPLACE",
                           CopySource={"Bucket": BUCKET, "Key": f"page-{i:05d}/index.html"},
                           ContentType="application/octet-stream", CacheControl="no-store", Metadata={"sha256": sha})

        with ThreadPoolExecutor(max_workers=workers) as pool:  # untimed: threads and pooled connections set up
            list(pool.map(lambda i: put(i, "warm-up"), range(workers)))
        phases = [_phase("PutObject", put, n, workers, moto), _phase("CopyObject", copy, n, workers, moto)]
    finally:
        moto.stop()
    return {"moto_url": moto.url, "workers": workers, "body": str(page.relative_to(site)), "body_bytes": len(body),
            "put": phases[0], "copy": phases[1], "log": str(moto.log_path)}


def split_counts(by_kind: dict[str, int], header_copies: int = 0) -> dict[str, int]:
    """PUTs, copies and other requests of a run, from the kinds deploy_bench.classify gave moto's access log.

    The access log cannot tell a PutObject from a CopyObject: PUTs into .hashdeploy/stable/ are copies (hashdeploy
    only ever copies there), and `header_copies` in-place header updates (from hashdeploy's own report) are taken
    out of the object PUTs."""
    puts = sum(by_kind.get(k, 0) for k in deploy_bench.PUT_KINDS if k not in COPY_KINDS) - header_copies
    copies = sum(by_kind.get(k, 0) for k in COPY_KINDS) + header_copies
    return {"puts": puts, "copies": copies, "other": sum(by_kind.values()) - puts - copies}


def floor_s(counts: dict[str, int], cal: dict[str, Any]) -> float:
    """The least time the server needs for these PUTs and copies, at the calibrated rates."""
    return float(counts["puts"] / cal["put"]["per_s"] + counts["copies"] / cal["copy"]["per_s"])


def rates_text(counts: dict[str, int], cal: dict[str, Any]) -> str:
    """'2,530 PUTs at 301/s + 652 copies at 276/s' (the parts that are not zero)."""
    parts = [f"{counts['puts']:,} PUTs at {cal['put']['per_s']:.0f}/s"]
    if counts["copies"]:
        parts.append(f"{counts['copies']:,} copies at {cal['copy']['per_s']:.0f}/s")
    return " + ".join(parts)


def describe(cal: dict[str, Any]) -> list[str]:
    """The calibration in a few lines."""
    lines = [f"moto server calibration ({cal['workers']} concurrent requests from hashdeploy's boto3 client config, "
             f"body {cal['body']}, {cal['body_bytes'] / 1000:.1f} KB):"]
    for ph in (cal["put"], cal["copy"]):
        srv = ("" if ph["server_cpu_s"] is None else
               f"; server CPU {ph['server_cpu_ms_per_request']:.2f} ms a request, busy {ph['server_busy'] * 100:.0f} %")
        lines.append(f"  {ph['request']:<10} {ph['requests']} in {ph['wall_s']:.2f} s = {ph['per_s']:.0f} requests/s"
                     f"{srv}; client CPU {ph['client_cpu_s']:.2f} s; moto logged {ph['logged']} "
                     f"({ph['logged_errors']} errors)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line: calibrate, print, write WORK/server_floor.json."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--pages", type=int, default=2000, help="site whose median page is the body (default 2000)")
    p.add_argument("--requests", type=int, default=600, metavar="N", help="PutObject and CopyObject each (default 600)")
    p.add_argument("--workers", type=int, help="concurrent requests (default: hashdeploy's --workers default)")
    p.add_argument("--work", type=Path, default=BENCH / "out", help="work directory (default bench/out)")
    args = p.parse_args(argv)
    if args.requests < 1:
        p.error("--requests must be at least 1")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    cal = calibrate(work, args.pages, args.requests, args.workers or setting_default("workers"))
    (work / "server_floor.json").write_text(json.dumps(cal, indent=1) + "\n", encoding="utf-8")
    print("\n".join(describe(cal)))
    bad = [ph["request"] for ph in (cal["put"], cal["copy"]) if ph["logged_errors"] or ph["logged"] < ph["requests"]]
    if bad:
        print(f"server_floor: moto did not log {', '.join(bad)} as {args.requests} successful requests", file=sys.stderr)
    return 1 if bad else 0


def median_floor(cycles: list[dict[str, Any]], cal: dict[str, Any]) -> tuple[float, dict[str, int]]:
    """The median floor over watch cycles that logged their requests, and the counts of that cycle."""
    floors = sorted((floor_s(c["counts"], cal), c["counts"]) for c in cycles if "counts" in c)
    if not floors:
        raise ValueError("no cycle logged its requests")
    mid = statistics.median_low([f for f, _ in floors])
    return mid, next(c for f, c in floors if f == mid)


if __name__ == "__main__":
    raise SystemExit(main())
