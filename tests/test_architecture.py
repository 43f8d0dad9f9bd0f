from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_core_imports_no_adapters() -> None:
    code = ("import sys, hashdeploy.pipeline, hashdeploy.cli; "
            "print(sorted(m for m in ('boto3', 'botocore', 'mkdocs', 'watchdog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_help_does_not_import_the_engine() -> None:
    code = "import sys; from hashdeploy.cli import parser; parser(); print('bs4' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
