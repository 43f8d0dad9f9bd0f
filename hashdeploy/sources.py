"""Where settings come from: hashdeploy.toml or [tool.hashdeploy], HASHDEPLOY_* variables and flags, merged and checked."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import Field
from pathlib import Path
from typing import Any

from hashdeploy.errors import ConfigError
from hashdeploy.settings import Settings, options

# the words a boolean setting may be written as (environment variables, HASHDEPLOY_DEPLOY)
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_list(raw: str) -> tuple[str, ...]:
    """A list from an environment variable: a JSON array of strings, else one item per line (commas never split).

    A value that opens like a JSON array but is not one (a regex such as `[.-][0-9a-f]{8}`) is one item.
    """
    if raw.lstrip().startswith("["):
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise ValueError(raw)
            return tuple(value)
    return tuple(line.strip() for line in raw.splitlines() if line.strip())


def coerce(f: Field[Any], value: Any, errors: list[str], source: str) -> Any:
    """Turn a value from a file, the environment or a plugin into the setting's type, or note why not."""
    kind = f.metadata["kind"]
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in TRUE_WORDS + FALSE_WORDS:
                    raise ValueError(value)
                return low in TRUE_WORDS
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind is int or kind is float:
            if isinstance(value, bool) or (kind is int and isinstance(value, float)):
                raise ValueError(value)
            return kind(value)
        if kind is tuple:
            if isinstance(value, str):
                return env_list(value)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(value)
            return tuple(value)
        if kind is Path:
            if not isinstance(value, str | Path):
                raise ValueError(value)
            return Path(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError):
        name = "list of strings" if kind is tuple else kind.__name__
        errors.append(f"Config value '{f.name}' from {source}: {value!r} is not a valid {name}")
        return None


def file_settings(directory: Path) -> tuple[dict[str, Any], str]:
    """Read [tool.hashdeploy] from pyproject.toml or the top level of hashdeploy.toml in directory."""
    for name, table in (("hashdeploy.toml", None), ("pyproject.toml", ("tool", "hashdeploy"))):
        path = directory / name
        if not path.is_file():
            continue
        import tomllib  # only when there is a file to read: most runs have none

        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file") from None
        for part in table or ():
            data = data.get(part, {}) if isinstance(data, dict) else {}
        if data:
            return dict(data), str(path)
    return {}, ""


def load_settings(site: Path, flags: Mapping[str, Any], env: Mapping[str, str] | None = None,
                  directory: Path | None = None) -> Settings:
    """Merge defaults < toml file < HASHDEPLOY_* environment < flags (None = unset) and validate all at once."""
    env = os.environ if env is None else env
    errors: list[str] = []
    merged: dict[str, Any] = {}
    known = {f.name: f for f in options()}
    from_file, file_name = file_settings(directory or Path.cwd())
    for key, value in from_file.items():
        name = key.replace("-", "_")
        if name not in known:
            errors.append(f"Config value '{key}' in {file_name}: unknown setting (known: {', '.join(sorted(known))})")
            continue
        merged[name] = coerce(known[name], value, errors, file_name)
    for name, f in known.items():
        value = env.get("HASHDEPLOY_" + name.upper())
        if value is not None and value != "":
            merged[name] = coerce(f, value, errors, "HASHDEPLOY_" + name.upper())
    for name, value in flags.items():
        if value is not None and name in known:
            merged[name] = tuple(value) if isinstance(value, list) else value
    try:
        s = Settings(site=site, **{k: v for k, v in merged.items() if v is not None})
    except ConfigError as exc:
        errors.append(str(exc))
    if errors:
        raise ConfigError("; ".join(errors))
    return s
