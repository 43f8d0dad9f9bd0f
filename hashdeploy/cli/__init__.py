"""The command line: `hashdeploy SITE`, `hashdeploy history|rollback|prune` (entry point `hashdeploy.cli:main`)."""

from __future__ import annotations

from hashdeploy.cli.main import main

__all__ = ["main"]
