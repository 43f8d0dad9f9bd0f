"""Benchmark hashdeploy's S3 + CloudFront deploys against `aws s3 sync`, on a local moto server.

    python bench/deploy_bench.py [--pages 2000] [--work DIR] [--workers N] [--repeat K] [--aws PATH]
                                 [--stylesheet css/base.css] [--simulate-latency 0.04] [--simulate-mbps M]

The generated site (bench/gen_site.py, cached in the work directory like bench/run.py does) is copied to
WORK/deploy-N/site. A moto server runs as a separate process on 127.0.0.1; its own request log (werkzeug's
access log on its stderr) is what the PUTs, LISTs and invalidations are counted from. Three steps, each with
hashdeploy (`hashdeploy SITE --bucket B1 --distribution-id D --json`) and `aws s3 sync OUT s3://B2/`, where OUT
is the same site processed by `hashdeploy SITE --out OUT` (so both tools upload the same objects):

  first     both buckets empty
  nochange  the site rebuilt with identical content (every file copied again: new mtimes, same path)
  onecss    rebuilt again, with one rule appended to one stylesheet (--stylesheet, default css/base.css,
            which site.css imports and every page loads)

It prints a table and the targets from bench/README.md, and writes every figure to WORK/deploy_results.json.
A latency model (--simulate-latency) turns the request counts into what the same deploys would take and cost
against real S3 and CloudFront.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import posixpath
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import run as build_bench  # noqa: E402  (bench/run.py: site generation and helpers)

BUCKET_HD = "bench-hashdeploy"
BUCKET_AWS = "bench-awssync"
RESERVED = ".hashdeploy/"
STABLE_STORE = RESERVED + "stable/"
PUT_KINDS = ("put_object", "put_stable_body", "put_record")

# Targets (see bench/README.md).
TARGET_NOCHANGE_SPEEDUP = 10.0
TARGET_FIRST_RATIO = 0.6  # issue: a first deploy (processing included) within 0.6x of `aws s3 sync`

# Price list used by the paper calculation (us-east-1, as of 2025; see bench/README.md).
PRICE_S3_PUT_CLASS = 0.005 / 1000  # PUT, COPY, POST, LIST
PRICE_S3_GET_CLASS = 0.0004 / 1000  # GET, HEAD and all other requests
FREE_INVALIDATION_PATHS = 1000  # per account and month
PRICE_INVALIDATION_PATH = 0.005
AWS_CLI_DEFAULT_CONCURRENCY = 10
HASHDEPLOY_DEFAULT_WORKERS = 16

log = build_bench.log


# ---------------------------------------------------------------------------------------------- moto server

class MotoServer:
    """`python -m moto.server` in its own process (its own core), with its access log kept in a file."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        out = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.log_path.parent)
        out.close()
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server on {self.url} did not answer within 60 s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cpu_s(self) -> float | None:
        """CPU seconds the server has used so far (Linux /proc; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid if self.proc else 0}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def mark(self) -> int:
        """The current end of the request log, once it has stopped growing (responses are logged as sent)."""
        size, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 0.15:
            now = self.log_path.stat().st_size
            if now != size:
                size, stable_since = now, time.monotonic()
            time.sleep(0.03)
        return size

    def requests(self, start: int, end: int) -> list[dict[str, Any]]:
        """Requests logged between two marks."""
        with open(self.log_path, "rb") as f:
            f.seek(start)
            text = f.read(end - start).decode("utf-8", "replace")
        return [classify(m["method"], m["target"], int(m["status"])) for m in _ACCESS.finditer(text)]


_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def classify(method: str, target: str, status: int) -> dict[str, Any]:
    """What one logged request was: S3 (path-style, as botocore sends to an IP endpoint) or CloudFront."""
    path, _, query = target.partition("?")
    path = urllib.parse.unquote(path)
    req: dict[str, Any] = {"method": method, "status": status, "bucket": None, "key": None}
    if path.startswith("/2020-05-31/"):
        req["kind"] = "cf_invalidation" if method == "POST" and path.endswith("/invalidation") else "cf_other"
        return req
    bucket, _, key = path.lstrip("/").partition("/")
    req["bucket"], req["key"] = bucket, key
    if method == "GET" and not key:
        kind = "list" if "list-type" in query or not query else "get_other"
    elif method == "PUT" and key:  # an upload or a server-side copy: the access log cannot tell them apart
        if key.startswith(STABLE_STORE):
            kind = "put_stable_body"  # hashdeploy's kept body of a stable file (uploaded with the assets)
        elif key.startswith(RESERVED):
            kind = "put_record"  # deploy records, history, lock
        else:
            kind = "put_object"
    elif method == "DELETE":
        kind = "delete"
    elif method == "GET":
        kind = "get"
    elif method == "HEAD":
        kind = "head"
    else:
        kind = f"{method.lower()}_other"
    req["kind"] = kind
    return req


def request_summary(reqs: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by kind, the S3 request cost, and the object keys written."""
    kinds: dict[str, int] = {}
    for r in reqs:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    s3 = [r for r in reqs if r["bucket"] is not None]
    put_class = sum(1 for r in s3 if r["method"] in ("PUT", "POST")) + kinds.get("list", 0)  # PUT, COPY, POST, LIST
    get_class = sum(1 for r in s3 if r["method"] in ("GET", "HEAD")) - kinds.get("list", 0)  # DELETE is free
    put_keys = [r["key"] for r in reqs if r["kind"] == "put_object"]
    return {
        "total": len(reqs),
        "by_kind": dict(sorted(kinds.items())),
        "status_4xx_5xx": sum(1 for r in reqs if r["status"] >= 400),  # hashdeploy's first record GET is a 404
        "s3_put_class": put_class,
        "s3_get_class": get_class,
        "s3_cost_usd": put_class * PRICE_S3_PUT_CLASS + get_class * PRICE_S3_GET_CLASS,
        "object_puts": len(put_keys),
        "object_put_keys_distinct": len(set(put_keys)),
        "_put_keys": put_keys,
    }


# ---------------------------------------------------------------------------------------------- processes

def child_env(endpoint: str, work: Path, **extra: str) -> dict[str, str]:
    """The environment without AWS_* and HASHDEPLOY_* from outside, pointed at the moto server."""
    env = {k: v for k, v in build_bench.clean_env().items() if not k.startswith("AWS_")}
    config = work / "aws-config"
    env.update(AWS_ACCESS_KEY_ID="bench-access-key", AWS_SECRET_ACCESS_KEY="bench-secret-key",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials-none"))
    env.update(extra)
    return env


def measure(name: str, cmd: list[str], env: dict[str, str], cwd: Path, logs: Path, moto: MotoServer) -> dict[str, Any]:
    """Run cmd; its wall time, CPU, peak RSS, output files, and the requests moto logged meanwhile."""
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    start, load = moto.mark(), os.getloadavg()[0]
    server_cpu = moto.cpu_s()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    reqs = moto.requests(start, moto.mark())
    server_after = moto.cpu_s()
    tail = stderr.read_text(encoding="utf-8", errors="replace").splitlines()[-10:]
    run: dict[str, Any] = {
        "cmd": [str(c) for c in cmd],
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "server_cpu_s": None if server_cpu is None or server_after is None else server_after - server_cpu,
        "loadavg_1m_at_start": load,
        "requests": request_summary(reqs),
        "stdout": str(stdout),
        "stderr": str(stderr),
        "stderr_tail": tail,
    }
    if proc.returncode != 0:
        log(f"  {name} FAILED (exit {proc.returncode}); last lines of {stderr}:")
        for line in tail:
            log("    " + line)
    return run


def rebuild(pristine: Path, site: Path) -> None:
    """Mimic a rebuild: the same path, every file written again (new mtimes)."""
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(pristine, site, copy_function=shutil.copyfile)


def aws_cli(given: str | None = None) -> list[str]:
    """The aws command: --aws, else the venv's (pip install awscli), else the one on PATH (AWS CLI v2 works too)."""
    local = Path(sys.executable).parent / "aws"
    found = given or (str(local) if local.exists() else shutil.which("aws"))
    if not found:
        raise SystemExit("deploy_bench: no aws command; install the AWS CLI (see bench/README.md) or pass --aws PATH")
    return [found]


# ---------------------------------------------------------------------------------------------- site analysis

def tree_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under root by key, without hashdeploy's own .hashdeploy/ directory."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath, name)
            key = p.relative_to(root).as_posix()
            if not key.startswith(RESERVED):
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""")
_LINK = re.compile(r"<link\b[^>]*>", re.I)
_STYLESHEET = re.compile(r"""\brel\s*=\s*["']?stylesheet\b""", re.I)
_HREF = re.compile(r"""\bhref\s*=\s*["']([^"']+)["']""", re.I)


def _resolve(base_key: str, ref: str) -> str:
    ref = ref.split("#", 1)[0].split("?", 1)[0]
    if ref.startswith("/"):
        return posixpath.normpath(ref.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_key), ref))


def expected_change(site: Path, edited: str) -> dict[str, Any]:
    """Independently of hashdeploy: the edited stylesheet, every stylesheet that @imports it (transitively),
    and every page that links one of them."""
    importers: dict[str, set[str]] = {}
    pages: dict[str, set[str]] = {}
    for p in site.rglob("*"):
        key = p.relative_to(site).as_posix()
        if p.suffix == ".css":
            for ref in _IMPORT.findall(p.read_text(encoding="utf-8")):
                importers.setdefault(_resolve(key, ref), set()).add(key)
        elif p.suffix == ".html":
            pages[key] = {_resolve(key, h) for tag in _LINK.findall(p.read_text(encoding="utf-8"))
                          if _STYLESHEET.search(tag) for h in _HREF.findall(tag)}
    sheets, todo = {edited}, [edited]
    while todo:
        for imp in importers.get(todo.pop(), ()):
            if imp not in sheets:
                sheets.add(imp)
                todo.append(imp)
    using = {k for k, links in pages.items() if links & sheets}
    return {"stylesheets": sorted(sheets), "pages": sorted(using)}


def viewer_urls(key: str) -> list[str]:
    """The URLs viewers use for a key at the bucket root: /a/index.html also as /a/."""
    urls = ["/" + key]
    if key == "index.html" or key.endswith("/index.html"):
        urls.append("/" + key[: -len("index.html")])
    return urls


def _covered(url: str, paths: list[str]) -> bool:
    q = urllib.parse.quote(url, safe="/-_.~!$&'()+,;=:@")
    return any(q == p or (p.endswith("*") and q.startswith(p[:-1])) for p in paths)


# ---------------------------------------------------------------------------------------------- one sequence

def setup_aws(endpoint: str) -> str:
    """Both buckets and a distribution whose origin is the hashdeploy bucket; returns the distribution id."""
    import boto3

    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench-access-key",
              aws_secret_access_key="bench-secret-key")
    s3 = boto3.client("s3", **kw)
    cf = boto3.client("cloudfront", **kw)
    for b in (BUCKET_HD, BUCKET_AWS):
        s3.create_bucket(Bucket=b)
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "hashdeploy-deploy-bench", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{BUCKET_HD}.s3.amazonaws.com",
                                              "OriginPath": "", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    })
    return str(dist["Distribution"]["Id"])


def bucket_keys(endpoint: str, bucket: str) -> int:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench-access-key",
                      aws_secret_access_key="bench-secret-key")
    return sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))


def served_headers(endpoint: str, run: dict[str, Any]) -> dict[str, Any]:
    """Content-Type and Cache-Control of a page and a stylesheet hashdeploy just published (a sanity check)."""
    import boto3

    rep = run.get("report")
    if rep is None:
        return {}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench-access-key",
                      aws_secret_access_key="bench-secret-key")
    out = {}
    for key in ("index.html", next((k for k in rep["uploaded_keys"] if k.endswith(".css")), None)):
        if key:
            h = s3.head_object(Bucket=BUCKET_HD, Key=key)
            out[key] = {"content_type": h.get("ContentType"), "cache_control": h.get("CacheControl")}
    return out


def hashdeploy_json(run: dict[str, Any]) -> dict[str, Any] | None:
    if run["returncode"] != 0:
        return None
    try:
        doc: dict[str, Any] = json.loads(Path(run["stdout"]).read_text(encoding="utf-8"))
        return doc
    except ValueError:
        return None


def summarize_hashdeploy(run: dict[str, Any]) -> None:
    """Add the figures of hashdeploy's --json report to the run."""
    doc = hashdeploy_json(run)
    if doc is None:
        return
    phases = {"assets": 0, "stable": 0, "pages": 0}
    for a in doc["plan"]:
        if a["action"] == "skip":
            continue
        if a["class"] != "stable":
            phases["assets"] += 1
        elif a["key"].endswith((".html", ".htm")):
            phases["pages"] += 1
        else:
            phases["stable"] += 1
    inv = doc["invalidation"]
    run["report"] = {
        "uploaded": doc["uploaded"], "headers_updated": doc["headers_updated"], "skipped": doc["skipped"],
        "objects_in_site": len(doc["plan"]), "bytes_uploaded": doc["bytes_uploaded"],
        "deploy_stage_s": doc["seconds"], "phases": phases,
        "invalidation_paths": inv["paths"], "invalidation_billed": inv["billed_paths"],
        "changed_urls": inv["changed_urls"], "flushed_unchanged": inv["flushed_unchanged"],
        "warnings": doc["warnings"] + doc.get("build_warnings", []),
        "uploaded_keys": sorted(a["key"] for a in doc["plan"] if a["action"] == "upload"),
    }


def summarize_aws(run: dict[str, Any]) -> None:
    """Count the `upload:` lines of aws s3 sync."""
    text = Path(run["stdout"]).read_text(encoding="utf-8", errors="replace")
    ups = [line for line in text.splitlines() if line.startswith("upload: ")]
    run["report"] = {"uploaded": len(ups)}


def sequence(args: argparse.Namespace, pristine: Path, base: Path, try_no: int) -> dict[str, Any]:
    """One full run of the three steps against a fresh moto server and fresh caches."""
    logs = build_bench.fresh_dir(base / f"logs-{try_no}")
    for d in ("cache-deploy", "cache-prep", "keep"):
        if (base / d).exists():
            shutil.rmtree(base / d)
    (base / "aws-config").write_text(
        f"[default]\ns3 =\n  max_concurrent_requests = {args.aws_concurrency}\n", encoding="utf-8")
    site = base / "site"
    moto = MotoServer(logs / "moto.log")
    moto.start(child_env("http://127.0.0.1:1", base))
    try:
        endpoint = moto.url
        dist = setup_aws(endpoint)
        log(f"  moto server {endpoint} (pid {moto.proc.pid if moto.proc else '?'}), distribution {dist}")
        hd_env = child_env(endpoint, base, HASHDEPLOY_CACHE_DIR=str(base / "cache-deploy"))
        prep_env = child_env(endpoint, base, HASHDEPLOY_CACHE_DIR=str(base / "cache-prep"))
        hd_cmd = [sys.executable, "-m", "hashdeploy", str(site), "--bucket", BUCKET_HD, "--distribution-id", dist,
                  "--json"] + (["--workers", str(args.workers)] if args.workers else [])
        aws = aws_cli(args.aws)

        def prep(step: str) -> tuple[Path, dict[str, Any]]:
            out = base / f"out-{step}"
            if out.exists():
                shutil.rmtree(out)
            r = measure(f"{step}-prep", [sys.executable, "-m", "hashdeploy", str(site), "--out", str(out), "--quiet"],
                        prep_env, base, logs, moto)
            if r["returncode"] != 0:
                raise RuntimeError(f"processing the site for aws s3 sync failed; see {r['stderr']}")
            return out, r

        def sync(step: str, out: Path) -> dict[str, Any]:
            r = measure(f"{step}-aws", [*aws, "s3", "sync", str(out), f"s3://{BUCKET_AWS}/", "--exclude",
                                        RESERVED + "*", "--no-progress", "--endpoint-url", endpoint],
                        hd_env, base, logs, moto)
            summarize_aws(r)
            return r

        def hd(step: str, *extra: str) -> dict[str, Any]:
            r = measure(f"{step}-hashdeploy", hd_cmd + list(extra), hd_env, base, logs, moto)
            summarize_hashdeploy(r)
            return r

        steps: dict[str, Any] = {}
        # 1. first deploy
        log("  step 1: first deploy")
        rebuild(pristine, site)
        out1, prep1 = prep("first")
        steps["first"] = {"prep": prep1, "hashdeploy": hd("first"), "aws": sync("first", out1)}
        # untimed: a kept --out directory for the informational row of step 2
        keep = subprocess.run([sys.executable, "-m", "hashdeploy", str(site), "--out", str(base / "keep"), "--quiet"],
                              env=hd_env, cwd=base, capture_output=True)
        steps["first"]["objects_in_bucket"] = {"hashdeploy": bucket_keys(endpoint, BUCKET_HD),
                                               "aws": bucket_keys(endpoint, BUCKET_AWS)}
        # 2. rebuild, no content change
        log("  step 2: redeploy after a rebuild with no content change")
        rebuild(pristine, site)
        out2, prep2 = prep("nochange")
        steps["nochange"] = {"prep": prep2, "hashdeploy": hd("nochange")}
        if keep.returncode == 0:
            steps["nochange"]["hashdeploy_kept_out"] = hd("nochange-kept-out", "--out", str(base / "keep"))
        steps["nochange"]["aws"] = sync("nochange", out2)
        # 3. rebuild with one stylesheet changed
        log(f"  step 3: redeploy after a rebuild that changed {args.stylesheet}")
        rebuild(pristine, site)
        sheet = site / args.stylesheet
        if not sheet.is_file():
            raise SystemExit(f"deploy_bench: --stylesheet {args.stylesheet}: no such file in the site")
        with open(sheet, "a", encoding="utf-8") as f:
            f.write("\n.deploy-bench-change { outline: 1px dashed #c00; }\n")
        out3, prep3 = prep("onecss")
        steps["onecss"] = {"prep": prep3, "hashdeploy": hd("onecss"), "aws": sync("onecss", out3)}
        steps["onecss"]["truth"] = onecss_truth(site, args.stylesheet, out2, out3)
        steps["onecss"]["served_headers"] = served_headers(endpoint, steps["onecss"]["hashdeploy"])
        steps["onecss"]["objects_in_bucket"] = {"hashdeploy": bucket_keys(endpoint, BUCKET_HD),
                                                "aws": bucket_keys(endpoint, BUCKET_AWS)}
        for sname, step in steps.items():  # keep the PUT keys only where they are checked
            for rname, r in step.items():
                if isinstance(r, dict) and "requests" in r:
                    keys = r["requests"].pop("_put_keys")
                    if (sname, rname) == ("onecss", "hashdeploy"):
                        r["requests"]["put_keys"] = keys
        return {"moto_url": endpoint, "distribution_id": dist, "logs": str(logs), "steps": steps}
    finally:
        moto.stop()


def onecss_truth(site: Path, edited: str, before: Path, after: Path) -> dict[str, Any]:
    """What really changed between the processed trees of step 2 and step 3, and what the model expects."""
    old, new = tree_digests(before), tree_digests(after)
    changed = sorted(k for k, d in new.items() if old.get(k) != d)
    manifest = json.loads((after / RESERVED / "manifest.json").read_text(encoding="utf-8"))
    source = {k: e["source"] for k, e in manifest["files"].items()}
    exp = expected_change(site, edited)
    want_sources = set(exp["stylesheets"]) | set(exp["pages"])
    changed_sources = {source.get(k, k) for k in changed}
    urls = sorted({u for k in exp["pages"] for u in viewer_urls(k)})
    return {
        "changed_keys": changed,
        "changed_count": len(changed),
        "expected_stylesheets": exp["stylesheets"],
        "expected_pages": len(exp["pages"]),
        "expected_urls": urls,
        "changed_matches_model": changed_sources == want_sources,
        "changed_not_in_model": sorted(changed_sources - want_sources),
        "model_not_changed": sorted(want_sources - changed_sources),
        "keys_in_processed_tree": len(new),
    }


# ---------------------------------------------------------------------------------------------- evaluation

def check_onecss(step: dict[str, Any]) -> dict[str, Any]:
    """Did hashdeploy upload exactly the changed objects and invalidate exactly the URLs of the pages using it?"""
    hd, truth = step["hashdeploy"], step["truth"]
    rep = hd.get("report")
    if rep is None:
        return {"ok": False, "why": "hashdeploy failed"}
    uploaded = set(rep["uploaded_keys"])
    put_keys = hd["requests"].get("put_keys") or []
    changed = set(truth["changed_keys"])
    paths = rep["invalidation_paths"]
    problems = []
    if uploaded != changed:
        problems.append(f"uploaded {len(uploaded)} vs {len(changed)} changed: extra {sorted(uploaded - changed)[:5]}, "
                        f"missing {sorted(changed - uploaded)[:5]}")
    if sorted(put_keys) != sorted(uploaded):
        problems.append(f"moto logged {len(put_keys)} object PUTs ({len(set(put_keys))} keys) for {len(uploaded)} "
                        "planned uploads")
    if not truth["changed_matches_model"]:
        problems.append(f"changed files differ from the model: not in model {truth['changed_not_in_model'][:5]}, "
                        f"model but unchanged {truth['model_not_changed'][:5]}")
    if rep["changed_urls"] != len(truth["expected_urls"]):
        problems.append(f"{rep['changed_urls']} changed URLs, the pages using it have {len(truth['expected_urls'])}")
    uncovered = [u for u in truth["expected_urls"] if not _covered(u, paths)]
    if uncovered:
        problems.append(f"{len(uncovered)} URLs of changed pages not invalidated, e.g. {uncovered[:3]}")
    return {"ok": not problems, "why": "; ".join(problems)}


def targets(seq: dict[str, Any]) -> list[dict[str, Any]]:
    s = seq["steps"]
    out = []
    f_hd, f_aws = s["first"]["hashdeploy"], s["first"]["aws"]
    ok = f_hd["returncode"] == 0 and f_aws["returncode"] == 0
    stage = (f_hd.get("report") or {}).get("deploy_stage_s")
    out.append({"target": f"first deploy <= {TARGET_FIRST_RATIO}x aws s3 sync (hashdeploy wall incl. processing / sync wall)",
                "ok": ok and f_hd["wall_s"] <= TARGET_FIRST_RATIO * f_aws["wall_s"],
                "value": (f"{f_hd['wall_s']:.2f} s vs {f_aws['wall_s']:.2f} s (x{f_hd['wall_s'] / f_aws['wall_s']:.2f}; "
                          f"the upload stage alone x{stage / f_aws['wall_s']:.2f})" if stage else
                          f"{f_hd['wall_s']:.2f} s vs {f_aws['wall_s']:.2f} s (x{f_hd['wall_s'] / f_aws['wall_s']:.2f})")
                if ok else "a run failed"})
    n_hd, n_aws = s["nochange"]["hashdeploy"], s["nochange"]["aws"]
    rep = n_hd.get("report") or {}
    puts = sum(n_hd["requests"]["by_kind"].get(x, 0) for x in PUT_KINDS) + n_hd["requests"]["by_kind"].get("delete", 0)
    paths = len(rep.get("invalidation_paths", [0]))
    posts = n_hd["requests"]["by_kind"].get("cf_invalidation", 0)
    speed = n_aws["wall_s"] / n_hd["wall_s"] if n_hd["returncode"] == 0 and n_aws["returncode"] == 0 else None
    out.append({"target": f"no-change redeploy >= {TARGET_NOCHANGE_SPEEDUP:.0f}x faster than aws s3 sync",
                "ok": speed is not None and speed >= TARGET_NOCHANGE_SPEEDUP,
                "value": None if speed is None else
                f"x{speed:.1f} ({n_hd['wall_s']:.2f} s vs {n_aws['wall_s']:.2f} s)"})
    out.append({"target": "no-change redeploy: 0 PUTs, 0 invalidation paths",
                "ok": n_hd["returncode"] == 0 and puts == 0 and paths == 0 and posts == 0,
                "value": f"{puts} PUT/DELETE requests logged by moto, {paths} paths, {posts} CreateInvalidation"})
    chk = check_onecss(s["onecss"])
    o = s["onecss"]["hashdeploy"].get("report") or {}
    out.append({"target": "one-stylesheet change uploads only files that really changed (and invalidates their pages)",
                "ok": chk["ok"],
                "value": (f"{o.get('uploaded')} uploaded = {s['onecss']['truth']['changed_count']} changed; "
                          f"{o.get('changed_urls')} URLs -> {len(o.get('invalidation_paths', []))} path(s)")
                + ("" if chk["ok"] else f"; {chk['why']}")})
    return out


def simulate(seq: dict[str, Any], latency: float, mbps: float, hd_workers: int, aws_conc: int,
             deploys_per_month: int) -> dict[str, Any]:
    """Latency-bound time and the money of each deploy against real S3 + CloudFront, from the logged requests.

    hashdeploy: every request that is not an object PUT is sequential (HeadBucket, GetDistributionConfig, the
    record GET, the record PUTs, CreateInvalidation); object PUTs go in three phases, `workers` at a time.
    aws s3 sync: LIST pages are sequential (1 per 1,000 keys), PUTs go `max_concurrent_requests` at a time.
    """
    out: dict[str, Any] = {"latency_s": latency, "mbps": mbps or None, "hashdeploy_workers": hd_workers,
                           "aws_concurrency": aws_conc, "deploys_per_month": deploys_per_month, "steps": {}}
    for name, step in seq["steps"].items():
        row: dict[str, Any] = {}
        hd, aws = step["hashdeploy"], step["aws"]
        rep = hd.get("report")
        if rep is not None:
            k = hd["requests"]["by_kind"]
            parallel = k.get("put_object", 0) + k.get("put_stable_body", 0)
            seq_reqs = hd["requests"]["total"] - parallel
            phases = dict(rep["phases"], assets=rep["phases"]["assets"] + k.get("put_stable_body", 0))
            rounds = sum(math.ceil(n / hd_workers) for n in phases.values())
            t = (seq_reqs + rounds) * latency + (rep["bytes_uploaded"] * 8 / (mbps * 1e6) if mbps else 0.0)
            billed = rep["invalidation_billed"]
            row["hashdeploy"] = {
                "requests": hd["requests"]["total"], "sequential_requests": seq_reqs, "put_rounds": rounds,
                "network_s": t, "s3_cost_usd": hd["requests"]["s3_cost_usd"], "invalidation_paths_billed": billed,
                "invalidation_usd_month": max(0, billed * deploys_per_month - FREE_INVALIDATION_PATHS)
                * PRICE_INVALIDATION_PATH,
                "changed_urls": rep["changed_urls"],
                "if_not_collapsed_usd_month": max(0, rep["changed_urls"] * deploys_per_month - FREE_INVALIDATION_PATHS)
                * PRICE_INVALIDATION_PATH,
            }
        k = aws["requests"]["by_kind"]
        lists, puts = k.get("list", 0), k.get("put_object", 0)
        other = aws["requests"]["total"] - lists - puts
        t = (lists + other + math.ceil(puts / aws_conc)) * latency
        if mbps and name in ("first",) and rep is not None:
            t += rep["bytes_uploaded"] * 8 / (mbps * 1e6)  # same bytes as hashdeploy's first deploy
        row["aws"] = {
            "requests": aws["requests"]["total"], "sequential_requests": lists + other,
            "put_rounds": math.ceil(puts / aws_conc), "network_s": t, "s3_cost_usd": aws["requests"]["s3_cost_usd"],
            "invalidation_paths_billed": 1,  # `aws cloudfront create-invalidation --paths '/*'` after every deploy
            "invalidation_usd_month": max(0, deploys_per_month - FREE_INVALIDATION_PATHS) * PRICE_INVALIDATION_PATH,
        }
        out["steps"][name] = row
    return out


# ---------------------------------------------------------------------------------------------- report

def _best(tries: list[dict[str, Any]]) -> dict[str, Any]:
    """The sequence whose step walls are smallest: each run keeps its fastest successful try."""
    best: dict[str, Any] = json.loads(json.dumps(tries[0]))
    for t in tries[1:]:
        for sname, step in t["steps"].items():
            for rname, r in step.items():
                if isinstance(r, dict) and "wall_s" in r and r["returncode"] == 0:
                    cur = best["steps"][sname][rname]
                    if cur["returncode"] != 0 or r["wall_s"] < cur["wall_s"]:
                        best["steps"][sname][rname] = r
    for sname, step in best["steps"].items():
        for rname, r in step.items():
            if isinstance(r, dict) and "wall_s" in r:
                r["tries_wall_s"] = [t["steps"][sname][rname]["wall_s"] for t in tries if rname in t["steps"][sname]]
    return best


def report(result: dict[str, Any]) -> str:
    seq = result["sequence"]
    lines = [f"{'step':<9} {'tool':<27}{'wall s':>7}{'cpu s':>6}{'srv cpu':>8}{'obj/s':>6}{'PUTs':>6}{'moto PUT':>9}"
             f"{'LIST':>5}{'other':>6}{'inval paths':>12}{'URLs':>6}  note"]
    labels = {"prep": "(hashdeploy --out for sync)", "hashdeploy": "hashdeploy", "aws": "aws s3 sync",
              "hashdeploy_kept_out": "hashdeploy --out kept *"}
    for sname, step in seq["steps"].items():
        for rname in ("hashdeploy", "hashdeploy_kept_out", "aws", "prep"):
            r = step.get(rname)
            if r is None:
                continue
            k = r["requests"]["by_kind"]
            moto_puts = sum(k.get(x, 0) for x in PUT_KINDS)
            other = r["requests"]["total"] - moto_puts - k.get("list", 0)
            rep = r.get("report") or {}
            puts = rep.get("uploaded", "-") if rname != "prep" else "-"
            if rname.startswith("hashdeploy") and rep:
                inval, urls = str(len(rep["invalidation_paths"])), str(rep["changed_urls"])
                if rep["invalidation_paths"] and len(rep["invalidation_paths"]) <= 3:
                    inval = ",".join(rep["invalidation_paths"])
            elif rname == "aws":
                inval, urls = "n/a", "-"
            else:
                inval, urls = "", ""
            objs = rep.get("uploaded") if rname != "prep" else None
            ops = f"{objs / r['wall_s']:.0f}" if objs else "-"
            note = "FAILED" if r["returncode"] else ""
            if rname.startswith("hashdeploy") and rep:
                note = (f"deploy stage {rep['deploy_stage_s']:.2f} s, skipped {rep['skipped']}"
                        + (f", flushes {rep['flushed_unchanged']} unchanged" if rep["flushed_unchanged"] else ""))
                extra = [f"{k[x]} {label}" for x, label in (("put_stable_body", "stable-body PUTs"),
                                                              ("put_record", "record PUTs"), ("delete", "DELETEs"))
                         if k.get(x)]
                if extra:
                    note += "; moto PUT has " + ", ".join(extra)
            if rname == "prep":
                note = "not part of either row; output synced by aws"
            srv = "-" if r["server_cpu_s"] is None else f"{r['server_cpu_s']:.2f}"
            lines.append(f"{sname:<9} {labels[rname]:<27}{r['wall_s']:>7.2f}{r['cpu_s']:>6.2f}{srv:>8}{ops:>6}"
                         f"{puts!s:>6}{moto_puts:>9}{k.get('list', 0):>5}{other:>6}{inval:>12}{urls:>6}  {note}")
    lines.append("")
    lines.append("PUTs: the tool's own count (hashdeploy --json `uploaded`, aws `upload:` lines); moto PUT: PUT requests "
                 "in moto's request log (hashdeploy's include its deploy records).")
    lines.append("cpu s: the tool's CPU time (user + system, with its workers); srv cpu: the moto server's CPU time meanwhile "
                 "(close to wall s means the server was the bottleneck).")
    lines.append("* informational: the same no-change deploy with `--out DIR` kept from the previous deploy, "
                 "so the build is skipped (not a target).")
    first = seq["steps"]["first"]
    lines.append(f"objects in the buckets after the first deploy: hashdeploy {first['objects_in_bucket']['hashdeploy']} "
                 f"(incl. .hashdeploy/ records), aws s3 sync {first['objects_in_bucket']['aws']}")
    for key, h in seq["steps"]["onecss"].get("served_headers", {}).items():
        lines.append(f"served by hashdeploy after step 3: {key}: {h['content_type']}; {h['cache_control']}")
    t = seq["steps"]["onecss"]["truth"]
    lines.append(f"one-stylesheet change ({result['stylesheet']}): {t['changed_count']} objects really changed "
                 f"(stylesheets {', '.join(t['expected_stylesheets'])} + {t['expected_pages']} pages using them, "
                 f"{len(t['expected_urls'])} page URLs); model match: {t['changed_matches_model']}")
    sim = result["simulation"]
    lines.append("")
    lines.append(f"Against real S3 (model: {sim['latency_s'] * 1000:.0f} ms per request, hashdeploy "
                 f"{sim['hashdeploy_workers']} concurrent, aws {sim['aws_concurrency']} concurrent"
                 + (f", {sim['mbps']:.0f} Mbit/s" if sim["mbps"] else ", payload time ignored")
                 + f"; invalidation cost per month if every one of {sim['deploys_per_month']} deploys looks like this)")
    lines.append(f"{'step':<9} {'tool':<13}{'requests':>9}{'seq':>5}{'PUT rounds':>11}{'network s':>10}"
                 f"{'S3 $/deploy':>12}{'paths':>6}{'inval $/month':>14}")
    for sname, row in sim["steps"].items():
        for tool, label in (("hashdeploy", "hashdeploy"), ("aws", "aws + '/*'")):
            x = row.get(tool)
            if x is None:
                continue
            lines.append(f"{sname:<9} {label:<13}{x['requests']:>9}{x['sequential_requests']:>5}{x['put_rounds']:>11}"
                         f"{x['network_s']:>10.2f}{x['s3_cost_usd']:>12.4f}{x['invalidation_paths_billed']:>6}"
                         f"{x['invalidation_usd_month']:>14.2f}")
    oc = sim["steps"]["onecss"].get("hashdeploy")
    if oc:
        lines.append(f"(without hashdeploy's wildcard collapsing, the one-stylesheet deploy's {oc['changed_urls']} URLs "
                     f"would cost ${oc['if_not_collapsed_usd_month']:.2f}/month at that rate)")
    lines.append("")
    for t in result["targets"]:
        lines.append(f"[{'PASS' if t['ok'] else 'FAIL'}] {t['target']}" + (f": {t['value']}" if t["value"] else ""))
    return "\n".join(lines)


def _strip(obj: Any) -> Any:
    """results.json without the long key lists (they stay in the logs)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items()
                if k not in ("uploaded_keys", "put_keys", "changed_keys", "expected_urls")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=2000, help="site size in HTML pages (default 2000)")
    p.add_argument("--work", type=Path, default=BENCH / "out",
                   help="where the site, processed trees, logs and deploy_results.json go (default bench/out)")
    p.add_argument("--workers", type=int, help=f"hashdeploy --workers (default: hashdeploy's, {HASHDEPLOY_DEFAULT_WORKERS})")
    p.add_argument("--aws-concurrency", type=int, default=AWS_CLI_DEFAULT_CONCURRENCY,
                   help="aws s3 max_concurrent_requests (default 10, the CLI's default)")
    p.add_argument("--aws", metavar="PATH", help="the aws command (default: .venv/bin/aws, else aws on PATH)")
    p.add_argument("--stylesheet", default="css/base.css",
                   help="the stylesheet step 3 edits, relative to the site (default css/base.css)")
    p.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="run the whole sequence K times (fresh server, buckets and caches) and keep each row's fastest")
    p.add_argument("--simulate-latency", type=float, default=0.04, metavar="S",
                   help="seconds per request for the real-S3 model (default 0.04)")
    p.add_argument("--simulate-mbps", type=float, default=0.0, metavar="MBIT",
                   help="upload bandwidth for the model in Mbit/s (default: payload time ignored)")
    p.add_argument("--deploys-per-month", type=int, default=100,
                   help="deploys per month for the invalidation cost (default 100)")
    args = p.parse_args(argv)
    if args.pages < 10:
        p.error("--pages must be at least 10")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        log(f"note: load average is {load:.1f} on {os.cpu_count()} CPUs; timings will be noisy")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    pristine = build_bench.ensure_site(work, args.pages)
    base = work / f"deploy-{args.pages}"
    base.mkdir(exist_ok=True)
    aws_version = subprocess.run([*aws_cli(args.aws), "--version"], capture_output=True, text=True)
    import moto

    tree = hashlib.sha256()
    for src in sorted((build_bench.ROOT / "hashdeploy").glob("*.py")):
        tree.update(src.name.encode() + b"\0" + src.read_bytes())
    meta = build_bench.meta() | {"repeat": args.repeat, "hashdeploy_sources_sha256": tree.hexdigest()[:16],
                                 "aws_cli": (aws_version.stdout or aws_version.stderr).strip(),
                                 "moto": moto.__version__}
    tries = []
    for i in range(args.repeat):
        log(f"[{args.pages}] sequence {i + 1}/{args.repeat}")
        tries.append(sequence(args, pristine, base, i + 1))
    seq = _best(tries)
    meta["loadavg_at_end"] = os.getloadavg()
    result: dict[str, Any] = {
        "meta": meta, "pages": args.pages, "site": str(pristine), **build_bench.tree_stats(pristine),
        "stylesheet": args.stylesheet, "sequence": seq,
    }
    result["simulation"] = simulate(seq, args.simulate_latency, args.simulate_mbps,
                                    args.workers or HASHDEPLOY_DEFAULT_WORKERS, args.aws_concurrency,
                                    args.deploys_per_month)
    result["targets"] = targets(seq)
    (work / "deploy_results.json").write_text(json.dumps(_strip(result), indent=1) + "\n", encoding="utf-8")
    print(report(result))
    print(f"\nfigures: {work / 'deploy_results.json'}; logs (moto's request log included): {seq['logs']}")
    failed = any(r["returncode"] != 0 for step in seq["steps"].values() for r in step.values()
                 if isinstance(r, dict) and "returncode" in r)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
