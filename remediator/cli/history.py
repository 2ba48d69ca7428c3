"""`remediator history [TARGET] [--since 24h] [--json]`: what remediator decided, what came of
it, and what operators did, newest first (SPEC section 11).

From the running daemon (`GET /api/v1/history`) when its listener answers, else from the
ledger directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlencode

from remediator.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Subparsers, add_config_argument
from remediator.config.loader import Config

MAX_LIMIT = 10_000  # as the API's (http/history.py, not imported here: --help stays fast)


def history(args: argparse.Namespace) -> int:
    """Print the history; the exit code."""
    import requests

    from remediator import logs
    from remediator.cli.common import load
    from remediator.cli.operator import DaemonApi
    from remediator.errors import RemediatorError
    from remediator.timetext import parse_since

    config = load(args.config, secrets=False)
    if config is None:
        return EXIT_USAGE
    try:
        parse_since(args.since, 0.0)
        if not 1 <= args.limit <= MAX_LIMIT:
            raise ValueError(f"--limit must be 1 to {MAX_LIMIT}")
    except ValueError as exc:
        print(f"remediator history: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.setup("ERROR", sys.stderr, json_lines=False)
    daemon = DaemonApi(config, None)
    query = {"since": args.since, "limit": args.limit}
    if args.target:
        query["target"] = args.target
    try:
        if daemon.running():
            entries: list[dict[str, Any]] = daemon.get_list(f"/api/v1/history?{urlencode(query)}")
            source = f"the daemon at {daemon.base}"
        else:
            entries = _from_ledger(config, args)
            source = "the ledger (the daemon is not running)"
    except (RemediatorError, ValueError) as exc:
        print(f"remediator history: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except requests.RequestException as exc:
        print(f"remediator history: the daemon did not answer: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(entries, indent=2, sort_keys=True))
        return EXIT_OK
    whose = f" of {args.target}" if args.target else ""
    print(f"history{whose} since {args.since}, newest first — from {source}")
    for entry in entries:
        print(render(entry))
    if not entries:
        print("(nothing)")
    return EXIT_OK


def _from_ledger(config: Config, args: argparse.Namespace) -> list[dict[str, Any]]:
    from remediator.clock import SystemClock
    from remediator.runtime.history import view
    from remediator.store import open_ledger

    ledger = open_ledger(
        path=config.state.path, url=config.state.url, source=config.path, exclusive=False
    )
    try:
        return view(ledger, args.target, args.since, args.limit, SystemClock().now())
    finally:
        ledger.close()


def render(e: dict[str, Any]) -> str:
    """One entry on one line: when, which target, and what happened, with why."""
    radius = f" [{e['blast_radius']}]" if e.get("blast_radius") else ""
    action = f" {e['action']}{radius}" if e.get("action") else ""
    detail = f": {e['detail']}" if e.get("detail") else ""
    match e["kind"]:
        case "decision":
            what = f"{e['rule']}: {e['outcome']} ({e['reason']}){action}{detail}"
        case "action":
            what = f"{e['rule']}:{action} sent, {e['outcome']}{detail}"
        case "remediation":
            what = f"{e['rule']}: {e['outcome']} after{action}{detail}"
        case "breaker":
            what = f"{e['rule']}: breaker {e['outcome']}{detail}"
        case "operator":
            why = e.get("reason") or "no reason given"
            more = f" ({e['detail']})" if e.get("detail") else ""
            what = f"{e['outcome']}{action}{more} by {e['who']}: {why}"
        case _:
            what = f"{e['kind']} {e['outcome']}{detail}"
    return f"{e['time']}  {e['target']}  {what}"


def add_parser(sub: Subparsers) -> None:
    """The `history` subcommand."""
    p = sub.add_parser(
        "history",
        help="decisions, outcomes and operator acts from the ledger, newest first",
        description="What remediator decided (acted, suppressed — once per trip —, shadow, "
        "awaiting approval) and why, what came of each action, and every pause, resume and "
        "restart with who did it and why. From the running daemon when its listener answers, "
        "else from the ledger. Kept for state.retention (default 90d).",
    )
    p.add_argument("target", nargs="?", help="only this target (and acts on every target)")
    add_config_argument(p)
    p.add_argument(
        "--since",
        default="24h",
        help="how far back: a duration (24h, 7d), an RFC 3339 time or epoch seconds; default 24h",
    )
    p.add_argument("--limit", type=int, default=1000, help="at most this many entries (1000)")
    p.add_argument("--json", action="store_true", help="the same data as /api/v1/history")
    p.set_defaults(handler=history)
