"""`remediator approvals`, `approve ID --reason TEXT`, `deny ID --reason TEXT` (SPEC section 10).

Like the other operator commands, they ask the running daemon when its listener answers
(`GET /api/v1/approvals`, `POST /api/v1/approvals/{id}` with `server.admin_token`), so that
its engine decides; with no daemon running they work on the ledger through the same engine
and guards. Who answered is the local user and host, kept in the ledger and the log.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from remediator import logs
from remediator.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Subparsers, add_config_argument
from remediator.errors import ConfigError, RemediatorError

if TYPE_CHECKING:
    from remediator.cli.operator import DaemonApi
    from remediator.config.loader import Config

LIST = "/api/v1/approvals"


def who() -> str:
    """The person answering, as `user@host` (the admin token says only that they may)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run(args: argparse.Namespace) -> int:
    """`approvals`, `approve` or `deny`; returns the exit code."""
    import requests

    from remediator.cli.operator import DaemonApi
    from remediator.config.loader import load_config, resolve_secrets

    try:
        config = load_config(args.config)
        secrets = resolve_secrets(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"remediator: cannot read the configuration {args.config}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    listing = args.command == "approvals"
    logs.setup("ERROR" if listing else "WARNING", sys.stderr, json_lines=False)
    daemon = DaemonApi(config, secrets.admin_token.reveal() if secrets.admin_token else None)
    try:
        if listing:
            return _list(args, config, daemon)
        return _answer(args, config, daemon)
    except (RemediatorError, ValueError, LookupError) as exc:
        print(f"remediator {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except requests.RequestException as exc:
        print(f"remediator {args.command}: the daemon did not answer: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _list(args: argparse.Namespace, config: Config, daemon: DaemonApi) -> int:
    from remediator.cli.operator import _offline

    if daemon.running():
        reply = daemon.session.get(daemon.base + LIST, timeout=10)
        reply.raise_for_status()
        pending: list[dict[str, Any]] = reply.json()
    else:
        local = _offline(config, exclusive=False)
        try:
            pending = local.operator.approvals()
        finally:
            local.close()
    if args.json:
        print(json.dumps(pending, indent=2, sort_keys=True))
    else:
        print(render_list(pending))
    return EXIT_OK


def _answer(args: argparse.Namespace, config: Config, daemon: DaemonApi) -> int:
    from remediator.cli.operator import _offline

    approve = args.command == "approve"
    by = who()
    if daemon.running():
        body = {"decision": args.command, "reason": args.reason, "by": by}
        result = daemon.post(f"{LIST}/{args.id}", body)
        via = "the running daemon"
    else:
        local = _offline(config)
        try:
            result = local.operator.answer(args.id, approve, args.reason, by)
        finally:
            local.close()
        via = "the ledger (no daemon running)"
    print(render_answer(result, via))
    return EXIT_OK


def render_list(pending: list[dict[str, Any]]) -> str:
    """The pending approvals, one paragraph each; or that there are none."""
    if not pending:
        return "no approval is waiting"
    lines: list[str] = []
    for a in pending:
        lines += [
            f"{a['id']}  {a['action']} on {a['target']} (cluster {a.get('cluster_no', '?')}, "
            f"blast radius {a['blast_radius']}), rule {a['rule']}; expires {a['expires_at']}",
            f"  why: {a['reason']}",
            f"  remediator approve {a['id']} --reason '...'   |   "
            f"remediator deny {a['id']} --reason '...'",
        ]
    return "\n".join(lines)


def render_answer(r: dict[str, Any], via: str) -> str:
    """What the answer did: the approval settled, and (approved) what the look decided."""
    verb = "approved" if r["decision"] == "approve" else "denied"
    line = (
        f"{verb} {r['id']}: {r['action']} on {r['target']} (blast radius {r['blast_radius']}), "
        f"as {r['by']}, via {via}"
    )
    if r["decision"] == "approve":
        outcome = r.get("outcome", "pending")
        line += f"\n  then {outcome}" + (f" ({r['reason']})" if outcome == "suppressed" else "")
        if r.get("detail"):
            line += f": {r['detail']}"
    return line


def add_parsers(sub: Subparsers) -> None:
    """The approval subcommands: approvals, approve, deny."""
    via = (
        " A running daemon is asked through its API (answers need server.admin_token); with "
        "none running, the ledger is used directly."
    )
    p = sub.add_parser(
        "approvals",
        help="the approvals waiting for a human's answer (rules with mode: approve)",
        description="List the pending approvals: what each would send, where, how far it "
        "reaches, why, and when it expires." + via,
    )
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="the same list as GET /api/v1/approvals")
    p.set_defaults(handler=run)
    for name, what in (
        ("approve", "let a pending approval's action go ahead, after every check runs again"),
        ("deny", "refuse a pending approval's action (the rule is not asked again for a cooldown)"),
    ):
        p = sub.add_parser(name, help=what, description=what[0].upper() + what[1:] + "." + via)
        p.add_argument("id", help="the approval's id (remediator approvals lists them)")
        add_config_argument(p)
        p.add_argument("--reason", required=True, help="why (kept in the ledger and the log)")
        p.set_defaults(handler=run)
