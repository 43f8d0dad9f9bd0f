from __future__ import annotations

from pathlib import Path

import pytest

from hashdeploy.cli.lifecycle import parser as lifecycle_parser
from hashdeploy.cli.options import flags_from
from hashdeploy.errors import ConfigError, one_line
from hashdeploy.settings import PRUNE, ROLLBACK, options
from hashdeploy.sources import load_settings


@pytest.mark.parametrize("command", [ROLLBACK, PRUNE])
def test_lifecycle_commands_take_every_setting_that_applies(command: str) -> None:
    argv = [command, "--bucket", "b-1", "--workers", "3", "--invalidation-budget", "7",
            "--invalidation-patience", "0", "--endpoint-url", "http://127.0.0.1:1", "--max-attempts", "2"]
    if command == ROLLBACK:
        argv += ["--wait-timeout", "12", "--wait", "--acl", "public-read"]
    else:
        argv += ["--keep", "3", "--older-than", "30d", "--cache-control", "*.json=public, max-age=60"]
    args = lifecycle_parser().parse_args(argv)
    s = load_settings(Path("."), flags_from(args, command), env={})
    assert (s.workers, s.invalidation_budget, s.max_attempts) == (3, 7, 2)
    if command == ROLLBACK:
        assert (s.acl, s.wait, s.wait_timeout) == ("public-read", True, 12.0)
    else:
        assert (s.keep, s.older_than, s.cache_control) == (3, "30d", ("*.json=public, max-age=60",))


def test_env_lists_never_split_on_commas(tmp_path: Path) -> None:
    env = {"HASHDEPLOY_CACHE_CONTROL": "*.json=public, max-age=60",
           "HASHDEPLOY_FINGERPRINT_PATTERNS": r"[.-][0-9a-f]{8,64}(?=\.)",
           "HASHDEPLOY_STABLE": "/downloads/**\n*.pdf\n"}
    s = load_settings(tmp_path, {}, env=env, directory=tmp_path)
    assert s.cache_control == ("*.json=public, max-age=60",)
    assert s.fingerprint_patterns == (r"[.-][0-9a-f]{8,64}(?=\.)",)
    assert s.stable == ("/downloads/**", "*.pdf")
    s = load_settings(tmp_path, {}, env={"HASHDEPLOY_HASHED": '["a,b.png", "c.png"]'}, directory=tmp_path)
    assert s.hashed == ("a,b.png", "c.png")


def test_env_list_json_must_be_strings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Config value 'stable' from HASHDEPLOY_STABLE: '\[1\]' is not a valid list"):
        load_settings(tmp_path, {}, env={"HASHDEPLOY_STABLE": "[1]"}, directory=tmp_path)


def test_watch_settings_come_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "hashdeploy.toml").write_text("quiet_period = 0.25\ninvalidation_interval = 3\n", encoding="utf-8")
    s = load_settings(tmp_path, {}, env={}, directory=tmp_path)
    assert (s.quiet_period, s.invalidation_interval) == (0.25, 3.0)


def test_every_invalid_setting_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "hashdeploy.toml").write_text('quiet_period = 0\nolder_than = "soon"\nworkers = true\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {"hash_length": 5}, env={}, directory=tmp_path)
    msg = str(info.value)
    for part in ("'workers' from", "'hash_length': 5 is not between 8 and 64", "'quiet_period': 0.0 is not between",
                 "'older_than': 'soon' is not an age"):
        assert part in msg, msg


def test_every_setting_has_help_a_scope_and_a_default() -> None:
    for f in options():
        assert f.metadata["help"] and f.metadata["scope"], f.name


def test_one_funnel_for_expected_failures() -> None:
    assert one_line(ConfigError("Config value 'x': bad")) == ("ConfigError: Config value 'x': bad", 2)
    assert one_line(FileNotFoundError(2, "No such file or directory", "/nope")) == (
        "FileNotFoundError: /nope No such file or directory", 1)
    assert one_line(ValueError("a bug")) is None
