"""Command-line flags made from the settings schema: one flag per setting a command accepts, never written by hand."""

from __future__ import annotations

import argparse
from dataclasses import Field
from pathlib import Path
from typing import Any

from hashdeploy.settings import SCOPES, default_of, options

# Sections of --help, in order: the first group whose names hold a setting shows it.
_GROUPS = (
    ("deploy target", {"target", "bucket", "prefix", "distribution_id", "endpoint_url", "profile", "region",
                       "origin_path", "max_attempts"}),
    ("watch", {"quiet_period", "invalidation_interval"}),
    ("prune", {"keep", "older_than", "max_deletes", "delete_removed"}),
)
_PUBLISH = {"workers", "acl", "hashed_cache_control", "stable_cache_control", "cache_control", "invalidation_budget",
            "invalidation_patience", "wait", "wait_timeout", "rollback_copies", "verify"}


def flag_of(f: Field[Any]) -> str:
    """The setting's flag: declared, or --name-with-dashes."""
    return str(f.metadata["flag"] or "--" + f.name.replace("_", "-"))


def _help(f: Field[Any]) -> str:
    shown: str | None = f.metadata["show"]
    default = default_of(f)
    if shown is None and default not in (None, (), False, True, ""):
        shown = str(default)
    return str(f.metadata["help"]) + (f" (default: {shown.strip('`')})" if shown else "")


def add_settings(parser: argparse.ArgumentParser, scope: str, *, also: tuple[str, ...] = ()) -> None:
    """Add a flag for every setting that `scope` (or a scope in `also`) accepts, grouped for --help."""
    groups: dict[str, argparse._ArgumentGroup] = {}

    def group(name: str) -> argparse._ArgumentGroup:
        if name not in groups:
            groups[name] = parser.add_argument_group(name)
        return groups[name]

    seen: set[str] = set()
    for s in (scope, *also):
        for f in options(s):
            if f.name in seen:
                continue
            seen.add(f.name)
            title = next((t for t, names in _GROUPS if f.name in names),
                         "publishing" if f.name in _PUBLISH else "processing")
            _add(group(title), f)


def _add(g: argparse._ArgumentGroup, f: Field[Any]) -> None:
    kind = f.metadata["kind"]
    flag, meta = flag_of(f), f.metadata["metavar"]
    if kind is bool:
        action = "store_false" if default_of(f) is True else "store_true"
        g.add_argument(flag, dest=f.name, action=action, default=None, help=_help(f))
    elif kind is tuple:
        g.add_argument(flag, dest=f.name, action="append", metavar=meta, help=_help(f))
    else:
        conv = {int: int, float: float, Path: Path}.get(kind, str)
        g.add_argument(flag, dest=f.name, type=conv, metavar=meta, help=_help(f))


def flags_from(args: argparse.Namespace, scope: str) -> dict[str, Any]:
    """The settings given as flags (None = not given), for load_settings."""
    return {f.name: getattr(args, f.name, None) for f in options(scope)}


def settings_table() -> str:
    """The README's settings reference, made from the schema (`./dev docs` writes it, a test compares it)."""
    rows = ["| setting | flag | environment | default | accepted by | what |", "|---|---|---|---|---|---|"]
    for f in options():
        shown = f.metadata["show"]
        default = default_of(f)
        if shown is None:
            shown = "–" if default in (None, ()) else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        scope = ", ".join(s for s in SCOPES if s in f.metadata["scope"])
        kind = f.metadata["kind"]
        flag = flag_of(f) + (f" {f.metadata['metavar'] or f.name.upper()}" if kind is not bool else "")
        env = f"`HASHDEPLOY_{f.name.upper()}`" + (" (list)" if kind is tuple else "")
        rows.append(f"| `{f.name}` | `{flag}` | {env} | {shown} | {scope} | {f.metadata['help']} |")
    return "\n".join(rows) + "\n"
