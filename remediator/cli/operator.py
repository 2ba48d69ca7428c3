"""The operator commands: status, pause, resume, restart.

When the daemon runs (its listener answers), they talk to it — status reads
`/api/v1/status`, mutations go to its admin API with `server.admin_token` — so that its
engine decides. When it does not run, they work on the ledger directly, through the same
engine and guards (the daemon's parts, built by `remediator.runtime.wiring`), so that a restart
or a pause made during an outage is still recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remediator import logs
from remediator.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Subparsers, add_config_argument
from remediator.cli.statustable import render_status
from remediator.config.loader import Config, load_config, resolve_secrets
from remediator.config.model import DEFAULT_STATE_PATH
from remediator.errors import ConfigError, RemediatorError
from remediator.timetext import parse_duration

if TYPE_CHECKING:
    from remediator.runtime.wiring import Parts


class DaemonApi:
    """A running daemon's HTTP API, if one answers at the configured listener."""

    def __init__(self, config: Config, token: str | None) -> None:
        host = config.server.host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard bind, reached on loopback
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        self.base = f"http://{host}:{config.server.port}"
        self.token = token
        import requests

        self.session = requests.Session()
        self.session.trust_env = False

    def running(self) -> bool:
        """Whether a remediator answers on the listener (healthy or not, it owns the ledger)."""
        import requests

        try:
            resp = self.session.get(f"{self.base}/-/healthy", timeout=2)
            return "healthy" in resp.json()
        except (requests.RequestException, ValueError):
            return False

    def get(self, path: str) -> dict[str, Any]:
        resp = self.session.get(self.base + path, timeout=10)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def get_list(self, path: str) -> list[dict[str, Any]]:
        resp = self.session.get(self.base + path, timeout=10)
        if resp.status_code == 400:
            raise ValueError(resp.json().get("error", "bad request"))
        resp.raise_for_status()
        data: list[dict[str, Any]] = resp.json()
        return data

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.token is None:
            raise RemediatorError(
                "the daemon is running: operator commands must go through it, and that needs "
                "server.admin_token in the configuration (the same token on both sides)"
            )
        resp = self.session.post(
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        data: dict[str, Any] = resp.json()
        if resp.status_code != 200:
            raise RemediatorError(f"the daemon refused: {data.get('error', resp.status_code)}")
        return data


def operate(args: argparse.Namespace) -> int:
    """Run one operator command; returns the exit code."""
    import requests

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
    # Status is a read: keep the ledger's restore notes out of it. Mutations say what they do.
    logs.setup("ERROR" if args.command == "status" else "WARNING", sys.stderr, json_lines=False)
    if args.command != "status":
        misuse = _misuse(args, config)
        if misuse is not None:
            print(f"remediator {args.command}: {misuse}", file=sys.stderr)
            return EXIT_USAGE
    token = secrets.admin_token.reveal() if secrets.admin_token else None
    daemon = DaemonApi(config, token)
    try:
        if args.command == "status":
            return _status(args, config, daemon)
        return _mutate(args, config, daemon)
    except (RemediatorError, ValueError) as exc:
        print(f"remediator {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except requests.RequestException as exc:
        print(f"remediator {args.command}: the daemon did not answer: {exc}", file=sys.stderr)
        return EXIT_FAILURE


# The longest pause: a maintenance window, not a way to switch remediation off for good.
MAX_PAUSE = 366 * 86400


def _misuse(args: argparse.Namespace, config: Config) -> str | None:
    """What is wrong with the command line itself (exit 2), before anything is done."""
    target = getattr(args, "target", None)
    if target is not None and config.target(target) is None:
        known = ", ".join(t.name for t in config.targets) or "none"
        return f"unknown target {target!r} (configured: {known})"
    if args.command == "pause":
        try:
            seconds = parse_duration(args.duration)
        except ValueError as exc:
            return f"--for: {exc}"
        if not 1 <= seconds <= MAX_PAUSE:
            return "--for: a pause lasts from 1s to 366d"
    return None


def _offline(config: Config, *, exclusive: bool = True) -> Parts:
    """The daemon's parts on the ledger, not started, with work carried out in this thread
    (`exclusive=False`: only to read, beside a daemon that holds a PostgreSQL ledger)."""
    from prometheus_client import CollectorRegistry

    from remediator.clock import SystemClock
    from remediator.runtime.executors import DeferredExecutor
    from remediator.runtime.wiring import build
    from remediator.store import open_ledger

    path = Path(config.state.path or DEFAULT_STATE_PATH)
    if config.state.url is None and not path.parent.exists():
        raise RemediatorError(f"no ledger directory {path.parent} (has the daemon ever run?)")
    ledger = open_ledger(
        path=config.state.path, url=config.state.url, source=config.path, exclusive=exclusive
    )
    try:
        return build(
            config,
            clock=SystemClock(),
            registry=CollectorRegistry(),
            executor=DeferredExecutor(),
            ledger=ledger,
        )
    except BaseException:
        ledger.close()
        raise


def _status(args: argparse.Namespace, config: Config, daemon: DaemonApi) -> int:
    if daemon.running():
        data = daemon.get("/api/v1/status")
        data["source"] = f"daemon at {daemon.base}"
    else:
        from remediator.clock import SystemClock
        from remediator.runtime.status import status

        local = _offline(config, exclusive=False)
        try:
            data = status(local.driver, SystemClock().now())
        finally:
            local.close()
        data["source"] = "ledger (the daemon is not running: health is unknown)"
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(render_status(data))
    return EXIT_OK


def _mutate(args: argparse.Namespace, config: Config, daemon: DaemonApi) -> int:
    from remediator.runtime.history import cli_actor, os_user

    target = None if getattr(args, "all", False) else args.target
    if args.command == "pause":
        body: dict[str, Any] = {
            "target": target,
            "seconds": parse_duration(args.duration),
            "reason": args.reason,
        }
        path = "/api/v1/pause"
    elif args.command == "resume":
        body = {"target": target, "reset_breaker": args.reset_breaker, "reason": args.reason}
        path = "/api/v1/resume"
    else:
        body = {
            "target": args.target,
            "action": args.action,
            "reason": args.reason,
            "force": args.force,
            "reset_breaker": args.reset_breaker,
            "dry_run": args.dry_run,
            "allow_fallback": args.allow_fallback,
        }
        path = "/api/v1/restart"
        print(_plan(args, config))
    if daemon.running():
        result = daemon.post(path, {**body, "actor": os_user()})
        via = "the running daemon"
    else:
        local = _offline(config)
        who = cli_actor()
        try:
            op = local.operator
            if args.command == "pause":
                result = op.pause(body["target"], body["seconds"], body["reason"], actor=who)
            elif args.command == "resume":
                result = op.resume(
                    body["target"], body["reset_breaker"], reason=body["reason"], actor=who
                )
            else:
                result = op.restart(
                    body["target"],
                    body["action"],
                    body["reason"],
                    force=body["force"],
                    reset_breaker=body["reset_breaker"],
                    dry_run=body["dry_run"],
                    allow_fallback=body["allow_fallback"],
                    actor=who,
                )
                if result.get("outcome") == "acted" and "remediation" not in result:
                    result["note"] = "sent; the daemon verifies the recovery when it next runs"
        finally:
            local.close()
        via = "the ledger (no daemon running)"
    print(render_result(args.command, result, via))
    if args.command == "restart" and result.get("outcome") not in ("acted", "shadow"):
        return EXIT_FAILURE
    if args.command == "restart" and result.get("remediation") == "not_recovered":
        return EXIT_FAILURE  # sent, and refused or failed at once
    return EXIT_OK


def _plan(args: argparse.Namespace, config: Config) -> str:
    """Before a manual restart: the action that will really be sent, and its blast radius."""
    from remediator.core.rules import manual_plan

    action = args.action
    if action is None:
        rules = config.policy().rules_for(args.target)
        if not rules:
            return f"restart {args.target}: no rule applies; name the action with --action"
        action = rules[0].action
    plan = manual_plan(action, allow_fallback=args.allow_fallback, dry_run=args.dry_run)
    return f"restart {args.target}: {plan}"


def render_result(command: str, r: dict[str, Any], via: str) -> str:
    """One or two lines saying what happened."""
    if command == "pause":
        return f"paused {r['paused']} until {r['until']} ({r['reason']}), via {via}"
    if command == "resume":
        closed = ", ".join(r["breakers_closed"]) or "none"
        who = "every target" if r["resumed"] == "*" else r["resumed"]
        if not r.get("was_paused", True):
            nothing = "nothing was paused" if r["resumed"] == "*" else f"{who} was not paused"
            return f"{nothing}: nothing to resume (breakers closed: {closed}), via {via}"
        return f"resumed {who} (breakers closed: {closed}), via {via}"
    line = f"{r['outcome']}"
    if r.get("reason") and r["outcome"] == "suppressed":
        line += f" ({r['reason']})"
    line += f": {r['action']} on {r['target']}, via {via}"
    if r.get("detail"):
        line += f"\n  {r['detail']}"
    if r.get("remediation"):
        line += f"\n  ended {r['remediation']}: {r.get('remediation_detail', '')}"
    if r.get("note"):
        line += f"\n  {r['note']}"
    return line


def add_parsers(sub: Subparsers) -> None:
    """The operator subcommands: status, restart, pause, resume."""
    p = sub.add_parser(
        "status",
        help="targets, health, rule states, cooldowns, budgets, breakers, pauses, last actions",
        description="Show what the daemon knows: from the running daemon when its listener "
        "answers, else from the ledger (then health is unknown).",
    )
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="the same data as /api/v1/status")
    p.set_defaults(handler=operate)

    via = (
        " A running daemon is asked through its admin API (server.admin_token); with none "
        "running, the ledger is changed directly, through the same guards."
    )
    p = sub.add_parser(
        "restart",
        help="a manual restart through the same guardrails and ledger",
        description="Restart one target's cluster by hand. It goes through the same guards as "
        "an automatic restart (in progress, pause, cooldown, breaker, fleet limits, cluster "
        "status, Alertmanager silences, maintenance windows), is recorded in the ledger and "
        "verified. Exit 0 when it was sent (or would "
        "be, with --dry-run), 1 when a guard held it back." + via,
    )
    p.add_argument("target", help="the target's name")
    add_config_argument(p)
    p.add_argument("--reason", required=True, help="why (recorded and logged)")
    p.add_argument(
        "--action",
        choices=[
            "restart_cmak",
            "restart_kafka_node",
            "rolling_restart",
            "restart_kafka",
            "restart_all_services",
        ],
        help="default: the first step of the first rule for the target (a target with no rule "
        "needs one named). Narrowest first: restart_cmak (tool), restart_kafka_node (node: only "
        "the brokers that are not green), rolling_restart (rolling: one broker at a time), "
        "restart_kafka and restart_all_services (cluster: every broker at once)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="decide and record, and say what would be sent"
    )
    p.add_argument(
        "--allow-fallback",
        action="store_true",
        help="let a withdrawn restart_cmak fall back to restart_all_services (blast radius "
        "cluster: every broker and ZooKeeper restart at once); without it nothing wider is sent",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="skip the cooldown, Alertmanager silences and maintenance windows (nothing else)",
    )
    p.add_argument(
        "--reset-breaker", action="store_true", help="close the target's open breakers first"
    )
    p.set_defaults(handler=operate)

    p = sub.add_parser(
        "pause",
        help="hold every action on a target (or all) for a while",
        description="Pause remediation for maintenance; the pause expires by itself and is "
        "stored in the ledger, so it survives restarts." + via,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("target", nargs="?", help="the target's name")
    who.add_argument("--all", action="store_true", help="every target")
    add_config_argument(p)
    p.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="how long, e.g. 30m, 2h"
    )
    p.add_argument(
        "--reason", required=True, help="why (shown in status, recorded in the history, logged)"
    )
    p.set_defaults(handler=operate)

    p = sub.add_parser(
        "resume",
        help="lift a pause; --reset-breaker also closes breakers",
        description="Lift a maintenance pause before it expires." + via,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("target", nargs="?", help="the target's name")
    who.add_argument("--all", action="store_true", help="every target")
    add_config_argument(p)
    p.add_argument(
        "--reset-breaker",
        action="store_true",
        help="also close the target's open breakers (after a human has looked)",
    )
    p.add_argument("--reason", default="", help="why (recorded in the history and logged)")
    p.set_defaults(handler=operate)
