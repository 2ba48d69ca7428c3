"""`remediator check`: validate the configuration and its rules, as `run` would load them."""

from __future__ import annotations

import argparse
import sys

from remediator.cli.common import EXIT_OK, EXIT_USAGE, Subparsers, add_config_argument, load
from remediator.config.notifymodel import NOTIFY_EVENTS
from remediator.core.rules import Rule, action_summary


def add_parser(sub: Subparsers) -> None:
    """The `check` subcommand."""
    p = sub.add_parser(
        "check",
        help="validate the configuration and its rules files",
        description="Validate the configuration and the rules files it names, and check that "
        "every secret it refers to can be read. Exit 0 and say, per rule, every action it may "
        "send and how far each reaches; or exit 2 with one line per problem: "
        "FILE:LINE: key.path: message.",
    )
    add_config_argument(p)
    p.add_argument(
        "--no-secrets",
        action="store_true",
        help="do not read the secrets (validate the files only, e.g. in CI)",
    )
    p.set_defaults(handler=check)


def check(args: argparse.Namespace) -> int:
    config = load(args.config, secrets=not args.no_secrets)
    if config is None:
        return EXIT_USAGE
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if config.state.url is not None:
        try:  # what `run` will need for it (the `postgres` extra)
            import psycopg  # noqa: F401
        except ImportError as exc:
            print(
                f"{config.path}: state.url: needs psycopg ({exc}): "
                "pip install 'remediator[postgres]'",
                file=sys.stderr,
            )
            return EXIT_USAGE
    print(f"OK: {len(config.targets)} targets, {len(config.rules)} rules")
    for rule in config.policy().rules:
        print(worst_case_line(rule))
    for sink in config.notify:
        events = "every event" if set(sink.events) == set(NOTIFY_EVENTS) else ", ".join(sink.events)
        print(f"notify {sink.name} ({sink.kind}, targets {', '.join(sink.targets)}): {events}")
    return EXIT_OK


def worst_case_line(rule: Rule) -> str:
    """What `rule` may do at worst (SPEC section 9): every action it may send, in order."""
    line = f"{rule.name}: " + " → ".join(action_summary(a) for a in rule.remedies)
    if rule.mode == "approve":
        line += "; each step waits for a human's approval (mode approve)"
    return line
