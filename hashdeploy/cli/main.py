"""`hashdeploy` dispatch: picks the command, and is the one place that turns a failure into a line and an exit code."""

from __future__ import annotations

import sys

from hashdeploy.errors import one_line

LIFECYCLE = ("history", "rollback", "prune")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command; an expected failure prints one line `ClassName: message` (--debug: traceback)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if args and args[0] in LIFECYCLE:
            from hashdeploy.cli.lifecycle import run as run_lifecycle

            return run_lifecycle(args)
        from hashdeploy.cli.build import run

        return run(args)
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130
    except Exception as exc:
        failure = one_line(exc)
        if failure is None or "--debug" in args:
            raise
        print(failure[0], file=sys.stderr)
        return failure[1]
