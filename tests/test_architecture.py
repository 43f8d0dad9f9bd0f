from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "hashdeploy"
ADAPTER_LIBS = ("boto3", "botocore", "s3transfer", "mkdocs", "watchdog", "sphinx", "pelican")
# the only module of the package allowed to import each adapter library
OWNERS = {"boto3": "backends/s3.py", "botocore": "backends/s3.py", "s3transfer": "backends/s3.py",
          "mkdocs": "integrations/mkdocs.py", "watchdog": "watch/observer.py", "sphinx": "integrations/sphinx.py",
          "pelican": "integrations/pelican.py"}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module imported anywhere in a file (lazily inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_adapters() -> None:
    code = ("import sys, hashdeploy, hashdeploy.engine, hashdeploy.publish.run, hashdeploy.publish.rollback, "
            "hashdeploy.publish.prune, hashdeploy.cli.main, hashdeploy.backends, hashdeploy.backends.local; "
            "print(sorted(m for m in ('boto3', 'botocore', 'mkdocs', 'watchdog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_each_adapter_library_is_imported_by_one_module_only() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for lib in _imports(path) & set(ADAPTER_LIBS):
            if OWNERS[lib] != rel:
                offenders.append(f"{rel} imports {lib}")
    assert offenders == []


def test_engine_and_publish_import_no_adapter_folder() -> None:
    """The offline engine and publishing never reach into the command line, watch or the integrations."""
    offenders = []
    for folder in ("engine", "publish"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                        ("hashdeploy.cli", "hashdeploy.watch", "hashdeploy.integrations", "hashdeploy.backends.s3")):
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {node.module}")
    assert offenders == []


def test_layout_limits() -> None:
    """At most 10 modules at the top of the package, none over 300 lines, each opening with what it is."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 10, top
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PACKAGE)
        assert text.count("\n") <= 300, f"{rel}: {text.count(chr(10))} lines"
        doc = ast.get_docstring(ast.parse(text))
        assert doc and len(doc.splitlines()[0]) > 20, f"{rel}: the first line must say what the module is"


def test_help_does_not_import_the_engine() -> None:
    code = "import sys; from hashdeploy.cli.build import parser; parser(); print('bs4' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
