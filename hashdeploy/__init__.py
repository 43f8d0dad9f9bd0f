"""hashdeploy: content-hashed asset names for static sites, and deploys that only invalidate what changed."""

from __future__ import annotations

__version__ = "0.1.0"
