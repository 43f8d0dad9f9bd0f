from __future__ import annotations

import re

from conftest import ROOT

from hashdeploy.cli.options import settings_table
from hashdeploy.settings import options


def test_readme_settings_table_is_the_schema() -> None:
    """The README's table is made from the schema: run `./dev docs` after changing a setting."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- settings-table:[^>]*-->\n(.*?)<!-- /settings-table -->", text, re.S)
    assert m, "README.md has no settings table markers"
    assert m.group(1) == settings_table()
    for f in options():
        assert f"| `{f.name}` |" in m.group(1)
