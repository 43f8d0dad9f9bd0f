"""--check-url: the check through the CDN after a deploy, against a local HTTP server that serves the target."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from conftest import DEMO, AwsWorld, RunCli, write_tree

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the checker's concurrent connections are not dropped (http.server's default is 5)


class Cdn:
    """A web server in front of a directory, like a CDN with a directory-index function, that can misbehave."""

    def __init__(self, root: Path, read: Callable[[str], bytes | None] | None = None) -> None:
        self.root = root
        self.read = read or self._read_file  # site key -> the origin's bytes, None when it has none
        self.stale: dict[str, bytes] = {}  # file path -> the bytes served instead (a copy the CDN kept)
        self.status: dict[str, int] = {}  # viewer path -> a status answered instead (403, 404…)
        self.redirect: dict[str, str] = {}  # viewer path -> Location of a 301
        self.encode: dict[str, str] = {}  # file path -> Content-Encoding forced whatever the request asks
        self.hang: set[str] = set()  # viewer paths that never answer (until the test ends)
        self.released = threading.Event()
        self.requests: list[str] = []
        self.lock = threading.Condition()
        self.in_flight = self.max_in_flight = 0
        self.hold = 0.0  # seconds a request waits for a third one to arrive, to see how many run at once
        self.server = Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _read_file(self, key: str) -> bytes | None:
        local = self.root / key
        return local.read_bytes() if local.is_file() else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cdn = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                with cdn.lock:
                    cdn.requests.append(path)
                    cdn.in_flight += 1
                    cdn.max_in_flight = max(cdn.max_in_flight, cdn.in_flight)
                    cdn.lock.notify_all()
                    if cdn.hold:
                        cdn.lock.wait_for(lambda: cdn.in_flight >= 3, timeout=cdn.hold)
                try:
                    self._answer(path)
                finally:
                    with cdn.lock:
                        cdn.in_flight -= 1

            def _answer(self, path: str) -> None:
                if path in cdn.hang:
                    cdn.released.wait(30)
                    return
                if path in cdn.redirect:
                    return self._send(301, b"", {"Location": cdn.redirect[path]})
                if path in cdn.status:
                    return self._send(cdn.status[path], b"denied")
                file = path + "index.html" if path.endswith("/") else path  # the directory-index function
                body = cdn.stale.get(file)
                if body is None and ".hashdeploy" not in file:
                    body = cdn.read(file.lstrip("/"))
                if body is None:
                    return self._send(404, b"not found")
                headers = {}
                if file in cdn.encode:
                    headers["Content-Encoding"] = cdn.encode[file]
                    body = gzip.compress(body) if cdn.encode[file] == "gzip" else body
                self._send(200, body, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@contextmanager
def serving(server: Cdn) -> Iterator[Cdn]:
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def cdn(tmp_path: Path) -> Iterator[Cdn]:
    with serving(Cdn(tmp_path / "www")) as server:
        yield server


def small_site(root: Path, version: str = "1") -> Path:
    """Two pages sharing a stylesheet that loads an image, a script, an image and robots.txt."""
    return write_tree(root, {
        "index.html": f'<link rel="stylesheet" href="css/site.css"><script src="js/app.js"></script>'
                      f'<img src="img/logo.png"><a href="docs/">docs</a><a href="https://example.com/x.png">x</a>'
                      f'<img src="data:image/png;base64,AAAA"><p>home {version}</p>',
        "docs/index.html": f'<link rel="stylesheet" href="../css/site.css"><p>docs {version}</p>',
        "css/site.css": f"body{{background:url(../img/bg.png)}} /* {version} */",
        "js/app.js": "console.log(1)\n",
        "img/bg.png": PNG, "img/logo.png": PNG + b"logo",
        "robots.txt": f"User-agent: *\n# {version}\n",
    })


def hashed(www: Path, folder: str, stem: str) -> list[str]:
    """The deployed hashed names of `folder/stem.*` (newest deploys add names, none is deleted)."""
    return sorted(f"/{folder}/{p.name}" for p in (www / folder).glob(f"{stem}.*"))


def deploy(run: RunCli, site: Path, cdn: Cdn, *extra: str) -> tuple[int, str, str]:
    return run(site, "--target", cdn.root.as_uri(), "--check-url", cdn.url, *extra)


def test_a_good_deploy_checks_the_changed_pages_and_what_they_load(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    code, out, err = deploy(run, small_site(tmp_path / "src"), cdn)
    assert code == 0, err
    www = cdn.root
    [css], [js], [bg, logo] = hashed(www, "css", "site"), hashed(www, "js", "app"), hashed(www, "img", "*")
    expected = ["/", "/index.html", "/docs/", "/docs/index.html", "/robots.txt", css, js, bg, logo]
    assert sorted(cdn.requests) == sorted(expected)  # once each; links, external URLs and data: are not fetched
    assert out.splitlines()[-1].startswith(f"check: 9 URL(s) of 3 page(s) and what they load fetched through {cdn.url}: "
                                           "all served as deployed; ")
    assert "check:" not in err


def test_the_demo_site_passes_and_json_says_what_was_checked(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    site = tmp_path / "demo"
    shutil.copytree(DEMO, site)
    code, out, err = deploy(run, site, cdn, "--json")
    assert code == 0, err
    check = json.loads(out)["check"]
    assert check["failures"] == [] and check["not_checked"] == 0 and check["pages_skipped"] == 0
    assert check["urls_checked"] == len(cdn.requests) > check["pages_checked"] >= 5
    assert {"/", "/about/", "/robots.txt"} <= set(cdn.requests)
    assert any(p.startswith("/fonts/inter.") for p in cdn.requests)  # loaded by a stylesheet, not by a page


def test_stale_missing_and_forbidden_are_each_reported_and_exit_1(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    src = small_site(tmp_path / "src")
    assert deploy(run, src, cdn)[0] == 0
    old_docs = (cdn.root / "docs/index.html").read_bytes()
    small_site(src, "2")  # every stable file and the stylesheet change
    cdn.stale["/docs/index.html"] = old_docs  # the CDN kept the previous deploy's page
    cdn.requests.clear()
    code, out, err = run(src, "--target", cdn.root.as_uri(), "--dry-run", "--json")
    new_css = next(a["key"] for a in json.loads(out)["plan"] if a["key"].startswith("css/"))
    cdn.status["/" + new_css] = 404  # the new stylesheet never reached the origin
    cdn.status["/robots.txt"] = 403
    code, out, err = deploy(run, src, cdn)
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("check: http")]
    u = cdn.url
    assert sorted(line.split(": bytes differ")[0] for line in fails if "bytes differ" in line) == [
        f"check: {u}/docs/", f"check: {u}/docs/index.html"]
    assert f"check: {u}/{new_css}: 404" in fails
    assert f"check: {u}/robots.txt: 403" in fails
    assert len(fails) == 4
    served = hashlib.sha256(old_docs).hexdigest()[:12]
    assert all(f"bytes differ from the deployed object (sha256 {served}…, deployed " in line
               for line in fails if "/docs/" in line)
    assert err.strip().splitlines()[-1].startswith(f"CheckFailed: 4 URL(s) not served as deployed through {u} ")
    assert "the deploy itself is committed and live" in err and "Traceback" not in err
    assert (cdn.root / new_css).is_file()  # the deploy is committed


def test_json_lists_each_failure_with_url_status_and_problem(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    src = small_site(tmp_path / "src")
    cdn.status["/robots.txt"] = 403
    cdn.redirect["/docs/"] = "/docs/index.html"
    code, out, err = deploy(run, src, cdn, "--json")
    assert code == 1
    check = json.loads(out)["check"]
    assert sorted(check["failures"], key=lambda f: f["url"]) == [
        {"url": f"{cdn.url}/docs/", "status": 301, "problem": "301 redirect to /docs/index.html (not followed)"},
        {"url": f"{cdn.url}/robots.txt", "status": 403, "problem": "403"},
    ]
    assert check["urls_checked"] == 9 and check["base_urls"] == [cdn.url]
    assert err.startswith("CheckFailed: 2 URL(s)")


def test_gzip_is_decoded_and_an_encoding_that_cannot_be_compared_fails(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    cdn.encode["/index.html"] = "gzip"
    cdn.encode["/robots.txt"] = "br"
    code, out, err = deploy(run, small_site(tmp_path / "src"), cdn)
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("check: http")] == [
        f"check: {cdn.url}/robots.txt: served with Content-Encoding: br although identity was asked for; "
        "cannot compare the bytes"]


def test_max_pages_is_respected_and_says_how_many_were_left(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {f"p{i}.html": f"<p>{i}</p>" for i in range(5)})
    code, out, err = deploy(run, src, cdn, "--check-max-pages", "2")
    assert code == 0, err
    assert sorted(cdn.requests) == ["/p0.html", "/p1.html"]
    assert out.splitlines()[-1].startswith("check: 2 URL(s) of 2 page(s)")
    assert "; 3 more changed page(s) not checked (--check-max-pages); " in out.splitlines()[-1]


def test_a_hanging_server_is_cut_off_by_the_time_limit(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    cdn.hang.add("/docs/")
    started = time.monotonic()
    code, out, err = deploy(run, small_site(tmp_path / "src"), cdn, "--check-timeout", "1")
    assert time.monotonic() - started < 10
    assert code == 1
    assert (f"check: {cdn.url}/docs/: not checked: no answer before the time limit (--check-timeout 1 s)"
            in out.splitlines())
    assert "; 1 URL(s) not checked before --check-timeout; " in out.splitlines()[-1]


def test_dry_run_fetches_nothing(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    code, out, err = deploy(run, small_site(tmp_path / "src"), cdn, "--dry-run")
    assert code == 0, err
    assert cdn.requests == [] and "check:" not in out


def test_an_unreachable_check_url_is_one_line(run: RunCli, tmp_path: Path) -> None:
    www = tmp_path / "www"
    code, out, err = run(small_site(tmp_path / "src"), "--target", www.as_uri(), "--check-url", "http://127.0.0.1:9")
    assert code == 1 and "Traceback" not in err
    assert [line for line in out.splitlines() if line.startswith("check: http")] == [
        "check: http://127.0.0.1:9: unreachable ([Errno 111] Connection refused); nothing was checked through it"]
    assert (www / ".hashdeploy/current.json").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (("--check-url", "http://a.example", "--check-url", "http://b.example"),
     "Config value 'check_url': 2 URLs for a file:// target, which takes one"),
    (("--check-url", "d111.cloudfront.net"),
     "Config value 'check_url': 'd111.cloudfront.net' is not an http(s) URL like https://d111111abcdef8.cloudfront.net"),
])
def test_bad_check_urls_are_config_errors(run: RunCli, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    www = tmp_path / "www"
    code, out, err = run(small_site(tmp_path / "src"), "--target", www.as_uri(), *args)
    assert code == 2
    assert err.startswith("ConfigError: " + message)
    assert not www.exists()  # refused before anything was written


def test_more_check_urls_than_distributions_is_a_config_error(run: RunCli, tmp_path: Path) -> None:
    code, out, err = run(small_site(tmp_path / "src"), "--bucket", "my-site", "--distribution-id", "E1",
                         "--check-url", "https://d1.cloudfront.net", "--check-url", "https://d2.cloudfront.net")
    assert code == 2
    assert err.startswith("ConfigError: Config value 'check_url': 2 URL(s) for 1 distribution(s); give one "
                          "--check-url per --distribution-id, in the same order")


def test_running_an_unchanged_deploy_again_checks_the_live_pages(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    src = small_site(tmp_path / "src")
    assert deploy(run, src, cdn)[0] == 0
    cdn.requests.clear()
    cdn.stale["/robots.txt"] = b"User-agent: *\nDisallow: /\n"
    code, out, err = deploy(run, src, cdn)
    assert code == 1
    assert "0 uploaded" in out and len(cdn.requests) == 9
    assert [line.split(" (sha256")[0] for line in out.splitlines() if line.startswith("check: http")] == [
        f"check: {cdn.url}/robots.txt: bytes differ from the deployed object"]


def test_a_hook_fails_when_the_check_fails(cdn: Cdn, tmp_path: Path) -> None:
    from hashdeploy import Settings
    from hashdeploy.errors import CheckFailed
    from hashdeploy.integrations.hook import run as hook_run

    cdn.status["/docs/"] = 404
    lines: list[str] = []
    settings = Settings(site=small_site(tmp_path / "src"), target=cdn.root.as_uri(), check_url=(cdn.url,))
    with pytest.raises(CheckFailed, match="the deploy itself is committed and live"):
        hook_run(settings, deploy=True, warn=lines.append, info=lines.append)
    assert f"check: {cdn.url}/docs/: 404" in lines


def test_s3_through_a_server_reading_the_bucket(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    def read(key: str) -> bytes | None:
        try:
            return bytes(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
        except aws.s3.exceptions.NoSuchKey:
            return None

    with serving(Cdn(tmp_path / "unused", read)) as cdn:
        src = small_site(tmp_path / "src")
        args = ("--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--check-url", cdn.url, "--json")
        code, out, err = run(src, *args)
        assert code == 0, err
        assert json.loads(out)["check"]["urls_checked"] == 9 == len(cdn.requests)
        small_site(src, "2")
        cdn.status["/"] = 403
        code, out, err = run(src, *args)
        assert code == 1
        doc = json.loads(out)
        assert doc["invalidation"]["id"] and doc["check"]["failures"] == [
            {"url": f"{cdn.url}/", "status": 403, "problem": "403"}]
        # --check-url implies --wait: the invalidation was polled before the check
        assert any(r.method == "GET" and f"/invalidation/{doc['invalidation']['id']}" in r.path
                   for r in aws.recorder.log)


def test_concurrency_is_bounded(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    cdn.hold = 0.2
    code, out, err = deploy(run, small_site(tmp_path / "src"), cdn, "--check-concurrency", "2")
    assert code == 0, err
    assert len(cdn.requests) == 9 and cdn.max_in_flight == 2


def test_a_reference_to_a_file_outside_the_deploy_fails(run: RunCli, cdn: Cdn, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"index.html": '<p>hi</p>\n<img src="img/gone.png">'})
    code, out, err = deploy(run, src, cdn)
    assert code == 1
    assert "img/gone.png (no such file in the site)" in err  # the build's warning
    assert [line for line in out.splitlines() if line.startswith("check: http")] == [
        f"check: {cdn.url}/index.html: loads img/gone.png (line 2), which is not part of the deploy"]


def test_each_check_url_goes_through_its_own_distribution(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    """Two distributions on s3://bucket/www/: one serves the bucket root (/www/docs/), the other has origin path
    /www (/docs/). Each check URL is fetched with its own distribution's paths."""
    from conftest import second_distribution

    other = second_distribution(aws, "/www")

    def origin(prefix: str) -> Callable[[str], bytes | None]:
        def read(key: str) -> bytes | None:
            try:
                return bytes(aws.s3.get_object(Bucket=aws.bucket, Key=prefix + key)["Body"].read())
            except aws.s3.exceptions.NoSuchKey:
                return None
        return read

    with serving(Cdn(tmp_path / "unused", origin(""))) as root, serving(Cdn(tmp_path / "unused", origin("www/"))) as www:
        src = small_site(tmp_path / "src")
        args = ("--bucket", aws.bucket, "--prefix", "www", "--distribution-id", aws.distribution_id,
                "--distribution-id", other, "--check-url", root.url, "--check-url", www.url, "--json")
        code, out, err = run(src, *args)
        assert code == 0, err
        assert "/www/docs/" in root.requests and "/docs/" in www.requests
        assert not any(r.startswith("/www/") for r in www.requests)
        assert json.loads(out)["check"]["urls_checked"] == 18 == len(root.requests) + len(www.requests)
        # the second distribution serves a stale page: only its URL is reported
        small_site(src, "2")
        www.stale["/docs/index.html"] = b"<p>docs 1</p>"
        code, out, err = run(src, *args)
        assert code == 1
        failures = json.loads(out)["check"]["failures"]
        assert {f["url"] for f in failures} == {f"{www.url}/docs/", f"{www.url}/docs/index.html"}
