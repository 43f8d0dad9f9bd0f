"""`hashdeploy` dispatch: picks the command, and is the one place that turns a failure into a line and an exit code."""

from __future__ import annotations

import signal
import sys

from hashdeploy.errors import one_line
from hashdeploy.publish import interrupt

LIFECYCLE = ("history", "rollback", "prune")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command; an expected failure prints one line `ClassName: message` (--debug: traceback).

    SIGINT, SIGTERM and SIGHUP end any command like Ctrl-C: no new request starts, the lock is released, one line
    says what state the live site is in, and the exit code is 128 + the signal's number (130, 143, 129).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    interrupt.reset()
    restore = interrupt.install()
    try:
        if args and args[0] in LIFECYCLE:
            from hashdeploy.cli.lifecycle import run as run_lifecycle

            return run_lifecycle(args)
        if args and args[0] == "doctor":
            from hashdeploy.cli.doctor import run as run_doctor

            return run_doctor(args[1:])
        from hashdeploy.cli.build import run

        return run(args)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, interrupt.Interrupted) else interrupt.signalled() or signal.SIGINT
        if interrupt.operation() is None:  # a build: SITE and OUT are as they were (in-place updates are atomic)
            print("interrupted; nothing was changed", file=sys.stderr)
        else:
            print(f"interrupted ({signal.Signals(signum).name}): {interrupt.describe()}", file=sys.stderr)
        return 128 + signum
    except Exception as exc:
        failure = one_line(exc)
        if failure is None or "--debug" in args:
            raise
        print(failure[0], file=sys.stderr)
        return failure[1]
    finally:
        restore()
