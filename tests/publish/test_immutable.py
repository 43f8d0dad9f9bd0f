"""A name a live deploy served as immutable never gets other bytes.

Hashed names are hashdeploy's own (`name.<sha256 prefix>.ext`): changed bytes are a new name, so the old name keeps
its bytes. Fingerprinted names are the build tool's, kept as they are; a build that emits the same hashed name for
other bytes (a non-deterministic build, a hash of the source rather than the output) would replace bytes that
browsers and CloudFront cache for a year. That deploy is refused, naming the file and the fix, before any write.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import AwsWorld, RunCli, write_tree
from test_crash import served, snapshot

import hashdeploy
from hashdeploy.errors import DeployInputError
from hashdeploy.model import FileClass, OutputFile
from hashdeploy.publish.plan import plan_deploy
from hashdeploy.publish.records import DeployRecord, RemoteObject

FP = "assets/app-3f2a9c0e.js"  # a Vite-style name: the build tool's hash, kept as it is


def site(app_js: str, page: str = "Home") -> dict[str, str | bytes]:
    return {
        "index.html": f'<!doctype html><html><head><script type="module" src="{FP}"></script>'
                      f'<link rel="stylesheet" href="css/site.css"></head><body><h1>{page}</h1></body></html>\n',
        FP: app_js,
        "css/site.css": "body { color: #222; }\n",
        "robots.txt": "User-agent: *\nAllow: /\n",
    }


def settings(aws: AwsWorld, src: Path, **kw: object) -> hashdeploy.Settings:
    return hashdeploy.Settings(site=src, out=src.parent / (src.name + "-out"), target=f"s3://{aws.bucket}",
                               distribution_id=aws.distribution_id, **kw)  # type: ignore[arg-type]


def test_fingerprinted_name_with_other_bytes_is_refused_before_any_write(aws: AwsWorld, tmp_path: Path,
                                                                          run: RunCli) -> None:
    """The build emitted assets/app-3f2a9c0e.js again with other bytes (found: it was uploaded as "changed"
    under the immutable name, so browsers kept the old script with the new page, forever)."""
    v1 = write_tree(tmp_path / "v1", site("console.log('v1');\n"))
    hashdeploy.deploy(settings(aws, v1))
    before = snapshot(aws, aws.bucket)
    v2 = write_tree(tmp_path / "v2", site("console.log('v2, same name');\n", page="Home v2"))
    aws.recorder.clear()
    for dry_run in (True, False):
        with pytest.raises(DeployInputError) as err:
            hashdeploy.deploy(settings(aws, v2), dry_run=dry_run)
        message = str(err.value)
        assert FP in message and "--hash" in message and "rebuild" in message and "\n" not in message, message
    ours = [r for r in aws.recorder.writes() if r.path.startswith(f"/{aws.bucket}")]
    assert ours == [], f"nothing may be written, not even the lock: {[(r.method, r.path) for r in ours]}"
    assert snapshot(aws, aws.bucket).keys() == before.keys()
    assert served(snapshot(aws, aws.bucket)) == served(before)
    # the command: one line naming the file, exit 1
    code, out, errtext = run(v2, "--out", tmp_path / "v2-cli", "--bucket", aws.bucket, "--distribution-id",
                             aws.distribution_id)
    assert code == 1 and errtext.startswith("DeployInputError: ") and FP in errtext
    assert len(errtext.strip().splitlines()) == 1, errtext
    assert served(snapshot(aws, aws.bucket)) == served(before)
    # the same bytes again under that name are fine (a page change only)
    v3 = write_tree(tmp_path / "v3", site("console.log('v1');\n", page="Home v3"))
    report = hashdeploy.deploy(settings(aws, v3))
    assert report.uploaded == 1 and aws.objects()[FP] == b"console.log('v1');\n"


def test_hash_glob_lets_hashdeploy_rename_the_refused_file(aws: AwsWorld, tmp_path: Path) -> None:
    """The fix the refusal names: --hash GLOB gives the file a hashdeploy name, and the deploy goes through."""
    v1 = write_tree(tmp_path / "v1", site("console.log('v1');\n"))
    hashdeploy.deploy(settings(aws, v1))
    v2 = write_tree(tmp_path / "v2", site("console.log('v2, same name');\n", page="Home v2"))
    hashdeploy.deploy(settings(aws, v2, hashed=("/" + FP,)))
    objects = aws.objects()
    assert objects[FP] == b"console.log('v1');\n", "the immutable name keeps its bytes"
    assert any(k.startswith("assets/app-3f2a9c0e.") and k != FP and v == b"console.log('v2, same name');\n"
               for k, v in objects.items())


def test_hashed_name_of_changed_bytes_is_a_new_name(aws: AwsWorld, tmp_path: Path) -> None:
    """A changed stylesheet gets a new hashed name: the old name is never written again and keeps its bytes."""
    v1 = write_tree(tmp_path / "v1", site("console.log('v1');\n"))
    hashdeploy.deploy(settings(aws, v1))
    old = {k: v for k, v in aws.objects().items() if k.startswith("css/site.")}
    assert len(old) == 1
    v2 = write_tree(tmp_path / "v2", site("console.log('v1');\n") | {"css/site.css": "body { color: #c00; }\n"})
    aws.recorder.clear()
    report = hashdeploy.deploy(settings(aws, v2))
    (old_key, old_bytes), = old.items()
    new = [a for a in report.plan.actions if a.key.startswith("css/site.")]
    assert len(new) == 1 and new[0].key != old_key and new[0].reason == "new"
    assert not any(p.endswith("/" + old_key) for p in aws.puts()), "the old hashed name was written again"
    assert aws.objects()[old_key] == old_bytes
    assert hashlib.sha256(aws.objects()[new[0].key]).hexdigest()[:12] in new[0].key


def _file(key: str, cls: FileClass, data: bytes) -> OutputFile:
    return OutputFile(key, key, cls, hashlib.sha256(data).hexdigest(), len(data), "text/javascript", "")


@pytest.mark.parametrize("cls", [FileClass.HASHED, FileClass.FINGERPRINTED, FileClass.STABLE])
@pytest.mark.parametrize("missing", [False, True], ids=["listed", "missing-under-verify"])
def test_plan_refuses_other_bytes_under_a_name_served_immutable(cls: FileClass, missing: bool) -> None:
    """Whatever class the file has now (a short-hash collision of a hashed name, a fingerprinted name reused,
    a fingerprint that went stale so the file became stable), and even when --verify found the object missing:
    bytes other than those the live record names are never planned under a name it served as immutable."""
    old = b"export const v = 1;\n"
    live = DeployRecord("live-id", "2026-01-01T00:00:00+00:00", {
        "a.js": RemoteObject(hashlib.sha256(old).hexdigest(), len(old), "text/javascript",
                             "public, max-age=31536000, immutable", FileClass.FINGERPRINTED.value)})
    f = _file("a.js", cls, b"export const v = 2;\n")
    with pytest.raises(DeployInputError, match=r"^a\.js: .*deploy live-id.*immutable.*rebuild.*--hash '/a\.js'"):
        plan_deploy((f,), {"a.js": "public, max-age=31536000, immutable"}, live,
                    frozenset({"a.js"}) if missing else frozenset())
    # the same bytes are still a skip, and a name the live deploy served as stable may change
    same = _file("a.js", cls, old)
    assert plan_deploy((same,), {"a.js": "public, max-age=31536000, immutable"}, live).actions[0].action in (
        "skip", "headers")
    stable_live = DeployRecord("live-id", "x", {"a.js": RemoteObject(
        live.objects["a.js"].sha256, len(old), "text/javascript", "public, max-age=0", FileClass.STABLE.value)})
    assert plan_deploy((f,), {"a.js": "public, max-age=0"}, stable_live).actions[0].action == "upload"
