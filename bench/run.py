"""Benchmark hashdeploy against itself (first run, unchanged re-run) and Django's collectstatic.

    python bench/run.py [--pages 200 2000 8000] [--skip-django] [--work DIR] [--repeat K]

For each size the generated site (bench/gen_site.py, cached in the work directory) is processed by
separate child processes whose wall time and peak RSS (os.wait4 rusage) are measured:

  hashdeploy first  `python -m hashdeploy SITE --out OUT --quiet` with an empty parse cache
  hashdeploy rerun  the same command again, same cache and unchanged input
  django            `python -m django collectstatic --noinput -v0` with ManifestStaticFilesStorage

It prints a table and the targets from bench/README.md, and writes every figure to WORK/results.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
GENERATOR = BENCH / "gen_site.py"
DEFAULT_SIZES = (200, 2000, 8000)

# Targets (see bench/README.md).
TARGET_VS_DJANGO_AT = 2000  # at this size hashdeploy's first run must beat collectstatic
TARGET_RSS_MB = 300.0
TARGET_RERUN_SPEEDUP = 5.0
TARGET_LINEAR_SLACK = 1.25  # time per page may not grow by more than this factor between sizes

DJANGO_SETTINGS = """\
SECRET_KEY = "bench-only"
INSTALLED_APPS = ["django.contrib.staticfiles"]
STATIC_URL = "/static/"
STATIC_ROOT = {static_root!r}
STATICFILES_DIRS = [{site!r}]
STORAGES = {{"staticfiles": {{"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}}}
"""


def log(msg: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(msg, file=sys.stderr, flush=True)


def fresh_dir(path: Path) -> Path:
    """Remove path if it exists and create it empty."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without HASHDEPLOY_* and Django settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HASHDEPLOY_") and k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.update(extra)
    return env


def tree_stats(root: Path) -> dict[str, int]:
    """Count files, HTML pages and bytes under root."""
    files = html = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            html += name.endswith(".html")
            size += os.stat(os.path.join(dirpath, name)).st_size
    return {"files": files, "html_pages": html, "bytes": size}


def ensure_site(work: Path, pages: int) -> Path:
    """Generate the site for `pages` once; regenerate when gen_site.py changed since (a stamp file says)."""
    site = work / f"site-{pages}"
    stamp = work / f"site-{pages}.stamp"
    want = hashlib.sha256(GENERATOR.read_bytes()).hexdigest() + f" {pages}\n"
    if site.is_dir() and stamp.is_file() and stamp.read_text() == want:
        return site
    log(f"[{pages}] generating the site into {site}")
    tmp = work / f"site-{pages}.tmp"
    for p in (site, tmp):
        if p.exists():
            shutil.rmtree(p)
    stamp.unlink(missing_ok=True)
    subprocess.run([sys.executable, str(GENERATOR), "--pages", str(pages), str(tmp)], check=True,
                   stdout=subprocess.DEVNULL)
    tmp.rename(site)
    stamp.write_text(want)
    return site


def measure(cmd: list[str], env: dict[str, str], cwd: Path, log_file: Path) -> dict[str, Any]:
    """Run cmd as a child process; return its exit code, wall time, CPU time and peak RSS.

    Peak RSS is the child's ru_maxrss from os.wait4 (KiB on Linux); it covers the child and any workers it
    waited for, as the largest single process, not their sum.
    """
    with open(log_file, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    text = log_file.read_text(encoding="utf-8", errors="replace")
    return {
        "cmd": cmd,
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20,
        "warnings": sum(1 for line in text.splitlines() if line.startswith("warning:")),
        "output_tail": text.splitlines()[-15:],
        "log": str(log_file),
    }


def run_hashdeploy(site: Path, run_dir: Path, pages: int) -> dict[str, dict[str, Any]]:
    """First run with an empty parse cache, then the identical command again on unchanged input."""
    cache = fresh_dir(run_dir / "hashdeploy-cache")
    out = run_dir / "hashdeploy-out"
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "hashdeploy", str(site), "--out", str(out), "--quiet"]
    env = clean_env(HASHDEPLOY_CACHE_DIR=str(cache))
    results = {}
    for name in ("first", "rerun"):
        log(f"[{pages}] hashdeploy ({name})")
        results[name] = measure(cmd, env, run_dir, run_dir / f"hashdeploy-{name}.log")
    return results


def run_django(site: Path, run_dir: Path, pages: int) -> dict[str, Any]:
    """collectstatic with ManifestStaticFilesStorage into a fresh STATIC_ROOT."""
    settings_dir = fresh_dir(run_dir / "django-settings")
    static_root = run_dir / "django-static"
    if static_root.exists():
        shutil.rmtree(static_root)
    (settings_dir / "bench_settings.py").write_text(
        DJANGO_SETTINGS.format(static_root=str(static_root), site=str(site)), encoding="utf-8")
    cmd = [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"]
    env = clean_env(DJANGO_SETTINGS_MODULE="bench_settings", PYTHONPATH=str(settings_dir))
    log(f"[{pages}] django collectstatic")
    return measure(cmd, env, run_dir, run_dir / "django.log")


def rates(run: dict[str, Any], stats: dict[str, int]) -> None:
    """Add pages/s and MB/s (input bytes over wall time) to a run."""
    wall = run["wall_s"]
    run["pages_per_s"] = stats["html_pages"] / wall if wall > 0 else None
    run["mb_per_s"] = stats["bytes"] / 1e6 / wall if wall > 0 else None


def best_of(tries: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest successful try (the first failure if none succeeded), with every try's wall time."""
    ok = [t for t in tries if t["returncode"] == 0]
    best = dict(min(ok, key=lambda t: t["wall_s"]) if ok else tries[0])
    best["tries_wall_s"] = [t["wall_s"] for t in tries]
    best["peak_rss_mb"] = max(t["peak_rss_mb"] for t in tries)
    return best


def bench_size(work: Path, pages: int, skip_django: bool, repeat: int) -> dict[str, Any]:
    """Every measurement for one site size; with repeat > 1 each row keeps its fastest try."""
    site = ensure_site(work, pages)
    stats = tree_stats(site)
    run_dir = work / f"run-{pages}"
    run_dir.mkdir(exist_ok=True)
    tries: dict[str, list[dict[str, Any]]] = {}
    for _ in range(repeat):
        hd = run_hashdeploy(site, run_dir, pages)
        tries.setdefault("hashdeploy first", []).append(hd["first"])
        tries.setdefault("hashdeploy rerun", []).append(hd["rerun"])
        if not skip_django:
            tries.setdefault("django collectstatic", []).append(run_django(site, run_dir, pages))
    runs = {name: best_of(t) for name, t in tries.items()}
    for name, run in runs.items():
        rates(run, stats)
        if run["returncode"] != 0:
            log(f"[{pages}] {name} FAILED (exit {run['returncode']}); last lines of {run['log']}:")
            for line in run["output_tail"]:
                log("    " + line)
        elif run["warnings"]:
            log(f"[{pages}] {name}: {run['warnings']} warning(s), see {run['log']}")
    first, rerun = runs["hashdeploy first"], runs["hashdeploy rerun"]
    entry: dict[str, Any] = {"pages": pages, "site": str(site), **stats, "runs": runs}
    entry["rerun_speedup"] = _ratio(first, rerun)
    entry["hashdeploy_vs_django"] = _ratio(first, runs.get("django collectstatic"))
    return entry


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    """Wall time of a over b, or None unless both ran and succeeded."""
    if a is None or b is None or a["returncode"] != 0 or b["returncode"] != 0 or b["wall_s"] <= 0:
        return None
    return float(a["wall_s"] / b["wall_s"])


def linearity(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time per page of hashdeploy's first run at each size, and the marginal cost between sizes."""
    rows = []
    prev = None
    for s in sizes:
        run = s["runs"]["hashdeploy first"]
        if run["returncode"] != 0:
            continue
        row = {"pages": s["pages"], "ms_per_page": 1000 * run["wall_s"] / s["html_pages"]}
        if prev is not None:
            row["marginal_ms_per_page"] = 1000 * (run["wall_s"] - prev[1]) / (s["html_pages"] - prev[0])
            row["growth"] = row["ms_per_page"] / rows[-1]["ms_per_page"]
        rows.append(row)
        prev = (s["html_pages"], run["wall_s"])
    return rows


def targets(sizes: list[dict[str, Any]], lin: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate the README's targets; `ok` is None when the figures needed were not measured."""
    out = []
    at = next((s for s in sizes if s["pages"] == TARGET_VS_DJANGO_AT), None)
    ratio = at["hashdeploy_vs_django"] if at else None
    out.append({"target": f"at {TARGET_VS_DJANGO_AT} pages hashdeploy wall time below Django's",
                "ok": None if ratio is None else ratio < 1,
                "value": None if ratio is None else f"hashdeploy/django = {ratio:.2f}"})
    rss = [(s["pages"], name, r["peak_rss_mb"]) for s in sizes for name, r in s["runs"].items()
           if name.startswith("hashdeploy") and r["returncode"] == 0]
    worst = max(rss, key=lambda x: x[2], default=None)
    out.append({"target": f"hashdeploy peak RSS under {TARGET_RSS_MB:.0f} MB at every size",
                "ok": None if worst is None else worst[2] < TARGET_RSS_MB,
                "value": worst and f"max {worst[2]:.0f} MB ({worst[1]}, {worst[0]} pages)"})
    speedups = [(s["pages"], s["rerun_speedup"]) for s in sizes if s["rerun_speedup"] is not None]
    low = min(speedups, key=lambda x: x[1], default=None)
    out.append({"target": f"re-run with no change >= {TARGET_RERUN_SPEEDUP:.0f}x faster than the first run",
                "ok": None if low is None else low[1] >= TARGET_RERUN_SPEEDUP,
                "value": low and f"min {low[1]:.2f}x ({low[0]} pages)"})
    growth = [(r["pages"], r["growth"]) for r in lin if "growth" in r]
    high = max(growth, key=lambda x: x[1], default=None)
    out.append({"target": f"time linear in pages (time per page grows < {TARGET_LINEAR_SLACK}x between sizes)",
                "ok": None if high is None else high[1] < TARGET_LINEAR_SLACK,
                "value": high and f"max growth {high[1]:.2f}x (at {high[0]} pages)"})
    return out


def _fmt(value: float | None, spec: str) -> str:
    """Format a number, or '-' when missing."""
    return "-" if value is None else format(value, spec)


def report(result: dict[str, Any]) -> str:
    """The human-readable tables."""
    lines = [f"{'pages':>6}  {'tool':<21}{'wall s':>8}{'pages/s':>10}{'MB/s':>8}{'peak RSS MB':>13}{'cpu s':>8}"
             "  note"]
    for s in result["sizes"]:
        for name, r in s["runs"].items():
            ok = r["returncode"] == 0
            note = "" if ok else f"FAILED (exit {r['returncode']})"
            if ok and r["warnings"]:
                note = f"{r['warnings']} warnings"
            lines.append(f"{s['pages']:>6}  {name:<21}{r['wall_s']:>8.2f}{_fmt(r['pages_per_s'], '.0f'):>10}"
                         f"{_fmt(r['mb_per_s'], '.1f'):>8}{r['peak_rss_mb']:>13.0f}{r['cpu_s']:>8.2f}  {note}")
    lines.append("")
    for s in result["sizes"]:
        sp, vs = s["rerun_speedup"], s["hashdeploy_vs_django"]
        lines.append(f"{s['pages']:>6} pages ({s['files']} files, {s['bytes'] / 1e6:.0f} MB): "
                     f"rerun speedup {_fmt(sp, '.2f')}x, hashdeploy/django wall {_fmt(vs, '.2f')}")
    if result["linearity"]:
        parts = []
        for r in result["linearity"]:
            part = f"{r['pages']}: {r['ms_per_page']:.2f} ms/page"
            if "marginal_ms_per_page" in r:
                part += f" (marginal {r['marginal_ms_per_page']:.2f})"
            parts.append(part)
        lines.append("linearity (hashdeploy first run): " + "; ".join(parts))
    lines.append("")
    for t in result["targets"]:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[t["ok"]]
        lines.append(f"[{mark}] {t['target']}" + (f": {t['value']}" if t["value"] else ""))
    return "\n".join(lines)


def meta() -> dict[str, Any]:
    """Where and on what code the figures were taken."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": git("rev-parse", "HEAD"),
        "hashdeploy_dirty": bool(git("status", "--porcelain", "--", "hashdeploy")),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, nargs="+", default=list(DEFAULT_SIZES), metavar="N",
                   help="site sizes in HTML pages (default: 200 2000 8000)")
    p.add_argument("--skip-django", action="store_true", help="do not run Django's collectstatic")
    p.add_argument("--work", type=Path, default=BENCH / "out",
                   help="where generated sites, outputs and results.json go (default bench/out)")
    p.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="run every measurement K times and keep the fastest (default 1)")
    args = p.parse_args(argv)
    if any(n < 10 for n in args.pages):
        p.error("--pages: every size must be at least 10")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        log(f"note: load average is {load:.1f} on {os.cpu_count()} CPUs; timings will be noisy")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"meta": meta() | {"repeat": args.repeat}, "sizes": []}
    for pages in sorted(set(args.pages)):
        result["sizes"].append(bench_size(work, pages, args.skip_django, args.repeat))
    result["meta"]["loadavg_at_end"] = os.getloadavg()
    result["linearity"] = linearity(result["sizes"])
    result["targets"] = targets(result["sizes"], result["linearity"])
    (work / "results.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(report(result))
    print(f"\nfigures: {work / 'results.json'}")
    failed = any(r["returncode"] != 0 for s in result["sizes"] for n, r in s["runs"].items()
                 if n.startswith("hashdeploy"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
