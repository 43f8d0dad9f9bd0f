"""File-system hardening: racy-clean hashing, deploy targets as outputs, modes, file/folder swaps, links, caches."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import AwsWorld, RunCli, load_manifest, write_tree

import hashdeploy
from hashdeploy.engine import hashcache
from hashdeploy.engine import parse as parse_mod
from hashdeploy.engine.inventory import sha256_file
from hashdeploy.settings import Settings

RED = b"\x89PNG\r\n\x1a\n" + bytes(40) + b"red!"
EPOCH_NS = 1_700_000_000 * 10**9  # a SOURCE_DATE_EPOCH-style pinned mtime, far in the past


def pinned_site(root: Path) -> Path:
    write_tree(root, {"index.html": '<link rel="stylesheet" href="css/a.css"><img src="img/logo.png">',
                      "css/a.css": "body{color:red}", "img/logo.png": RED})
    for p in (root / "index.html", root / "css" / "a.css", root / "img" / "logo.png"):
        os.utime(p, ns=(EPOCH_NS, EPOCH_NS))
    return root


def rewrite_same_size_and_mtime(path: Path, data: bytes, *, replace: bool) -> None:
    """Change a file's bytes, keep its size and mtime: `cp -p` writes in place, `rsync -t` renames a new file over."""
    st = path.stat()
    assert len(data) == st.st_size
    time.sleep(0.05)  # past the file system's timestamp granularity, so the ctime moves
    if replace:
        tmp = path.with_name(path.name + ".rsync-tmp")
        tmp.write_bytes(data)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, path)
    else:
        with open(path, "r+b") as f:
            f.write(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size


# 1. racy-clean hashing within one process

@pytest.mark.parametrize("replace", [False, True], ids=["cp-p", "rsync-t"])
def test_same_size_same_mtime_change_is_seen_in_one_process(tmp_path: Path, replace: bool) -> None:
    site = pinned_site(tmp_path / "site")
    cfg = Settings(site=site, out=tmp_path / "out")
    first = hashdeploy.build(cfg)
    rewrite_same_size_and_mtime(site / "css" / "a.css", b"body{color:tan}", replace=replace)
    second = hashdeploy.build(cfg)
    assert second.assets["css/a.css"] != first.assets["css/a.css"]
    assert (tmp_path / "out" / second.assets["css/a.css"]).read_bytes() == b"body{color:tan}"
    assert second.assets["css/a.css"] in (tmp_path / "out" / "index.html").read_text()


def test_regenerated_site_dir_processed_in_place_in_one_process(tmp_path: Path) -> None:
    """`mkdocs serve` with the plugin: the generator rewrites site_dir with pinned mtimes, then hashdeploy runs in place."""
    site = pinned_site(tmp_path / "site")
    cfg = Settings(site=site)
    first = hashdeploy.build(cfg)
    time.sleep(0.05)
    shutil.rmtree(site)
    pinned_site(site)
    blue = RED[:-4] + b"blue"
    (site / "img" / "logo.png").write_bytes(blue)
    os.utime(site / "img" / "logo.png", ns=(EPOCH_NS, EPOCH_NS))
    second = hashdeploy.build(cfg)
    name = second.assets["img/logo.png"]
    assert name != first.assets["img/logo.png"]
    assert (site / name).read_bytes() == blue
    assert name in (site / "index.html").read_text()


@pytest.mark.parametrize("replace", [False, True], ids=["cp-p", "rsync-t"])
def test_hash_memo_is_keyed_by_inode_and_ctime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replace: bool) -> None:
    """Even where the memo is trusted (the file looked settled), a new inode or ctime means a new read."""
    monkeypatch.setattr(hashcache, "_RACY_NS", -(10**18))  # every file counts as settled long ago
    site = pinned_site(tmp_path / "site")
    cfg = Settings(site=site, out=tmp_path / "out")
    first = hashdeploy.build(cfg)
    rewrite_same_size_and_mtime(site / "css" / "a.css", b"body{color:tan}", replace=replace)
    second = hashdeploy.build(cfg)
    assert second.assets["css/a.css"] != first.assets["css/a.css"]
    assert load_manifest(tmp_path / "out")["files"][second.assets["css/a.css"]]["size"] == 15


def test_untouched_files_are_still_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashcache, "_RACY_NS", -(10**18))
    site = pinned_site(tmp_path / "site")
    cfg = Settings(site=site, out=tmp_path / "out")
    hashdeploy.build(cfg)
    reads: list[Path] = []
    real = sha256_file

    def recording(p: Path) -> str:
        reads.append(p)
        return real(p)

    monkeypatch.setattr(hashcache, "sha256_file", recording)
    hashdeploy.build(cfg)
    assert reads == []


def test_output_edited_with_same_size_and_mtime_is_not_taken_for_fresh(tmp_path: Path) -> None:
    site = pinned_site(tmp_path / "site")
    cfg = Settings(site=site, out=tmp_path / "out")
    hashdeploy.build(cfg)
    page = tmp_path / "out" / "index.html"
    good = page.read_bytes()
    rewrite_same_size_and_mtime(page, good.replace(b"<img", b"<IMG"), replace=False)
    hashdeploy.build(cfg)
    assert page.read_bytes() == good


# 2. a deploy target is never an output

def small(root: Path) -> Path:
    return write_tree(root, {"index.html": '<link rel="stylesheet" href="a.css"><p>hi</p>', "a.css": "p{color:red}"})


def snapshot_tree(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = None
        for name in files:
            p = Path(dirpath, name)
            out[os.path.relpath(p, root)] = p.read_bytes()
    return out


def test_out_refuses_a_live_file_target(run: RunCli, tmp_path: Path) -> None:
    site, www = small(tmp_path / "site"), tmp_path / "www"
    code, _, err = run(site, "--target", www.as_uri(), "--quiet")
    assert code == 0, err
    before = snapshot_tree(www)
    code, out, err = run(site, "--out", www)
    assert code == 1 and out == ""
    assert err.startswith("OutputError: ") and err.count("\n") == 1 and "deploy" in err, err
    assert snapshot_tree(www) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".www.")], "no staging directory left"


@pytest.mark.parametrize("record", ["current.json", "deploys/20260101T000000Z-aa-bb.json", "history.json", "lock.json"])
def test_out_refuses_any_directory_with_deploy_records(run: RunCli, tmp_path: Path, record: str) -> None:
    """A target whose current.json is gone (a failed first deploy, a lock left behind) is still a target."""
    site, www = small(tmp_path / "site"), tmp_path / "www"
    write_tree(www, {"index.html": "<p>live</p>", ".hashdeploy/" + record: "{}"})
    before = snapshot_tree(www)
    code, _, err = run(site, "--out", www)
    assert code == 1 and err.startswith("OutputError: ") and record.split("/")[0] in err, err
    assert snapshot_tree(www) == before


def test_in_place_refuses_a_deploy_target(run: RunCli, tmp_path: Path) -> None:
    site, www = small(tmp_path / "site"), tmp_path / "www"
    assert run(site, "--target", www.as_uri(), "--quiet")[0] == 0
    before = snapshot_tree(www)
    code, _, err = run(www)
    assert code == 1 and err.startswith("OutputError: ") and "deploy" in err, err
    assert snapshot_tree(www) == before


def test_an_earlier_output_is_still_replaced(run: RunCli, tmp_path: Path) -> None:
    site, out = small(tmp_path / "site"), tmp_path / "out"
    assert run(site, "--out", out)[0] == 0
    (site / "a.css").write_text("p{color:tan}")
    assert run(site, "--out", out)[0] == 0
    assert b"tan" in b"".join(v for v in snapshot_tree(out).values() if v)


@pytest.mark.parametrize("where", ["site/www", "site", "."], ids=["inside", "equal", "contains"])
def test_file_target_overlapping_the_site_is_refused(run: RunCli, tmp_path: Path, where: str) -> None:
    site = small(tmp_path / "site")
    target = (tmp_path / where).resolve()
    before = snapshot_tree(tmp_path)
    code, _, err = run(site, "--target", target.as_uri())
    assert code == 1 and err.startswith("OutputError: ") and err.count("\n") == 1 and "site" in err, err
    assert snapshot_tree(tmp_path) == before


@pytest.mark.parametrize("out", ["www", "www/../www", "www/out", "parent"], ids=["equal", "same", "inside", "contains"])
def test_file_target_overlapping_out_is_refused(run: RunCli, tmp_path: Path, out: str) -> None:
    site = small(tmp_path / "site")
    www = tmp_path / "parent" / "www" if out == "parent" else tmp_path / "www"
    code, _, err = run(site, "--out", tmp_path / out, "--target", www.as_uri())
    assert code == 1 and err.startswith("OutputError: ") and err.count("\n") == 1, err
    assert not www.exists() and not (tmp_path / out).exists()


def test_mkdocs_style_in_place_build_refuses_a_target_inside_site_dir(tmp_path: Path) -> None:
    site = small(tmp_path / "site")
    with pytest.raises(hashdeploy.HashdeployError, match="inside the site"):
        hashdeploy.build(Settings(site=site, target=(site / "deploy").as_uri()))
    assert sorted(os.listdir(site)) == ["a.css", "index.html"]


# 3. ordinary permissions under the user's umask

@pytest.fixture(params=[0o022, 0o027, 0o002], ids=["umask022", "umask027", "umask002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def modes(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{path: octal mode} of root and everything under it (symlinks excluded)."""
    out = {".": oct(root.stat().st_mode & 0o7777)}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath, name)
            rel = p.relative_to(root).as_posix()
            if not p.is_symlink() and not rel.startswith(skip):
                out[rel + ("/" if p.is_dir() else "")] = oct(p.stat().st_mode & 0o7777)
    return out


def expected(tree: dict[str, str], umask: int) -> dict[str, str]:
    return {k: oct((0o777 if k == "." or k.endswith("/") else 0o666) & ~umask) for k in tree}


def test_out_has_ordinary_modes(run: RunCli, tmp_path: Path, umask: int) -> None:
    site, out = small(tmp_path / "site"), tmp_path / "out"
    write_tree(site, {"img/deep/x.png": RED})
    assert run(site, "--out", out)[0] == 0
    got = modes(out)
    assert "img/deep/" in got and got == expected(got, umask)
    (site / "a.css").write_text("p{color:tan}")
    assert run(site, "--out", out)[0] == 0  # replacing an earlier output
    got = modes(out)
    assert got == expected(got, umask)


def test_in_place_keeps_ordinary_modes(run: RunCli, tmp_path: Path, umask: int) -> None:
    site = small(tmp_path / "site")
    write_tree(site, {"img/deep/x.png": RED, "index.html": '<img src="img/deep/x.png"><link rel=stylesheet href=a.css>'})
    assert run(site)[0] == 0
    got = modes(site)
    assert "img/deep/" in got and got == expected(got, umask)


def test_file_target_has_ordinary_modes(run: RunCli, tmp_path: Path, umask: int) -> None:
    site, www = small(tmp_path / "site"), tmp_path / "srv" / "www"
    write_tree(site, {"img/deep/x.png": RED, "index.html": '<img src="img/deep/x.png"><link rel=stylesheet href=a.css>'})
    assert run(site, "--target", www.as_uri(), "--quiet")[0] == 0
    (site / "a.css").write_text("p{color:tan}")
    (site / "index.html").write_text('<img src="img/deep/x.png"><link rel=stylesheet href=a.css><p>v2')
    assert run(site, "--target", www.as_uri(), "--quiet")[0] == 0
    got = modes(tmp_path / "srv")
    assert "www/img/deep/" in got and "www/.hashdeploy/current.json" in got and "www/.hashdeploy/stable/" in got
    assert got == expected(got, umask)


# 5. relative file:// URLs

@pytest.mark.parametrize("url,rel", [("file://build/www", "build/www"), ("file://www", "www"), ("file://www/", "www"),
                                     ("file://my%20site/www", "my site/www")])
def test_relative_file_urls_are_refused_with_the_absolute_form(run: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              url: str, rel: str) -> None:
    site = small(tmp_path / "site")
    monkeypatch.chdir(tmp_path)
    before = snapshot_tree(tmp_path)
    code, out, err = run(site, "--target", url)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("ConfigError: ") and "'target'" in err
    assert (tmp_path / rel).as_uri() in err, err
    assert snapshot_tree(tmp_path) == before, "nothing written, in the current directory or anywhere"
    for command in ("history", "prune"):
        code, _, err = run(command, "--target", url)
        assert code == 2 and (tmp_path / rel).as_uri() in err


def test_relative_file_url_from_the_environment_is_refused(run: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = small(tmp_path / "site")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HASHDEPLOY_TARGET", "file://build/www")
    code, _, err = run(site)
    assert code == 2 and (tmp_path / "build" / "www").as_uri() in err


@pytest.mark.parametrize("form", ["file://{}", "file://localhost{}"])
def test_absolute_file_urls_deploy_where_they_say(run: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  form: str) -> None:
    site = small(tmp_path / "site")
    monkeypatch.chdir(tmp_path / "site")
    www = tmp_path / "srv" / "www"
    code, _, err = run(site, "--target", form.format(www), "--quiet")
    assert code == 0, err
    assert (www / "index.html").is_file() and (www / ".hashdeploy" / "current.json").is_file()
    assert sorted(os.listdir(site)) == ["a.css", "index.html"]


def test_file_url_without_a_path_is_refused(run: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # it used to deploy into the current directory
    code, _, err = run(small(tmp_path / "site"), "--target", "file://localhost")
    assert code == 2 and err.startswith("ConfigError: ")


# 6. symlink loops inside the site

@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging) when the walk does not end."""
    import signal

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("the site walk did not end")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def linked_site(root: Path) -> Path:
    write_tree(root, {"index.html": '<img src="a/x.png"><img src="b/y.png"><link rel=stylesheet href="c/z.css">',
                      "a/x.png": RED, "b/y.png": RED[:-4] + b"yyyy", "c/z.css": "p{color:red}", "zz/deep/w.txt": "w"})
    os.symlink("..", root / "a" / "loop")  # a/loop -> the site root
    os.symlink("../c", root / "b" / "toc")  # b/toc -> c and c/tob -> b: each points at the other
    os.symlink("../b", root / "c" / "tob")
    os.symlink("zz", root / "0alias")  # sorts before the directory it points at
    os.symlink("../../a", root / "zz" / "deep" / "up")  # a directory already walked, from deep inside
    os.symlink(".", root / "self")
    return root


REAL = ["a/x.png", "b/y.png", "c/z.css", "index.html", "zz/deep/w.txt"]


def test_symlink_loops_list_each_real_file_once(deadline: None, tmp_path: Path) -> None:
    from hashdeploy.engine.inventory import scan

    assert [a.key for a in scan(linked_site(tmp_path / "site"))] == REAL


def test_symlink_loops_build_and_deploy(deadline: None, run: RunCli, tmp_path: Path) -> None:
    site = linked_site(tmp_path / "site")
    code, _, err = run(site, "--out", tmp_path / "out", "--strict")
    assert code == 0, err
    assert sorted(load_manifest(tmp_path / "out")["files"][k]["source"] for k in load_manifest(tmp_path / "out")["files"]) == REAL
    code, _, err = run(site, "--target", (tmp_path / "www").as_uri(), "--quiet")
    assert code == 0, err
    served = [k for k in snapshot_tree(tmp_path / "www") if not k.startswith(".hashdeploy") and not k.endswith("/")]
    assert len(served) == len(REAL)


def test_a_link_to_hashdeploys_own_folder_publishes_nothing(deadline: None, tmp_path: Path) -> None:
    from hashdeploy.engine.inventory import scan

    site = write_tree(tmp_path / "site", {"index.html": "<p>", ".hashdeploy/manifest.json": "{}"})
    os.symlink(".hashdeploy", site / "meta")
    assert [a.key for a in scan(site)] == ["index.html"]


def test_a_link_leaving_the_site_is_still_refused_among_loops(deadline: None, run: RunCli, tmp_path: Path) -> None:
    site = linked_site(tmp_path / "site")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "key.pem").write_text("secret")
    os.symlink("../../../private", site / "zz" / "deep" / "out")
    code, _, err = run(site, "--out", tmp_path / "out")
    assert code == 1 and err.startswith("UnsafePathError: zz/deep/out is a symlink to ../../../private"), err
    assert not (tmp_path / "out").exists()


# 7. caches restored from a shared CI cache are checked, never trusted

CACHED_SITE: dict[str, str | bytes] = {
    "index.html": '<link rel="stylesheet" href="css/a.css"><img src="img/logo.png"><script src="app.js"></script>',
    "css/a.css": "body{background:url(../img/logo.png)}\n.x{background:url('../img/logo.png')}",
    "app.js": "import('./b.js');\n//# sourceMappingURL=app.js.map\n",
    "app.js.map": "{}", "b.js": "export const b = 1;\n",
    "img/logo.png": RED,
}


def cache_dir() -> Path:
    return Path(os.environ["HASHDEPLOY_CACHE_DIR"])


def sqlite_files() -> list[Path]:
    return sorted(cache_dir().glob("parse-*.sqlite"))


def forget_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new CI job starts with: no in-process memo, only what the restored cache holds."""
    monkeypatch.setattr(parse_mod, "_PARSED", {})
    monkeypatch.setattr(hashcache, "_HASHED", {})


def reference(tmp_path: Path) -> dict[str, bytes]:
    from conftest import read_tree

    site = write_tree(tmp_path / "ref-site", CACHED_SITE)
    hashdeploy.build(Settings(site=site, out=tmp_path / "ref", use_cache=False))
    return read_tree(tmp_path / "ref")


def hostile_blobs() -> dict[str, bytes]:
    import json
    import marshal

    def entry(**over: object) -> bytes:
        doc: dict[str, object] = {"format": 1, "encoding": "utf-8:0", "refs": [], "mentions": [], "base_href": None,
                                  "warnings": []}
        doc.update(over)
        return json.dumps(doc).encode()

    return {
        "random": os.urandom(300),
        "empty": b"",
        "code-object": marshal.dumps(compile("raise SystemExit(3)", "cache", "exec")),
        "marshal-wrong-types": marshal.dumps((5, ((0, 3, 7, "subresource", "css url()", 1, None),), (), None, ())),
        "marshal-int-encoding": marshal.dumps((7, (), (), None, ())),
        "marshal-lookup-codec": marshal.dumps(("no-such-codec:0", ((0, 4, "body", "subresource", "link[href]", 1, None),),
                                               (), None, ())),
        "marshal-spans-lie": marshal.dumps(("utf-8:0", ((0, 5, "body{", "subresource", "link[href]", 1, None),),
                                            (), None, ())),
        "json-deep": b"[" * 200_000 + b"]" * 200_000,
        "json-truncated": entry()[:20],
        "json-list": b"[1, 2, 3]",
        "json-wrong-types": entry(encoding=5, refs={"a": 1}, mentions="x"),
        "json-bool-span": entry(refs=[[True, False, "", "subresource", "css url()", 1, None]]),
        "json-bad-kind": entry(refs=[[0, 1, "b", ["x"], "css url()", 1, None]]),
        "json-rot13": entry(encoding="rot13:0"),
        "json-bad-bom": entry(encoding="utf-8:x"),
        "json-utf16": entry(encoding="utf-16:0", refs=[[0, 4, "body", "subresource", "link[href]", 1, [0, 0, ""]]]),
        "json-spans-lie": entry(refs=[[0, 5, "zzzzz", "subresource", "link[href]", 1, None]]),
        "json-past-the-end": entry(refs=[[10**6, 10**6 + 1, "z", "subresource", "link[href]", 1, [10**7, 10**7, ""]]]),
        "json-other-format": entry(format=2),
        "json-extra-field": entry(code="print(1)"),
        "json-unsorted": entry(refs=[[9, 10, "a", "subresource", "css url()", 1, None],
                                     [1, 2, "b", "subresource", "css url()", 1, None]]),
        "json-negative": entry(refs=[[-5, -1, "abcd", "subresource", "link[href]", 1, None]]),
        "json-bad-sri": entry(refs=[[0, 0, "", "subresource", "link[href]", 1, [9, 2, "md5"]]]),
    }


@pytest.mark.parametrize("name", list(hostile_blobs()))
def test_hostile_parse_cache_entries_are_ignored_and_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               name: str) -> None:
    import sqlite3

    want = reference(tmp_path)
    forget_memo(monkeypatch)
    site = write_tree(tmp_path / "site", CACHED_SITE)
    hashdeploy.build(Settings(site=site, out=tmp_path / "warm"))
    (db_file,) = sqlite_files()
    blob = hostile_blobs()[name]
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT count(*) FROM parsed").fetchone()[0] >= 4
        db.execute("UPDATE parsed SET blob = ?", (blob,))
    db.close()
    forget_memo(monkeypatch)
    from conftest import read_tree

    hashdeploy.build(Settings(site=site, out=tmp_path / "ref"))  # same name as the reference: same manifest bytes
    assert read_tree(tmp_path / "ref") == want
    with sqlite3.connect(db_file) as db:
        assert blob not in {row[0] for row in db.execute("SELECT blob FROM parsed")}, "re-parsed entries replace it"
    db.close()


def test_oversized_parse_cache_entry_is_never_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from hashdeploy.engine import cache as cache_mod

    want = reference(tmp_path)
    forget_memo(monkeypatch)
    site = write_tree(tmp_path / "site", CACHED_SITE)
    hashdeploy.build(Settings(site=site, out=tmp_path / "warm"))
    (db_file,) = sqlite_files()
    monkeypatch.setattr(cache_mod, "_MAX_BLOB", 4096, raising=False)
    with sqlite3.connect(db_file) as db:
        db.execute("UPDATE parsed SET blob = CAST(? AS BLOB)", (" " * 10_000,))
    db.close()
    loads: list[int] = []
    import json

    real = json.loads

    def counting(b: Any, *a: Any, **k: Any) -> Any:
        loads.append(len(b))
        return real(b, *a, **k)

    monkeypatch.setattr(cache_mod, "json", SimpleNamespace(loads=counting, dumps=json.dumps))
    forget_memo(monkeypatch)
    from conftest import read_tree

    hashdeploy.build(Settings(site=site, out=tmp_path / "ref"))
    assert read_tree(tmp_path / "ref") == want
    assert real is not None and all(n <= 4096 for n in loads)


@pytest.mark.parametrize("damage", ["random", "truncated", "foreign-schema"])
def test_a_corrupt_parse_cache_file_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    import sqlite3

    want = reference(tmp_path)
    forget_memo(monkeypatch)
    site = write_tree(tmp_path / "site", CACHED_SITE)
    hashdeploy.build(Settings(site=site, out=tmp_path / "warm"))
    (db_file,) = sqlite_files()
    if damage == "random":
        db_file.write_bytes(os.urandom(8192))
    elif damage == "truncated":
        db_file.write_bytes(db_file.read_bytes()[:1500])
    else:
        db_file.unlink()
        with sqlite3.connect(db_file) as db:
            db.execute("CREATE TABLE parsed (sha TEXT, kind TEXT, blob BLOB, PRIMARY KEY (sha, kind))")
            db.execute("CREATE TABLE notes (x)")
            db.execute("CREATE TRIGGER t AFTER INSERT ON parsed BEGIN INSERT INTO notes VALUES (new.sha); END")
        db.close()
    forget_memo(monkeypatch)
    from conftest import read_tree

    hashdeploy.build(Settings(site=site, out=tmp_path / "ref"))
    assert read_tree(tmp_path / "ref") == want
    (db_file,) = sqlite_files()
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT count(*) FROM parsed").fetchone()[0] >= 4, "the cache works again"
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
    db.close()
    assert names == {"parsed"}


def stamp_file() -> Path:
    (path,) = sorted((cache_dir() / "builds").glob("*.json"))
    return path


@pytest.mark.parametrize("stamp", [b"[]", b"null", b"\xff\xfe garbage", b"{\"version\": 2, \"input\":", b"[" * 100_000,
                                   b'{"version": 2, "input": 1, "manifest": [], "files": [], "rewritten": 3}'])
def test_a_corrupt_freshness_stamp_means_not_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamp: bytes) -> None:
    from conftest import read_tree

    site = write_tree(tmp_path / "site", CACHED_SITE)
    cfg = Settings(site=site, out=tmp_path / "out")
    hashdeploy.build(cfg)
    want = read_tree(tmp_path / "out")
    stamp_file().write_bytes(stamp)
    (tmp_path / "out" / "index.html").write_text("tampered")
    result = hashdeploy.build(cfg)
    assert read_tree(tmp_path / "out") == want and len(result.files) == len(CACHED_SITE)


def test_a_consistent_but_hostile_stamp_and_manifest_are_not_trusted(tmp_path: Path) -> None:
    """A stamp whose digests match a manifest with values of the wrong types (both from a restored cache)."""
    import hashlib
    import json

    site = write_tree(tmp_path / "site", CACHED_SITE)
    cfg = Settings(site=site, out=tmp_path / "out")
    hashdeploy.build(cfg)
    manifest_path = tmp_path / "out" / ".hashdeploy" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["files"].values():
        entry["sha256"], entry["size"] = 5, "big"
    manifest["assets"] = {"css/a.css": ["x"]}
    manifest_path.write_text(json.dumps(manifest))
    stamp = json.loads(stamp_file().read_text())
    stamp["manifest"] = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    stamp_file().write_text(json.dumps(stamp))
    result = hashdeploy.build(cfg)
    assert all(isinstance(f.sha256, str) and len(f.sha256) == 64 and isinstance(f.size, int) for f in result.files)
    assert all(isinstance(v, str) for v in result.assets.values())
    assert load_manifest(tmp_path / "out")["files"]["index.html"]["sha256"] != 5


# 4. a file replaced by a folder of the same name, and back

API_FILE = {"index.html": '<link rel="stylesheet" href="css/site.css"><a href="api">api</a>', "css/site.css": "p{}",
            "api": '{"version": 1}'}
API_DIR = {"index.html": '<link rel="stylesheet" href="css/site.css"><a href="api/">api</a>', "css/site.css": "p{}",
           "api/index.html": '<link rel="stylesheet" href="app.css"><p>api docs</p>', "api/app.css": "p{color:red}",
           "api/deep/er/page.html": "<p>deeper</p>"}
API_FILE_2 = dict(API_FILE, api='{"version": 2}')
FLIPS = [API_FILE, API_DIR, API_FILE_2, API_DIR]


def set_site(root: Path, files: dict[str, str]) -> Path:
    if root.exists():
        shutil.rmtree(root)
    return write_tree(root, dict(files))


def served(root: Path, files: dict[str, str]) -> None:
    """root serves the pages of `files` (bytes of files other than HTML, which links rewrite)."""
    assert (root / "index.html").is_file()
    for key, text in files.items():
        if not key.endswith((".html", ".css")):
            assert (root / key).read_text() == text, key
    if "api/index.html" in files:
        page = (root / "api" / "index.html").read_text()
        assert "api docs" in page
        css = page.split('href="')[1].split('"')[0]
        assert (root / "api" / css).read_text() == "p{color:red}"
        assert (root / "api" / "deep" / "er" / "page.html").is_file()


@pytest.mark.parametrize("mode", ["out", "in-place", "cached-build-folder"])
def test_file_and_folder_swap_builds(run: RunCli, tmp_path: Path, mode: str) -> None:
    from hashdeploy.engine.cache import build_dir

    site, out = tmp_path / "site", tmp_path / "out"
    for files in FLIPS:
        set_site(site, files)
        if mode == "out":
            code, _, err = run(site, "--out", out)
            where = out
        elif mode == "in-place":
            code, _, err = run(site)
            where = site
        else:  # what a deploy without --out does: update the cache's build folder in place
            cfg = Settings(site=site)
            where = build_dir(cfg)  # type: ignore[assignment]
            hashdeploy.build(Settings(site=site, out=where), update=True)
            code, err = 0, ""
        assert code == 0, err
        served(where, files)
        assert sorted(load_manifest(where)["files"]) == sorted(
            k for k in snapshot_tree(where) if not k.endswith("/") and not k.startswith(".hashdeploy"))


def test_file_and_folder_swap_deploys_to_a_directory(run: RunCli, tmp_path: Path) -> None:
    import hashlib

    site, www = tmp_path / "site", tmp_path / "www"
    for files in FLIPS:
        set_site(site, files)
        code, _, err = run(site, "--target", www.as_uri(), "--quiet")
        assert code == 0, err
        served(www, files)
        # the replaced `api` file is kept for rollback, though hashed files under api/ went up before it moved
        kept = hashlib.sha256(API_FILE["api"].encode()).hexdigest()
        assert files is API_FILE or (www / ".hashdeploy" / "stable" / kept).read_text() == API_FILE["api"]
    assert not [k for k in snapshot_tree(www) if ".hashdeploy-" in k], "no temporary file or folder left"
    # roll back to the file, then forward to the folder again
    code, _, err = run("rollback", "--target", www.as_uri())
    assert code == 0, err
    served(www, API_FILE_2)
    assert (www / "api").is_file()


def test_file_and_folder_swap_deploys_with_out(run: RunCli, tmp_path: Path) -> None:
    site, www, out = tmp_path / "site", tmp_path / "www", tmp_path / "out"
    for files in FLIPS:
        set_site(site, files)
        code, _, err = run(site, "--out", out, "--target", www.as_uri(), "--quiet")
        assert code == 0, err
        served(out, files)
        served(www, files)


def test_file_and_folder_swap_deploys_to_s3(run: RunCli, aws: AwsWorld, tmp_path: Path) -> None:
    site = tmp_path / "site"
    for files in FLIPS:
        set_site(site, files)
        code, _, err = run(site, "--bucket", aws.bucket, "--distribution-id", aws.distribution_id, "--quiet")
        assert code == 0, err
        objects = aws.objects()
        for key, text in files.items():
            if not key.endswith((".html", ".css")):
                assert objects[key].decode() == text
        if "api/index.html" in files:
            assert b"api docs" in objects["api/index.html"]


PAUSING_DEPLOY = """
import os, sys, time
from pathlib import Path
from hashdeploy.backends import local

real = local.LocalBackend.upload
first = [True]

def upload(self, items, tick):
    if first[0]:  # the first upload of the deploy: its build is done, nothing is uploaded yet
        first[0] = False
        Path(os.environ["PAUSED"]).touch()
        end = time.monotonic() + 120
        while not Path(os.environ["GO"]).exists() and time.monotonic() < end:
            time.sleep(0.05)
    return real(self, items, tick)

local.LocalBackend.upload = upload
from hashdeploy.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def consistent(www: Path) -> dict[str, str]:
    """Every object current.json lists holds the bytes it records; returns {key: text} of the HTML pages."""
    import hashlib
    import json

    record = json.loads((www / ".hashdeploy" / "current.json").read_text())
    for key, o in record["objects"].items():
        assert hashlib.sha256((www / key).read_bytes()).hexdigest() == o["sha256"], key
    return {k: (www / k).read_text() for k in record["objects"] if k.endswith(".html")}


def test_two_deploys_of_one_site_at_once_take_turns_with_the_build_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    site = write_tree(tmp_path / "site", {"index.html": '<link rel="stylesheet" href="a.css"><p>one</p>',
                                          "a.css": "p{color:red}", "img/x.png": RED})
    env = dict(os.environ, PAUSED=str(tmp_path / "paused"), GO=str(tmp_path / "go"), PYTHONPATH=str(Path.cwd()))
    first = subprocess.Popen([sys.executable, "-c", PAUSING_DEPLOY, str(site), "--target", (tmp_path / "www1").as_uri(),
                              "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        end = time.monotonic() + 120
        while not (tmp_path / "paused").exists():
            assert first.poll() is None and time.monotonic() < end, first.communicate()
            time.sleep(0.05)
        # the site is rebuilt, and deployed elsewhere, while the first deploy uploads from the build folder
        write_tree(site, {"index.html": '<link rel="stylesheet" href="a.css"><p>two</p>', "a.css": "p{color:tan}"})
        err_file = tmp_path / "second.err"
        with open(err_file, "w") as err:
            second = subprocess.Popen([sys.executable, "-m", "hashdeploy", str(site), "--target",
                                       (tmp_path / "www2").as_uri(), "--quiet"], env=env, stderr=err, text=True)
        while second.poll() is None and "waiting" not in err_file.read_text():
            assert time.monotonic() < end
            time.sleep(0.05)
        waited = second.poll() is None
        (tmp_path / "go").touch()
        out, err1 = first.communicate(timeout=120)
        assert first.returncode == 0, err1
        assert second.wait(timeout=120) == 0, err_file.read_text()
    finally:
        (tmp_path / "go").touch()
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert waited, "the second deploy went on while the first one used the build folder"
    message = err_file.read_text()
    assert message.count("\n") == 1 and message.startswith("hashdeploy: waiting for another run (pid "), message
    assert "<p>one</p>" in consistent(tmp_path / "www1")["index.html"]
    assert "<p>two</p>" in consistent(tmp_path / "www2")["index.html"]
