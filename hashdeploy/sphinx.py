"""`extensions = ["hashdeploy.sphinx"]`: the Sphinx extension's import name (the code is in integrations/sphinx.py)."""

from __future__ import annotations

from hashdeploy.integrations.sphinx import setup

__all__ = ["setup"]
