"""The MkDocs plugin, through real `mkdocs build` runs of a docs project written by tests/browser.py.

The plugin is found through its `mkdocs.plugins` entry point (the project is installed with `pip install -e .`).
Each variant is built twice, with and without the plugin, so the hashed site can be compared with what MkDocs
wrote (siteassert: every subresource resolves to a hashed or fingerprinted file, pages differ only in URLs).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from browser import built, mkdocs_build, write_config, write_project
from conftest import AwsWorld, load_manifest, read_tree
from siteassert import assert_site_consistent, subresource_urls

HEX = r"[0-9a-f]"
VARIANTS = {  # name -> (theme, use_directory_urls, site_url)
    "mkdocs-dirurls": ("mkdocs", True, "https://example.com/"),
    "mkdocs-flat-subpath": ("mkdocs", False, "https://example.com/docs/"),
    "readthedocs-dirurls-subpath": ("readthedocs", True, "https://example.com/docs/"),
    "readthedocs-flat": ("readthedocs", False, "https://example.com/"),
    "material-dirurls-subpath": ("material", True, "https://example.com/en/latest/"),
    "material-flat-no-site-url": ("material", False, None),
}
THEME_ASSETS = {  # files each theme loads as subresources, which must come out hashed
    "mkdocs": ("css/base.css", "css/bootstrap.min.css", "js/base.js", "js/bootstrap.bundle.min.js", "search/main.js",
               "img/favicon.ico"),
    "readthedocs": ("css/theme.css", "css/theme_extra.css", "js/theme.js", "js/theme_extra.js", "search/main.js",
                    "img/favicon.ico"),
    "material": ("assets/images/favicon.png",),
}
OURS = ("css/extra.css", "js/extra.js", "img/logo.png", "img/diagram.png", "img/bg.png", "fonts/solid.woff2",
        "css/override.css", "img/brand.png")


@dataclass
class Site:
    """One variant built with the plugin (out) and without it (plain)."""

    name: str
    theme: str
    dir_urls: bool
    prefix: str  # the site_url path: root-relative URLs start with it
    out: Path
    plain: Path
    manifest: dict[str, Any]

    def new(self, key: str) -> str:
        return cast(str, self.manifest["assets"][key])

    def cls(self, key: str) -> str:
        return cast(str, self.manifest["files"][key]["class"])

    def text(self, key: str) -> str:
        return (self.out / key).read_text(encoding="utf-8")

    def page(self, path: str) -> str:
        """Output key of a page ('' for home, 'guide/install', ...)."""
        if not path:
            return "index.html"
        return f"{path}/index.html" if self.dir_urls else f"{path}.html"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Site]:
    root = tmp_path_factory.mktemp("mkdocs-plugin")
    out = {}
    for name, (theme, dir_urls, site_url) in VARIANTS.items():
        common: dict[str, Any] = dict(theme=theme, dir_urls=dir_urls, site_url=site_url)
        hashed = built(write_config(root, name, **common))
        plain = built(write_config(root, name + "-plain", hashdeploy=False, **common))
        prefix = urlsplit(site_url).path if site_url else "/"
        out[name] = Site(name, theme, dir_urls, prefix, hashed, plain, load_manifest(hashed))
    return out


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, sites: dict[str, Site]) -> Site:
    return sites[request.param]


# ---------------------------------------------------------------------------------------------------------------
# what the plugin makes of each theme and URL layout


def test_site_is_consistent(variant: Site) -> None:
    counts = assert_site_consistent(variant.plain, variant.out, variant.manifest, variant.prefix)
    assert counts["html"] >= 4 and counts["subresources"] >= 20 and counts["hashed_refs"] >= 10, counts
    # nothing lost: every file MkDocs wrote is published, under its own name or a hashed one
    assert {e["source"] for e in variant.manifest["files"].values()} == set(read_tree(variant.plain))


def test_assets_are_hashed_and_fixed_urls_stay(variant: Site) -> None:
    pages = [variant.page(p) for p in ("", "guide/install", "guide/advanced/tuning")] + ["404.html"]
    for key in pages + ["search/search_index.json", "sitemap.xml", "sitemap.xml.gz"]:
        assert variant.cls(key) == "stable", key
    if variant.theme != "material":
        assert variant.cls("search/worker.js") == "stable"  # named in search/main.js, which computes its URL
    for key in THEME_ASSETS[variant.theme] + OURS:
        assert variant.cls(variant.new(key)) == "hashed", key
        assert key not in variant.manifest["files"], f"{key} is only a subresource: no copy should stay at its name"
    # extra_css: url() to the font and the image follow their new names
    extra = variant.text(variant.new("css/extra.css"))
    assert f'url("../{variant.new("fonts/solid.woff2")}")' in extra and f"url(../{variant.new('img/bg.png')})" in extra
    # theme custom_dir: the override's stylesheet and the image it loads
    assert f"url(../{variant.new('img/brand.png')})" in variant.text(variant.new("css/override.css"))
    # Markdown images, relative to each page's depth
    up = "../../../" if variant.dir_urls else "../../"
    assert f'src="{up}{variant.new("img/logo.png")}"' in variant.text(pages[2])
    assert f'href="{up}{variant.new("css/override.css")}"' in variant.text(pages[2])


def test_404_page_keeps_root_relative_urls_under_the_base_path(variant: Site) -> None:
    """404.html is served at any depth, so MkDocs writes its URLs root-relative to site_url's path."""
    page = variant.text("404.html")
    assert f'href="{variant.prefix}{variant.new("css/extra.css")}"' in page
    assert f'src="{variant.prefix}{variant.new("js/extra.js")}"' in page
    for url, target in subresource_urls(variant.out, "404.html", variant.prefix):
        assert url.startswith(variant.prefix), url
        assert variant.cls(target) in ("hashed", "fingerprinted"), (url, target)


def test_material_bundles_are_left_alone(sites: dict[str, Site]) -> None:
    site = sites["material-dirurls-subpath"]
    bundles = [k for k in site.manifest["files"] if re.fullmatch(
        rf"assets/(stylesheets/main|javascripts/bundle|javascripts/workers/search)\.{HEX}{{8}}\.min\.(css|js)", k)]
    assert len(bundles) == 3
    for key in bundles:
        assert site.cls(key) == "fingerprinted" and (site.out / key).read_bytes() == (site.plain / key).read_bytes()
    lunr = [k for k in site.manifest["files"] if k.startswith("assets/javascripts/lunr/")]
    assert lunr and all(site.cls(k) == "stable" for k in lunr)


def test_sitemaps_are_untouched(variant: Site) -> None:
    assert (variant.out / "sitemap.xml").read_bytes() == (variant.plain / "sitemap.xml").read_bytes()
    unzipped = gzip.decompress((variant.out / "sitemap.xml.gz").read_bytes())
    assert unzipped == gzip.decompress((variant.plain / "sitemap.xml.gz").read_bytes())


def test_rebuild_gives_the_same_site(tmp_path: Path) -> None:
    """MkDocs keeps dot-directories when it cleans site_dir: the previous .hashdeploy/ must change nothing."""
    cfg = write_config(tmp_path, "again", theme="readthedocs", site_url="https://example.com/docs/")
    first = read_tree(built(cfg))
    assert read_tree(built(cfg)) == first


# ---------------------------------------------------------------------------------------------------------------
# warnings, errors, options


@pytest.fixture
def broken(tmp_path: Path) -> Callable[..., Path]:
    """Config factory for a project whose extra CSS loads an image that is not in docs/."""
    write_project(tmp_path)
    (tmp_path / "docs/css/broken.css").write_text(".logo { background: url(../img/missing.png); }\n", encoding="utf-8")

    def make(name: str = "broken", **kw: Any) -> Path:
        return write_config(tmp_path, name, extra_css=["css/extra.css", "css/broken.css"], **kw)

    return make


def test_missing_image_is_a_warning(broken: Callable[..., Path]) -> None:
    cfg = broken()
    proc = mkdocs_build(cfg, quiet=False)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == ["WARNING -  hashdeploy: css/broken.css:1: css url() → ../img/missing.png (no such file in the "
                        "site); left unchanged"]
    assert (cfg.parent / "site-broken/.hashdeploy/manifest.json").is_file()


def test_strict_build_fails_on_a_missing_image(broken: Callable[..., Path]) -> None:
    # not with -q: MkDocs' --quiet raises the logger's level, so --strict no longer sees warnings (MkDocs' behaviour)
    proc = mkdocs_build(broken(), "--strict", quiet=False)
    assert proc.returncode == 1
    assert "hashdeploy: css/broken.css:1" in proc.stderr and "Aborted with 1 warnings in strict mode!" in proc.stdout


def test_strict_option_stops_before_writing(broken: Callable[..., Path]) -> None:
    cfg = broken(plugin={"strict": True})
    proc = mkdocs_build(cfg)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert errors[0].startswith("ERROR   -  hashdeploy: StrictModeError: 1 warning(s)"), proc.stderr
    assert "Traceback" not in proc.stderr
    site = cfg.parent / "site-broken"
    assert (site / "css/extra.css").is_file() and not (site / ".hashdeploy").exists(), "site_dir left as MkDocs wrote it"


@pytest.mark.parametrize(("options", "message"), [
    ({"hash_length": "twelve"},
     "Plugin 'hashdeploy' option 'hash_length': Expected type: <class 'int'> but received: <class 'str'>"),
    ({"hash_length": True}, "Plugin 'hashdeploy' option 'hash_length': Expected an integer but received: True"),
    ({"stable": 7}, "Plugin 'hashdeploy' option 'stable': Expected a list of items, but a <class 'int'> was given."),
    ({"deploy": "yes"}, "Plugin 'hashdeploy' option 'deploy': Expected type: <class 'bool'> but received: <class 'str'>"),
    ({"wait_timeout": "soon"}, "Plugin 'hashdeploy' option 'wait_timeout': Expected type:"),
    ({"hash_length": 5}, "hashdeploy: ConfigError: Config value 'hash_length': 5 is not between 8 and 64"),
    ({"fingerprint_patterns": ["[0-9"]}, "hashdeploy: ConfigError: Config value 'fingerprint_patterns': '[0-9' is not"),
    ({"target": "ftp://host/x"}, "hashdeploy: ConfigError: Config value 'target': 'ftp://host/x' is not s3://"),
    ({"deploy": True}, "hashdeploy: ConfigError: deploying is enabled (deploy: true or HASHDEPLOY_DEPLOY=1) but there is "
                       "no target"),
])
def test_invalid_option_is_named_and_nothing_is_built(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    cfg = write_config(tmp_path, "bad", plugin=options)
    proc = mkdocs_build(cfg)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "site-bad").exists()


@pytest.mark.parametrize(("env", "message"), [
    ({"HASHDEPLOY_HASH_LENGTH": "abc"}, "Config value 'hash_length' from HASHDEPLOY_HASH_LENGTH: 'abc' is not a valid int"),
    ({"HASHDEPLOY_DEPLOY": "maybe"}, "hashdeploy: ConfigError: HASHDEPLOY_DEPLOY='maybe' is not one of 1, true"),
])
def test_invalid_environment_is_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    proc = mkdocs_build(write_config(tmp_path, "bad"), env=env)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def test_unknown_option_fails_a_strict_build(tmp_path: Path) -> None:
    proc = mkdocs_build(write_config(tmp_path, "typo", plugin={"hash_lenght": 16}), "--strict", quiet=False)
    assert proc.returncode == 1
    assert "Plugin 'hashdeploy' option 'hash_lenght': Unrecognised configuration name: hash_lenght" in proc.stderr


@pytest.mark.parametrize(("options", "env", "toml", "digits"), [
    ({}, {}, None, 12),
    ({"hash_length": 16}, {}, None, 16),
    ({}, {}, "hash_length = 20\n", 20),  # hashdeploy.toml beside mkdocs.yml
    ({"hash_length": 16}, {}, "hash_length = 20\n", 16),  # mkdocs.yml over the toml file
    ({"hash_length": 16}, {"HASHDEPLOY_HASH_LENGTH": "10"}, None, 10),  # the environment over mkdocs.yml
])
def test_settings_precedence(tmp_path: Path, options: dict[str, Any], env: dict[str, str], toml: str | None,
                             digits: int) -> None:
    if toml:
        (tmp_path / "hashdeploy.toml").write_text(toml, encoding="utf-8")
    out = built(write_config(tmp_path, "p", plugin=options), env=env)
    manifest = load_manifest(out)
    assert re.fullmatch(rf"css/extra\.{HEX}{{{digits}}}\.css", manifest["assets"]["css/extra.css"])


def test_build_options_reach_the_engine(tmp_path: Path) -> None:
    options = {"stable": ["/img/logo.png"], "sri": True, "hash_length": 8}
    out = built(write_config(tmp_path, "opts", plugin=options))
    manifest = load_manifest(out)
    assert manifest["files"]["img/logo.png"]["class"] == "stable" and "img/logo.png" not in manifest["assets"]
    assert 'src="img/logo.png"' in (out / "index.html").read_text(encoding="utf-8")
    extra_js = manifest["assets"]["js/extra.js"]
    assert re.fullmatch(rf"js/extra\.{HEX}{{8}}\.js", extra_js)
    assert re.search(rf'<script src="{re.escape(extra_js)}" integrity="sha384-[^"]+"',
                     (out / "index.html").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------------------
# mkdocs serve: left alone unless enabled_on_serve, and never a deploy


def _build_in_process(cfg_path: Path, command: str) -> Path:
    """What `mkdocs <command>` does around a build: startup event, build, shutdown event."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    cfg = load_config(config_file=str(cfg_path))
    cfg.plugins.on_startup(command=command, dirty=False)  # type: ignore[arg-type]
    try:
        build(cfg, serve_url="http://127.0.0.1:8000/" if command == "serve" else None)
    finally:
        cfg.plugins.on_shutdown()
    return Path(cfg.site_dir)


def test_serve_leaves_the_site_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mkdocs.plugins.hashdeploy")
    www = tmp_path / "www"
    options = {"deploy": True, "target": www.as_uri()}
    site = _build_in_process(write_config(tmp_path, "serve", plugin=options), "serve")
    assert (site / "css/extra.css").is_file() and not (site / ".hashdeploy").exists()
    assert not www.exists()
    assert [m for m in caplog.messages if m.startswith("hashdeploy:")] == [
        "hashdeploy: mkdocs serve: assets keep their names (set enabled_on_serve: true to hash them)"]


def test_serve_hashes_when_enabled_but_never_deploys(tmp_path: Path) -> None:
    www = tmp_path / "www"
    options = {"enabled_on_serve": True, "deploy": True, "target": www.as_uri()}
    site = _build_in_process(write_config(tmp_path, "serve", plugin=options), "serve")
    assert not (site / "css/extra.css").exists() and (site / ".hashdeploy/manifest.json").is_file()
    assert not www.exists()


def test_build_command_in_process(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mkdocs.plugins.hashdeploy")
    site = _build_in_process(write_config(tmp_path, "b"), "build")
    assert not (site / "css/extra.css").exists() and (site / ".hashdeploy/manifest.json").is_file()
    (summary,) = [m for m in caplog.messages if m.startswith("hashdeploy:")]
    assert re.fullmatch(r"hashdeploy: \d+ files: \d+ hashed, 0 fingerprinted, \d+ stable; \d+ rewritten", summary)


# ---------------------------------------------------------------------------------------------------------------
# deploying from the plugin: opt-in only


def _objects(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if not k.startswith(".hashdeploy/")}


def test_build_never_touches_the_network_unless_asked(tmp_path: Path, aws: AwsWorld) -> None:
    options = {"bucket": aws.bucket, "distribution_id": aws.distribution_id}
    built(write_config(tmp_path, "s3", plugin=options))
    assert aws.recorder.log == [] and aws.objects() == {}


def test_deploy_to_s3_when_the_environment_asks(tmp_path: Path, aws: AwsWorld) -> None:
    options = {"bucket": aws.bucket, "distribution_id": aws.distribution_id, "endpoint_url": aws.server.url}
    cfg = write_config(tmp_path, "s3", plugin=options, site_url="https://example.com/docs/")
    proc = mkdocs_build(cfg, env={"HASHDEPLOY_DEPLOY": "1"}, quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert f"INFO    -  hashdeploy: deployed s3://{aws.bucket}/: " in proc.stderr
    site = read_tree(tmp_path / "site-s3")
    objects = aws.objects()
    assert _objects(objects) == _objects(site) and ".hashdeploy/current.json" in objects
    css = load_manifest(tmp_path / "site-s3")["assets"]["css/extra.css"]
    assert aws.head(css)["CacheControl"] == "public, max-age=31536000, immutable"
    assert aws.head("guide/install/index.html")["CacheControl"] == "public, max-age=0, must-revalidate, s-maxage=86400"
    assert aws.invalidations() == []
    # a page changes: the next deploy uploads it and invalidates only the stable URLs that changed
    (tmp_path / "docs/guide/install.md").write_text("# Install\n\n![Diagram](../img/diagram.png)\n\nNew text.\n",
                                                    encoding="utf-8")
    aws.recorder.clear()
    proc = mkdocs_build(cfg, env={"HASHDEPLOY_DEPLOY": "true"})
    assert proc.returncode == 0, proc.stderr
    assert aws.invalidations() == [["/guide/install/", "/guide/install/index.html", "/search/search_index.json"]]
    assert _objects(aws.objects()) == _objects(read_tree(tmp_path / "site-s3"))


def test_deploy_error_is_one_line(tmp_path: Path, aws: AwsWorld) -> None:
    cfg = write_config(tmp_path, "s3", plugin={"bucket": "hd-no-such-bucket", "deploy": True})
    proc = mkdocs_build(cfg)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == ["ERROR   -  hashdeploy: RemoteError: s3://hd-no-such-bucket/: the bucket does not exist; "
                      "check --bucket, or create it first"], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("options", "env", "deployed"), [
    ({"deploy": True}, {}, True),
    ({}, {"HASHDEPLOY_DEPLOY": "1"}, True),
    ({}, {}, False),
    ({"deploy": True}, {"HASHDEPLOY_DEPLOY": "0"}, False),  # the environment turns a committed `deploy: true` off
])
def test_deploy_to_a_local_directory(tmp_path: Path, options: dict[str, Any], env: dict[str, str],
                                     deployed: bool) -> None:
    www = tmp_path / "www"
    out = built(write_config(tmp_path, "local", plugin={"target": www.as_uri(), **options}), env=env)
    if not deployed:
        assert not www.exists()
        return
    assert _objects(read_tree(www)) == _objects(read_tree(out))
    record = json.loads((www / ".hashdeploy/current.json").read_text(encoding="utf-8"))
    assert set(record["objects"]) == set(_objects(read_tree(out)))


def test_strict_build_with_warnings_deploys_nothing(broken: Callable[..., Path], tmp_path: Path) -> None:
    www = tmp_path / "www"
    proc = mkdocs_build(broken(plugin={"deploy": True, "target": www.as_uri()}), "--strict", quiet=False)
    assert proc.returncode == 1
    assert "hashdeploy: not deploying: 1 warning(s) in strict mode; fix them first" in proc.stderr
    assert not www.exists()


def test_registered_as_an_entry_point_and_runs_last() -> None:
    from importlib.metadata import entry_points

    from hashdeploy.integrations.mkdocs import HashdeployPlugin

    assert entry_points(group="mkdocs.plugins")["hashdeploy"].load() is HashdeployPlugin
    assert HashdeployPlugin.on_post_build.mkdocs_priority == -100  # type: ignore[attr-defined]
