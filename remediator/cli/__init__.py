"""The command line: the subcommands of SPEC section 4 and their exit codes.

One module per subcommand (or family); each adds its parser and imports what it runs lazily,
so that `remediator --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from remediator import __version__
from remediator.cli import approvals, check, discover, explain, history, operator, rehearse, run
from remediator.cli.common import EXIT_OK, EXIT_USAGE, Handler

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `remediator`."""
    parser = argparse.ArgumentParser(
        prog="remediator",
        description="Safe auto-remediation for CMAK / Kafka-UI on NAVER Cloud CDSS.",
    )
    parser.add_argument("--version", action="version", version=f"remediator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check.add_parser(sub)
    run.add_parser(sub)
    operator.add_parsers(sub)
    approvals.add_parsers(sub)
    explain.add_parser(sub)
    history.add_parser(sub)
    rehearse.add_parsers(sub)
    discover.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `remediator`; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except BrokenPipeError:
        # The reader stopped reading (`remediator explain ... | head -1`): nothing failed
        # here. stdout goes to /dev/null so that the interpreter's last flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
