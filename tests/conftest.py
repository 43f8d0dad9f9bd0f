from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import pytest

from hashdeploy.cli.main import main

if TYPE_CHECKING:
    from motoserver import RecordingMotoServer

    from hashdeploy.model import BuildResult

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo-site"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid truecolour PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create files from a {relative path: content} dict."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root as {POSIX relative path: bytes}."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def same_as_full(tmp_path: Path, site: Path, out: Path, result: BuildResult, **settings: Any) -> None:
    """Assert that `result` and the tree in `out` are what a build from nothing (no cache, a new output folder)
    gives for the site as it is now: for the builds that reuse an earlier one (engine/patch.py, incremental.py)."""
    import shutil

    from hashdeploy.engine import build
    from hashdeploy.settings import Settings

    fresh = tmp_path / "fresh"
    if fresh.exists():
        shutil.rmtree(fresh)
    assert result == build(Settings(site=site, out=fresh, use_cache=False, **settings))
    assert read_tree(out) == read_tree(fresh)


def load_manifest(out: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((out / ".hashdeploy" / "manifest.json").read_text(encoding="utf-8")))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own parse cache and runs outside any project config file."""
    monkeypatch.setenv("HASHDEPLOY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for name in list(os.environ):
        if name.startswith("HASHDEPLOY_") and name != "HASHDEPLOY_CACHE_DIR":
            monkeypatch.delenv(name)


class MakeSite(Protocol):
    """What the `site` fixture returns."""

    def __call__(self, files: Mapping[str, str | bytes], name: str = "site") -> Path: ...


@pytest.fixture
def site(tmp_path: Path) -> MakeSite:
    """Factory: site({...}) writes a site tree and returns its path."""
    def make(files: Mapping[str, str | bytes], name: str = "site") -> Path:
        root = tmp_path / name
        root.mkdir()
        return write_tree(root, files)

    return make


class RunCli(Protocol):
    """What the `run` fixture returns."""

    def __call__(self, *args: str | Path) -> tuple[int, str, str]: ...


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    def call(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@pytest.fixture(scope="session")
def moto_server() -> Iterator[RecordingMotoServer]:
    """One moto server on 127.0.0.1 for the whole session; tests use their own buckets."""
    from motoserver import RecordingMotoServer

    server = RecordingMotoServer()
    server.start()
    yield server
    server.stop()


_counter = iter(range(10**6))


class AwsWorld:
    """A bucket and a CloudFront distribution in the moto server, and helpers to look at them."""

    def __init__(self, server: RecordingMotoServer, bucket: str, s3: Any, cf: Any, distribution_id: str) -> None:
        self.server, self.bucket, self.s3, self.cf, self.distribution_id = server, bucket, s3, cf, distribution_id
        self.recorder = server.recorder

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                out[o["Key"]] = self.s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
        return out

    def head(self, key: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.s3.head_object(Bucket=self.bucket, Key=key))

    def invalidations(self) -> list[list[str]]:
        items = self.cf.list_invalidations(DistributionId=self.distribution_id)["InvalidationList"].get("Items", [])
        out = []
        for it in items:
            inv = self.cf.get_invalidation(DistributionId=self.distribution_id, Id=it["Id"])["Invalidation"]
            out.append(sorted(inv["InvalidationBatch"]["Paths"].get("Items", [])))
        return out

    def puts(self) -> list[str]:
        """Paths of object PUTs the server received since the last clear (bucket records excluded)."""
        return [r.path for r in self.recorder.log if r.method == "PUT" and "/.hashdeploy/" not in r.path]


def make_distribution(cf: Any, bucket: str) -> str:
    """A CloudFront distribution in front of the bucket; returns its id."""
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": bucket, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{bucket}.s3.amazonaws.com",
                                              "OriginPath": "", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    })
    return str(dist["Distribution"]["Id"])


def second_distribution(aws: AwsWorld, origin_path: str = "") -> str:
    """Another distribution in front of the same bucket (a staging domain, a second CDN alias)."""
    dist = aws.cf.create_distribution(DistributionConfig={
        "CallerReference": aws.bucket + "-second" + origin_path, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{aws.bucket}.s3.amazonaws.com",
                                              "OriginPath": origin_path,
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    })
    return str(dist["Distribution"]["Id"])


def invalidations(aws: AwsWorld, dist: str) -> list[list[str]]:
    items = aws.cf.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items", [])
    return [sorted(aws.cf.get_invalidation(DistributionId=dist, Id=i["Id"])["Invalidation"]["InvalidationBatch"][
        "Paths"].get("Items", [])) for i in items]


@pytest.fixture
def aws(moto_server: RecordingMotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsWorld]:
    """Credentials and endpoints for boto3's standard chain pointing at the moto server, plus a fresh bucket."""
    import boto3

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-do-not-print")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"hd-test-{next(_counter)}-{os.getpid()}"
    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    cf = boto3.client("cloudfront", endpoint_url=moto_server.url, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    distribution_id = make_distribution(cf, bucket)
    moto_server.recorder.clear()
    moto_server.recorder.fault = None
    yield AwsWorld(moto_server, bucket, s3, cf, distribution_id)
    moto_server.recorder.fault = None
