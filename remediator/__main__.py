"""The command line: the subcommands of SPEC section 4 and their exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from remediator import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def _sandbox(args: argparse.Namespace) -> int:
    from remediator.sandbox.cli import main as sandbox_main

    return sandbox_main(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `remediator`."""
    parser = argparse.ArgumentParser(
        prog="remediator",
        description="Safe auto-remediation for CMAK / Kafka-UI on NAVER Cloud CDSS.",
    )
    parser.add_argument("--version", action="version", version=f"remediator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from remediator.sandbox.cli import add_arguments as sandbox_arguments

    p = sub.add_parser(
        "sandbox",
        help="run the local CDSS simulator (signed gateway, clusters, CMAK / Kafka-UI, faults)",
        description="Run the local CDSS simulator for rehearsing rules: a gateway that verifies "
        "signature v2 and the timestamp window, cluster state, CMAK and Kafka-UI endpoints, "
        "and fault injection over /_sandbox/.",
    )
    sandbox_arguments(p)
    p.set_defaults(handler=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `remediator`; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
