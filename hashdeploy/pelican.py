"""`PLUGINS = ["hashdeploy.pelican"]`: the Pelican plugin's import name (the code is in integrations/pelican.py)."""

from __future__ import annotations

from hashdeploy.integrations.pelican import register

__all__ = ["register"]
