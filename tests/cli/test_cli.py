from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from conftest import DEMO, ROOT, MakeSite, RunCli, read_tree

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def test_help_and_version(run: RunCli) -> None:
    with pytest.raises(SystemExit) as exc:
        run("--version")
    assert exc.value.code == 0


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "hashdeploy", str(DEMO), "--out", str(tmp_path / "o"), "--json"],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["classes"]["hashed"] > 0 and doc["dry_run"] is False and proc.stderr == ""


def test_summary_line(run: RunCli, tmp_path: Path) -> None:
    code, out, err = run(DEMO, "--out", tmp_path / "o")
    assert code == 0 and err == ""
    assert out.startswith("hashdeploy: 23 files: 13 hashed, 0 fingerprinted, 10 stable; 8 rewritten; wrote ")


def test_dry_run_explains_each_file(run: RunCli, tmp_path: Path) -> None:
    code, out, _ = run(DEMO, "--out", tmp_path / "o", "--dry-run")
    assert code == 0 and not (tmp_path / "o").exists()
    lines = out.splitlines()
    assert "hashed        css/site.css -> css/site." in "\n".join(lines)
    assert any(line.startswith("stable        docs/report.pdf  (only linked by navigation (index.html:") for line in lines)
    assert any(line.startswith("stable        sw.js  (") for line in lines)
    assert "rewrite       index.html" in lines


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nope", "SiteError: {p}/nope: no such directory; build the site first or check the path"),
        (lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "SiteError: {p}/f.txt: not a directory"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "SiteError: {p}/empty: the directory holds no files"),
    ],
)
def test_bad_site(run: RunCli, tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    target = make(tmp_path)
    code, out, err = run(target)
    assert code == 1 and out == ""
    assert err.startswith(message.format(p=tmp_path)) and err.count("\n") == 1


def test_out_inside_site(run: RunCli, site: MakeSite) -> None:
    root = site({"index.html": "<p>", "a.png": PNG})
    before = read_tree(root)
    code, _, err = run(root, "--out", root / "dist")
    assert code == 1 and err.startswith("OutputError: ") and "inside the site" in err
    assert read_tree(root) == before


def test_out_not_ours_is_refused(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": "<p>"})
    other = tmp_path / "precious"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, _, err = run(root, "--out", other)
    assert code == 1 and "not an earlier hashdeploy output" in err
    assert (other / "keep.txt").read_text() == "mine"


def test_symlink_leaving_site(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not publish")
    root = site({"index.html": '<img src="leak.txt">'})
    os.symlink(secret, root / "leak.txt")
    code, _, err = run(root)
    assert code == 1 and err.startswith("UnsafePathError: leak.txt is a symlink to ") and "never follows it" in err
    assert (root / "index.html").read_text() == '<img src="leak.txt">'
    assert os.path.islink(root / "leak.txt")


def test_symlink_inside_site_is_read_through(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": '<img src="alias.png">', "real.png": PNG})
    os.symlink("real.png", root / "alias.png")
    code, _, _ = run(root, "--out", tmp_path / "o")
    assert code == 0


def test_reference_outside_site_is_never_opened(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x")
    root = site({"index.html": '<img src="../etc/passwd"><img src="%2e%2e/etc/passwd">'})
    code, _, err = run(root, "--out", tmp_path / "o")
    assert code == 0
    assert "index.html:1: ../etc/passwd resolves outside the site; left unchanged, never opened" in err
    assert "index.html:1: %2e%2e/etc/passwd resolves outside the site" in err
    assert not (tmp_path / "o" / "etc").exists()


def test_missing_reference_warns_and_strict_fails(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": "<p>\n<img src='gone.png'>", "css/a.css": "x{background:url(../nope.png)}"})
    code, _, err = run(root, "--out", tmp_path / "o")
    assert code == 0
    assert "warning: css/a.css:1: css url() → ../nope.png (no such file in the site); left unchanged" in err
    assert "warning: index.html:2: img[src] → gone.png (no such file in the site); left unchanged" in err
    before = read_tree(root)
    code, out, err = run(root, "--strict")
    assert code == 1 and err.startswith("StrictModeError: 2 warning(s) in strict mode; first: css/a.css:1:")
    assert read_tree(root) == before


def test_case_insensitive_match_warns(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": "<img src='Logo.PNG'>", "logo.png": PNG})
    code, _, err = run(root, "--out", tmp_path / "o")
    assert code == 0 and "index.html:1: Logo.PNG matches logo.png only case-insensitively" in err


def test_broken_html_best_effort(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    root = site({"index.html": b"<html><head><link rel=stylesheet href='a.css'><body><div><p><img src='x.png' <<< \xff",
                 "a.css": "", "x.png": PNG, "b.html": b"<img src=\"x.png"})
    code, _, _ = run(root, "--out", tmp_path / "o")
    assert code == 0
    assert b"a." in (tmp_path / "o" / "index.html").read_bytes()


@pytest.mark.parametrize("name", ["my file.png", "a+b.png", "100%.png", "hash#tag.png", "café.png", "日本.png"])
def test_odd_file_names(run: RunCli, site: MakeSite, tmp_path: Path, name: str) -> None:
    from urllib.parse import quote

    root = site({"index.html": f'<img src="{quote(name)}"><img src="{name if "#" not in name else quote(name)}">',
                 name: PNG})
    code, _, err = run(root, "--out", tmp_path / "o", "--json")
    assert code == 0, err
    doc = json.loads(_)
    new = doc["renamed"][name]
    assert (tmp_path / "o" / new).is_file()
    html = (tmp_path / "o" / "index.html").read_text()
    assert name not in html.replace(new, "") or "#" in name


def test_non_utf8_pages_keep_every_byte(run: RunCli, site: MakeSite, tmp_path: Path) -> None:
    page = "<meta charset=windows-1252><p>Caf\xe9 \u20ac</p><img src='caf\xe9.png'>".encode("cp1252") + b"\x81\x8d"
    root = site({"index.html": page, "café.png": PNG})
    code, out, err = run(root, "--out", tmp_path / "o", "--json")
    assert code == 0, err
    new = json.loads(out)["renamed"]["café.png"].split("/")[-1]
    result = (tmp_path / "o" / "index.html").read_bytes()
    assert result == page.replace("caf\xe9.png".encode("cp1252"), new.encode("cp1252"))


def test_invalid_settings_reported_at_once(run: RunCli, site: MakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({"index.html": "<p>"})
    code, _, err = run(root, "--hash-length", "4", "--base-path", "docs", "--site-url", "ftp://x")
    assert code == 2 and err.startswith("ConfigError: ")
    assert "'hash_length'" in err and "'base_path'" in err and "'site_url'" in err and err.count("\n") == 1


def test_settings_precedence(run: RunCli, site: MakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({"index.html": "<img src=a.png>", "a.png": PNG})
    work = tmp_path / "proj"
    work.mkdir()
    (work / "pyproject.toml").write_text("[tool.hashdeploy]\nhash_length = 20\nstable = ['nothing']\n")
    monkeypatch.chdir(work)
    code, out, _ = run(root, "--out", tmp_path / "o1", "--json")
    assert len(json.loads(out)["renamed"]["a.png"].split(".")[1]) == 20
    monkeypatch.setenv("HASHDEPLOY_HASH_LENGTH", "16")
    code, out, _ = run(root, "--out", tmp_path / "o2", "--json")
    assert len(json.loads(out)["renamed"]["a.png"].split(".")[1]) == 16
    code, out, _ = run(root, "--out", tmp_path / "o3", "--json", "--hash-length", "10")
    assert len(json.loads(out)["renamed"]["a.png"].split(".")[1]) == 10
    (work / "pyproject.toml").write_text("[tool.hashdeploy]\nhash_length = 'x'\ncolour = 1\n")
    code, _, err = run(root, "--out", tmp_path / "o4")
    assert code == 2 and "'hash_length'" in err and "'colour'" in err


def test_huge_file_is_streamed(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text('<video src="big.mp4"></video>')
    with open(root / "big.mp4", "wb") as f:
        chunk = bytes(range(256)) * 4096
        for _ in range(400):  # 400 MiB
            f.write(chunk)
    # VmHWM is this process's own peak (ru_maxrss may carry over the forking parent's across exec)
    code = (
        "import sys; from hashdeploy.cli.main import main; rc = main(sys.argv[1:]); "
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); raise SystemExit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(root), "--out", str(tmp_path / "o"), "--quiet"],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB for a 400 MiB file"
    assert sum(p.stat().st_size for p in (tmp_path / "o").iterdir() if p.suffix == ".mp4") == 400 * 1024 * 1024


def test_interrupt_is_one_line(run: RunCli, site: MakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({"index.html": "<p>"})
    from hashdeploy import engine as pipeline

    def interrupted(*_a: object, **_k: object) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "scan", interrupted)
    code, _, err = run(root)
    assert code == 130 and err == "interrupted; nothing was changed\n"


def test_in_place_with_relative_path(run: RunCli, site: MakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    root = site({"index.html": '<img src="a.png">', "a.png": PNG})
    monkeypatch.chdir(root.parent)
    code, _, err = run("site")
    assert code == 0, err
    assert "a.png" not in read_tree(root)


def test_progress_bar_on_a_terminal_only() -> None:
    from hashdeploy.cli.progress import MIN_TOTAL, Bar

    out = io.StringIO()
    bar = Bar(stream=out, enabled=True)
    bar.start("parsing", MIN_TOTAL)
    bar.advance(MIN_TOTAL)
    bar.finish()
    assert f"parsing    [{'#' * 30}] {MIN_TOTAL}/{MIN_TOTAL}" in out.getvalue()
    quiet = io.StringIO()
    bar = Bar(stream=quiet)  # a StringIO is not a TTY, as in CI
    bar.start("parsing", MIN_TOTAL)
    bar.advance(MIN_TOTAL)
    bar.finish()
    assert quiet.getvalue() == ""
