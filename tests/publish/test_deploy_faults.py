from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import AwsWorld, RunCli, write_tree

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))
SECRET = "testing-secret-do-not-print"
# match(method, path, headers) -> whether a fault hook applies to the request
Match = Callable[[str, str, dict[str, str]], bool]


def site_v1(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", {
        "index.html": '<link rel="stylesheet" href="css/site.css"><script src="js/app.js"></script><a href="a/">a</a>',
        "a/index.html": '<link rel="stylesheet" href="../css/site.css"><img src="../img/a.png">',
        "b/index.html": '<img src="../img/b.png">',
        "css/site.css": "body{background:url(../img/bg.png)}",
        "js/app.js": "console.log(1)",
        "img/bg.png": PNG, "img/a.png": PNG + b"a", "img/b.png": PNG + b"b",
        "robots.txt": "v1", "data/search.json": '{"v": 1}',
    })


def make_v2(site: Path) -> None:
    (site / "img/bg.png").write_bytes(PNG + b"v2")
    (site / "js/app.js").write_text("console.log(2)")
    (site / "robots.txt").write_text("v2")
    (site / "data/search.json").write_text('{"v": 2}')
    (site / "b/index.html").write_text('<img src="../img/b.png"><p>v2</p>')


def deploy(run: RunCli, aws: AwsWorld, site: Path, *extra: str) -> tuple[int, Any, str]:
    code, out, err = run(site, "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--json", *extra)
    assert SECRET not in out + err
    return code, (json.loads(out) if out.strip() else None), err


def served_refs_exist(aws: AwsWorld) -> None:
    """Every page the bucket serves points only at objects the bucket holds."""
    objects = aws.objects()
    for key, body in objects.items():
        if not key.endswith(".html"):
            continue
        base = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        for url in re.findall(r'(?:src|href)="([^"]+)"', body.decode()):
            if url.endswith("/"):
                continue
            parts = (base + url).split("/")
            stack: list[str] = []
            for p in parts:
                if p == "..":
                    stack.pop()
                elif p not in ("", "."):
                    stack.append(p)
            assert "/".join(stack) in objects, f"{key} points at missing {url}"


class FailAfter:
    """Fault hook: let `allowed` matching requests through, then fail every later one."""

    def __init__(self, allowed: int, match: Match, status: int = 500, code: str = "InternalError") -> None:
        self.allowed, self.match, self.status, self.code = allowed, match, status, code
        self.seen = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        if not self.match(method, path, headers):
            return None
        with self.lock:
            self.seen += 1
            if self.seen <= self.allowed:
                return None
        return self.status, self.code, "injected fault"


def object_put(phase_keys: Sequence[Callable[[str], object]]) -> Match:
    def match(method: str, path: str, headers: dict[str, str]) -> bool:
        return method == "PUT" and "/.hashdeploy/" not in path and any(k(path) for k in phase_keys)
    return match


PHASES = {
    "assets": (object_put([lambda p: re.search(r"\.[0-9a-f]{12}\.", p)]), 1),
    "stable": (object_put([lambda p: p.endswith(("robots.txt", "search.json"))]), 1),
    "html": (object_put([lambda p: p.endswith(".html")]), 1),
    "commit": (lambda m, p, h: m == "PUT" and "/.hashdeploy/" in p, 0),
    "invalidation": (lambda m, p, h: m == "POST" and p.endswith("/invalidation"), 0),
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_failure_mid_deploy_then_rerun_converges(run: RunCli, aws: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 phase: str) -> None:
    monkeypatch.setenv("HASHDEPLOY_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("HASHDEPLOY_WORKERS", "1")
    site = site_v1(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    v1 = aws.objects()
    make_v2(site)
    match, allowed = PHASES[phase]
    aws.recorder.fault = FailAfter(allowed, match)
    code, _doc, err = deploy(run, aws, site)
    assert code == 1 and err.count("\n") == 1 and err.startswith("RemoteError: s3://") or err.startswith(
        "RemoteError: CloudFront"), err
    served_refs_exist(aws)
    if phase != "invalidation":
        assert json.loads(aws.objects()[".hashdeploy/current.json"])["objects"] == json.loads(
            v1[".hashdeploy/current.json"])["objects"], "the live record must not move before the commit"
    aws.recorder.fault = None
    code, doc, err = deploy(run, aws, site)
    assert code == 0, err
    served_refs_exist(aws)
    record = json.loads(aws.objects()[".hashdeploy/current.json"])
    assert record["pending_invalidation"] == []
    sent = {p for batch in aws.invalidations() for p in batch}
    assert {"/robots.txt", "/data/search.json", "/", "/index.html", "/a/", "/a/index.html", "/b/",
            "/b/index.html"} <= sent
    # converged: a fresh deploy of v2 elsewhere gives the same served objects
    final = {k: v for k, v in aws.objects().items() if not k.startswith(".hashdeploy/")}
    for key, _entry in record["objects"].items():
        assert key in final
    code, doc, _ = deploy(run, aws, site)
    assert doc["uploaded"] == 0 and doc["invalidation"]["paths"] == []


def test_slowdown_storm_is_one_line_and_consistent(run: RunCli, aws: AwsWorld, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDEPLOY_MAX_ATTEMPTS", "2")
    site = site_v1(tmp_path)
    aws.recorder.fault = FailAfter(3, lambda m, p, h: m == "PUT", 503, "SlowDown")
    code, doc, err = deploy(run, aws, site)
    assert code == 1 and err.count("\n") == 1
    assert "the service kept failing (SlowDown) after retries; rerun later" in err
    assert ".hashdeploy/current.json" not in aws.objects()


def test_access_denied_on_head(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    aws.recorder.fault = lambda m, p, h: (403, "403", "Forbidden") if m == "HEAD" else None
    code, _, err = deploy(run, aws, site_v1(tmp_path))
    assert code == 1
    assert err == (f"RemoteError: s3://{aws.bucket}/: access denied to s3:ListBucket (HeadBucket); "
                   "grant it to the deploying identity (README: IAM policy)\n")


def test_missing_bucket(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    code, _, err = run(site_v1(tmp_path), "--bucket", "no-such-bucket-here")
    assert code == 1 and "s3://no-such-bucket-here/" in err and "does not exist" in err and err.count("\n") == 1


def test_no_credentials(run: RunCli, aws: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = run(site_v1(tmp_path), "--bucket", aws.bucket)
    assert code == 1 and err.startswith("RemoteError: no usable AWS credentials found") and err.count("\n") == 1


def test_network_down(run: RunCli, aws: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDEPLOY_MAX_ATTEMPTS", "1")
    code, _, err = run(site_v1(tmp_path), "--bucket", aws.bucket, "--endpoint-url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the endpoint" in err and err.count("\n") == 1


def test_missing_distribution(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    code, _, err = run(site_v1(tmp_path), "--bucket", aws.bucket, "--distribution-id", "ENOSUCHDIST")
    assert code == 1 and "ENOSUCHDIST" in err and "check --distribution-id" in err and err.count("\n") == 1


def test_too_many_invalidations_defers_to_next_run(run: RunCli, aws: AwsWorld, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDEPLOY_INVALIDATION_PATIENCE", "0")
    site = site_v1(tmp_path)
    assert deploy(run, aws, site)[0] == 0
    (site / "robots.txt").write_text("v2")
    aws.recorder.fault = lambda m, p, h: (400, "TooManyInvalidationsInProgress", "busy") if (
        m == "POST" and p.endswith("/invalidation")) else None
    code, doc, err = deploy(run, aws, site)
    assert code == 0 and len(doc["warnings"]) == 1 and "TooManyInvalidationsInProgress" in doc["warnings"][0]
    assert json.loads(aws.objects()[".hashdeploy/current.json"])["pending_invalidation"] == ["robots.txt"]
    aws.recorder.fault = None
    code, doc, err = deploy(run, aws, site)
    assert code == 0 and doc["uploaded"] == 0 and doc["invalidation"]["paths"] == ["/robots.txt"]
    assert aws.invalidations() == [["/robots.txt"]]
    assert json.loads(aws.objects()[".hashdeploy/current.json"])["pending_invalidation"] == []


def test_key_too_long_is_refused_before_any_write(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    name = "/".join(["d" * 200] * 6) + ".txt"
    root = tmp_path / "long"
    try:
        write_tree(root, {"index.html": "<p>", name: "x"})
    except OSError:
        pytest.skip("the filesystem refuses such a long name")
    code, _, err = run(root, "--bucket", aws.bucket)
    assert code == 1 and "over S3's 1,024" in err
    assert aws.recorder.writes() == []


def test_header_with_newline_is_a_config_error(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    code, _, err = run(site_v1(tmp_path), "--bucket", aws.bucket, "--cache-control", "*.css=max-age=1\r\nX-Evil: 1")
    assert code == 2 and err.startswith("ConfigError: ") and "CR/LF" in err


def test_secrets_never_printed_even_with_debug(run: RunCli, aws: AwsWorld, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    aws.recorder.fault = lambda m, p, h: (403, "AccessDenied", "denied") if m == "PUT" else None
    with pytest.raises(Exception) as exc:
        run(site_v1(tmp_path), "--bucket", aws.bucket, "--debug")
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err + str(exc.value) + repr(exc.value.__cause__)
