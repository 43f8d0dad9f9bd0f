"""Outputs processed again (Sphinx's and Pelican's incremental builds): a hashed copy whose source was written again yields to it.

A site generator that builds into an output hashdeploy already processed writes its original files again
(`_static/custom.css`) next to the hashed copies of the last run (`_static/custom.3f2a9c0e11d4.css`), and the pages it
did not rebuild still name those copies. The copy is then stale or a duplicate: references to it are references to
the source, which gets its name from its current bytes, and the copy itself is not carried over. A copy whose source
was not written again is still the current file and stays, as on any re-run over hashdeploy's own output.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hashdeploy.model import Asset, FileClass, Ref


def superseded(assets: list[Asset], prior: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Hashed key -> its source key, for every hashed copy of the last run whose source is present again."""
    present = {a.key for a in assets}
    out: dict[str, str] = {}
    for key, entry in prior.items():
        source = entry.get("source")
        if entry.get("class") == FileClass.HASHED.value and isinstance(source, str) and source != key \
                and key in present and source in present:
            out[key] = source
    return out


def retarget(refs: dict[str, list[Ref]], aliases: dict[str, str]) -> dict[str, list[Ref]]:
    """References to a superseded copy point at its source instead."""
    if not aliases:
        return refs
    return {k: [dataclasses.replace(r, target=aliases[r.target]) if r.target in aliases else r for r in rs]
            for k, rs in refs.items()}
