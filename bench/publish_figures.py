"""The publishing figures of `./dev bench`: deploy_bench.py and watch_bench.py run as children, their targets read back.

    python bench/publish_figures.py [--pages 2000] [--work DIR] [--calibration-requests 600]

Each benchmark starts its own moto server on 127.0.0.1. deploy_bench.py needs an `aws` command (see README.md);
without one its targets are reported n/a with the reason, never guessed. Before them, server_floor.py measures
how many PutObject and CopyObject requests a second such a moto server takes; each time target then also gets
its server floor: the least time any client could take for the PUTs and copies moto logged for that run, at
those rates, and whether the target is within it. PASS and FAIL are those of the targets alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WATCH_TARGET_S = 1.0
CALIBRATION_REQUESTS = 600  # PutObject and CopyObject each, in the calibration


def _run(script: str, args: list[str], log: Path) -> tuple[int, str]:
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run([sys.executable, str(BENCH / script), *args], stdout=out, stderr=subprocess.STDOUT,
                              cwd=BENCH.parent, check=False)
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
    return proc.returncode, tail[0]


def calibrate(work: Path, pages: int, requests: int) -> tuple[dict[str, Any] | None, str]:
    """server_floor.py as a child: its calibration, or None and why not."""
    path = work / "server_floor.json"
    path.unlink(missing_ok=True)
    code, last = _run("server_floor.py", ["--pages", str(pages), "--work", str(work), "--requests", str(requests)],
                      work / "server_floor.log")
    if code != 0 or not path.is_file():
        return None, f"not measured: {last} (log: {work / 'server_floor.log'})"
    cal: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return cal, ""


def _cal_summary(cal: dict[str, Any]) -> dict[str, Any]:
    """The calibration figures a floor was computed from (results.json keeps them beside each floor)."""
    return {"workers": cal["workers"], "body_bytes": cal["body_bytes"], "put_per_s": cal["put"]["per_s"],
            "copy_per_s": cal["copy"]["per_s"], "put_server_cpu_ms": cal["put"]["server_cpu_ms_per_request"],
            "copy_server_cpu_ms": cal["copy"]["server_cpu_ms_per_request"]}


def _cpu_floor(counts: dict[str, int], cal: dict[str, Any]) -> float | None:
    """The server CPU time these PUTs and copies cost at the calibrated CPU per request (one core: moto's GIL)."""
    put, copy = cal["put"]["server_cpu_ms_per_request"], cal["copy"]["server_cpu_ms_per_request"]
    return None if put is None or copy is None else (counts["puts"] * put + counts["copies"] * copy) / 1000


def _verdict(reachable: bool, target: str) -> str:
    return f"target {target} " + ("not ruled out by the server" if reachable else "unreachable on this server")


def deploy_floor(doc: dict[str, Any], cal: dict[str, Any] | None, why: str) -> tuple[dict[str, Any] | None, str]:
    """The first deploy's floor: hashdeploy's logged PUTs and copies at the calibrated rates, over the sync's wall."""
    from deploy_bench import TARGET_FIRST_RATIO
    from server_floor import floor_s, rates_text, split_counts

    first = doc["sequence"]["steps"]["first"]
    hd, aws = first["hashdeploy"], first["aws"]
    if cal is None:
        return None, f"server floor {why}"
    if hd["returncode"] or aws["returncode"]:
        return None, "server floor: a run failed"
    counts = split_counts(hd["requests"]["by_kind"], (hd.get("report") or {}).get("headers_updated", 0))
    aws_counts = split_counts(aws["requests"]["by_kind"])
    floor, aws_floor = floor_s(counts, cal), floor_s(aws_counts, cal)
    implied = floor / aws["wall_s"]
    reachable, cpu = implied <= TARGET_FIRST_RATIO, _cpu_floor(counts, cal)
    out = {"requests": counts, "floor_s": floor, "server_cpu_floor_s": cpu, "server_cpu_measured_s": hd.get("server_cpu_s"),
           "aws_requests": aws_counts, "aws_floor_s": aws_floor, "aws_wall_s": aws["wall_s"], "implied_ratio": implied,
           "target_ratio": TARGET_FIRST_RATIO, "reachable": reachable, "calibration": _cal_summary(cal)}
    text = (f"server floor {floor:.2f} s ({rates_text(counts, cal)}"
            + ("" if cpu is None else f"; server CPU {cpu:.2f} s at the calibrated cost")
            + f") = x{implied:.2f} of the measured sync (whose own {aws_counts['puts']:,} PUTs have a floor of "
            f"{aws_floor:.2f} s): " + _verdict(reachable, f"<= {TARGET_FIRST_RATIO}"))
    return out, text


def watch_floor(doc: dict[str, Any], cal: dict[str, Any] | None, why: str) -> tuple[dict[str, Any] | None, str]:
    """A watch cycle's floor: the median over the cycles of their logged PUTs and copies at the calibrated rates."""
    from server_floor import median_floor, rates_text

    if cal is None:
        return None, f"server floor {why}"
    try:
        floor, counts = median_floor(doc.get("changes", []), cal)
    except ValueError as exc:
        return None, f"server floor not measured: {exc}"
    servers = [c["server_cpu_s"] for c in doc["changes"] if c.get("server_cpu_s") is not None]
    cpu_floor = _cpu_floor(counts, cal)
    out = {"requests": counts, "floor_s": floor, "server_cpu_floor_s": cpu_floor,
           "server_cpu_in_cycle_s": statistics.median(servers) if servers else None,
           "implied_ratio": floor / WATCH_TARGET_S, "target_s": WATCH_TARGET_S, "reachable": floor < WATCH_TARGET_S,
           "calibration": _cal_summary(cal)}
    cpu = "" if cpu_floor is None else f"; server CPU {cpu_floor:.2f} s at the calibrated cost"
    if servers:
        cpu += f", {statistics.median(servers):.2f} s measured in a cycle"
    text = (f"server floor {floor:.2f} s ({rates_text(counts, cal)}) = {floor / WATCH_TARGET_S:.1f}x the target{cpu}: "
            + _verdict(floor < WATCH_TARGET_S, f"< {WATCH_TARGET_S} s"))
    return out, text


def calibration_entry(cal: dict[str, Any] | None, why: str, pages: int) -> dict[str, Any]:
    """An informational line (ok None, like the --no-rollback-copies row) with the calibrated server rates."""
    label = f"[moto server, {pages}-page site] calibration (informational, not a target)"
    if cal is None:
        return {"target": label, "ok": None, "value": why}
    parts = []
    for ph in (cal["put"], cal["copy"]):
        cpu = ph["server_cpu_ms_per_request"]
        parts.append(f"{ph['request']} {ph['per_s']:.0f}/s" + ("" if cpu is None else f" ({cpu:.2f} ms server CPU each)"))
    return {"target": label, "ok": None, "calibration": cal,
            "value": f"{', '.join(parts)}; {cal['put']['requests']} of each, {cal['workers']} concurrent, "
                     f"{cal['body_bytes'] / 1000:.1f} KB body"}


def publish_targets(work: Path, pages: int, calibration_requests: int = CALIBRATION_REQUESTS) -> list[dict[str, Any]]:
    """Calibrate the server, run both benchmarks at `pages` and return their targets ({target, ok, value, floor})."""
    sys.path.insert(0, str(BENCH))
    cal, why = calibrate(work, pages, calibration_requests)
    if cal is not None:
        from server_floor import describe

        print("\n".join(describe(cal)), file=sys.stderr, flush=True)
    out: list[dict[str, Any]] = [calibration_entry(cal, why, pages)]
    code, last = _run("deploy_bench.py", ["--pages", str(pages), "--work", str(work)], work / "deploy_bench.log")
    results = work / "deploy_results.json"
    if code == 0 and results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        for t in doc.get("targets", []):
            entry = {"target": f"[deploy, {pages} pages] {t['target']}", "ok": t["ok"], "value": t["value"]}
            if t["target"].startswith("first deploy"):
                entry["floor"], text = deploy_floor(doc, cal, why)
                entry["value"] = f"{t['value']}; {text}"
            out.append(entry)
    else:
        out.append({"target": f"[deploy, {pages} pages] first deploy vs aws s3 sync", "ok": None,
                    "value": f"not measured: {last} (log: {work / 'deploy_bench.log'})"})
    for copies in (True, False):
        name = "watch_results.json"
        (work / name).unlink(missing_ok=True)
        args = ["--pages", str(pages), "--work", str(work)] + ([] if copies else ["--no-rollback-copies"])
        code, last = _run("watch_bench.py", args, work / f"watch_bench{'' if copies else '_nocopies'}.log")
        label = "rollback copies on" if copies else "--no-rollback-copies (informational)"
        if code != 0 or not (work / name).is_file():
            out.append({"target": f"[watch, {pages} pages, {label}] one-stylesheet change < {WATCH_TARGET_S} s",
                        "ok": None, "value": f"not measured: {last}"})
            continue
        doc = json.loads((work / name).read_text(encoding="utf-8"))
        latency = float(doc["median_latency_s"])
        lines = [c["line"] for c in doc.get("changes", [])]
        floor, text = watch_floor(doc, cal, why)
        out.append({"target": f"[watch, {pages} pages, {label}] one-stylesheet change deployed to moto "
                              f"< {WATCH_TARGET_S} s after the quiet period",
                    "ok": (latency < WATCH_TARGET_S) if copies else None,
                    "value": f"median {latency:.2f} s" + (f" ({lines[-1].split(': ', 1)[-1]})" if lines else "")
                    + f"; {text}",
                    "floor": floor})
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: the publishing figures alone, printed as bench/run.py prints its targets."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--pages", type=int, default=2000, help="site size in HTML pages (default 2000)")
    p.add_argument("--work", type=Path, default=BENCH / "out",
                   help="where sites, logs and publish_results.json go (default bench/out)")
    p.add_argument("--calibration-requests", type=int, default=CALIBRATION_REQUESTS, metavar="N",
                   help=f"PutObject and CopyObject requests each in the server calibration (default {CALIBRATION_REQUESTS})")
    args = p.parse_args(argv)
    if args.pages < 10:
        p.error("--pages must be at least 10")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    found = publish_targets(work, args.pages, args.calibration_requests)
    (work / "publish_results.json").write_text(json.dumps({"pages": args.pages, "targets": found}, indent=1) + "\n",
                                               encoding="utf-8")
    for t in found:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[t["ok"]]
        print(f"[{mark}] {t['target']}" + (f": {t['value']}" if t["value"] else ""))
    print(f"\nfigures: {work / 'publish_results.json'}; logs: {work}/*.log")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
