"""Run the command line: `python -m hashdeploy`."""

from __future__ import annotations

from hashdeploy.cli.main import main

raise SystemExit(main())
