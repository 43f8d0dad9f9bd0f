"""Watch-mode latency: from the last write of a one-stylesheet change to the end of its deploy, minus the quiet period.

python bench/watch_bench.py [--pages 2000] [--quiet 1.0] [--changes 3] [--work bench/out]

The generated site (bench/gen_site.py) is deployed to a moto server on 127.0.0.1 (its own process, started as
bench/deploy_bench.py starts it, its access log kept) by `hashdeploy SITE --bucket B --distribution-id D --watch`;
then one stylesheet is changed `--changes` times and the time to the end of each cycle is read from the watcher's
output. The requests each cycle sent are counted from moto's access log, and the server's CPU time meanwhile from
/proc; so is the watcher's CPU use while idle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from deploy_bench import MotoServer, request_summary  # noqa: E402  (the deploy bench's server and log reader)
from server_floor import split_counts  # noqa: E402

TARGET_LATENCY = 1.0  # seconds from the quiet period's end to the end of the cycle's deploy


def setup_aws(url: str) -> tuple[str, str]:
    """A bucket and a distribution in moto."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    cf = boto3.client("cloudfront", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket="watch-bench")
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "watch-bench", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "watch-bench.s3.amazonaws.com",
                                              "OriginPath": "", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    })
    return "watch-bench", str(dist["Distribution"]["Id"])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float) -> tuple[str, float]:
    """Read the watcher's lines until one contains needle; return it and when it arrived."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if needle in line:
            return line.rstrip(), time.monotonic()
        if time.monotonic() > deadline:
            break
    raise SystemExit(f"no line with {needle!r} within {timeout} s")


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--quiet", type=float, default=1.0)
    ap.add_argument("--changes", type=int, default=3)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--stylesheet", default="css/print.css", help="the stylesheet to change (site-relative)")
    ap.add_argument("--no-rollback-copies", action="store_true", help="pass --no-rollback-copies to the watcher")
    args = ap.parse_args()
    site = args.work / f"watch-site-{args.pages}"
    if site.exists():
        shutil.rmtree(site)
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_site.py"), "--pages", str(args.pages), str(site)],
                   check=True)
    moto = MotoServer(args.work.resolve() / f"watch-moto{'-nocopies' if args.no_rollback_copies else ''}.log")
    moto.start(dict(os.environ))
    url = moto.url
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url,
           "HASHDEPLOY_CACHE_DIR": tempfile.mkdtemp(prefix="hd-watch-cache-")}
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
    bucket, dist = setup_aws(url)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hashdeploy", str(site), "--bucket", bucket, "--distribution-id", dist, "--watch",
         "--quiet-period", str(args.quiet), "--invalidation-interval", "0"]
        + (["--no-rollback-copies"] if args.no_rollback_copies else []),
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    results: list[dict[str, Any]] = []
    try:
        first, _ = read_until(watcher, "cycle 1", 600)
        print(first)
        time.sleep(2 * args.quiet)
        before = cpu_seconds(watcher.pid)
        time.sleep(10)
        idle = (cpu_seconds(watcher.pid) - before) / 10
        for i in range(args.changes):
            path = site / args.stylesheet
            mark, server_before = moto.mark(), moto.cpu_s()
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"\n.bench-change-{i} {{ color: #{i:06x}; }}\n")
            last_write = time.monotonic()
            line, done = read_until(watcher, f"cycle {i + 2}", 120)
            latency = done - last_write - args.quiet
            sent = request_summary(moto.requests(mark, moto.mark()))
            server_after = moto.cpu_s()
            server = None if server_before is None or server_after is None else server_after - server_before
            counts = split_counts(sent["by_kind"])
            results.append({"line": line, "latency_s": round(latency, 3), "requests": sent["by_kind"],
                            "counts": counts, "server_cpu_s": server})
            print(f"{line}\n  latency minus quiet period: {latency:.2f} s; moto logged {counts['puts']} PUTs, "
                  f"{counts['copies']} copies, {counts['other']} other requests"
                  + ("" if server is None else f"; server CPU {server:.2f} s"))
            time.sleep(2 * args.quiet)
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
        moto.stop()
    median = statistics.median(r["latency_s"] for r in results)
    print(f"\npages {args.pages}, quiet period {args.quiet} s: median latency minus quiet period {median:.2f} s; "
          f"idle CPU {idle * 100:.2f} % of one core")
    print(f"[{'PASS' if median < TARGET_LATENCY else 'FAIL'}] latency under {TARGET_LATENCY} s after the quiet period: "
          f"{median:.2f} s")
    print(f"[{'PASS' if idle < 0.02 else 'FAIL'}] idle CPU near zero (< 2 %)")
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "watch_results.json").write_text(json.dumps(
        {"pages": args.pages, "quiet_s": args.quiet, "changes": results, "median_latency_s": median,
         "idle_cpu_fraction": idle}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
