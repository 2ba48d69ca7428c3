"""The command line: the subcommands of SPEC section 4 and their exit codes."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from remediator import __version__
from remediator.config import (
    DEFAULT_CONFIG,
    Config,
    ConfigError,
    load_config,
    resolve_secrets,
)
from remediator.errors import LedgerUnavailable, RemediatorError

if TYPE_CHECKING:
    from remediator.store import Ledger

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def _sandbox(args: argparse.Namespace) -> int:
    from remediator.sandbox.cli import main as sandbox_main

    return sandbox_main(args)


def _demo(args: argparse.Namespace) -> int:
    from remediator.demo.scenario import main as demo_main

    return demo_main(args)


def _load(path: Path, *, secrets: bool = True) -> Config | None:
    """The configuration, or None after printing every problem to stderr."""
    try:
        config = load_config(path)
        if secrets:
            resolve_secrets(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    except OSError as exc:
        print(
            f"remediator: cannot read the configuration {path}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return None
    return config


def _check(args: argparse.Namespace) -> int:
    config = _load(args.config, secrets=not args.no_secrets)
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
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from remediator import logs
    from remediator.daemon import Daemon

    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    if args.standby and config.state.url is None:
        print(
            "remediator run: --standby needs state.url (a PostgreSQL ledger the daemons share)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logs.setup(args.log_level, json_lines=args.log_format == "json")
    try:
        ledger = None
        if args.standby:
            ledger, config = _stand_by(args, config)
            if ledger is None:
                return EXIT_OK  # stopped while standing by
        daemon = Daemon(
            config, dry_run=args.dry_run, record_events=args.record_events, ledger=ledger
        )
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except LedgerUnavailable as exc:  # a database down or held: systemd may try again
        print(f"remediator: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except RemediatorError as exc:
        print(f"remediator: cannot start: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"remediator: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return daemon.run()
    except OSError as exc:  # the listener's address is taken, most often
        print(f"remediator: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _stand_by(args: argparse.Namespace, config: Config) -> tuple[Ledger | None, Config]:
    """`run --standby`: wait for the ledger (see remediator.standby); with it, the config to
    run, read again if SIGHUP came meanwhile."""
    from remediator.clock import SystemClock
    from remediator.notify import Notifier
    from remediator.standby import wait_for_ledger

    stop, hup = threading.Event(), threading.Event()

    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        hup.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    ledger = wait_for_ledger(config, stop=stop, notifier=Notifier(), clock=SystemClock())
    if ledger is not None and hup.is_set():
        log = logging.getLogger("remediator.daemon")
        fresh = _load(args.config)  # an invalid one is reported on stderr
        if fresh is None:
            log.error(
                "SIGHUP while standing by: the new configuration is invalid; "
                "running the one read at start"
            )
        elif fresh.state != config.state:
            log.error(
                "SIGHUP while standing by: the new configuration names another ledger; "
                "running the one read at start"
            )
        else:
            log.info("SIGHUP while standing by: running the configuration as it is now")
            config = fresh
    return ledger, config


def _explain(args: argparse.Namespace) -> int:
    from remediator.replay import main as explain_main

    return explain_main(args.config, args.events, verbose=args.verbose, as_json=args.json)


def _ops(args: argparse.Namespace) -> int:
    from remediator.ops import main as ops_main

    return ops_main(args)


def _add_ops_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "status",
        help="targets, health, rule states, cooldowns, budgets, breakers, pauses, last actions",
        description="Show what the daemon knows: from the running daemon when its listener "
        "answers, else from the ledger (then health is unknown).",
    )
    _add_config_argument(p)
    p.add_argument("--json", action="store_true", help="the same data as /api/v1/status")
    p.set_defaults(handler=_ops)

    via = (
        " A running daemon is asked through its admin API (server.admin_token); with none "
        "running, the ledger is changed directly, through the same guards."
    )
    p = sub.add_parser(
        "restart",
        help="a manual restart through the same guardrails and ledger",
        description="Restart one target's cluster by hand. It goes through the same guards as "
        "an automatic restart (in progress, pause, cooldown, breaker, fleet limits, cluster "
        "status), is recorded in the ledger and verified. Exit 0 when it was sent (or would "
        "be, with --dry-run), 1 when a guard held it back." + via,
    )
    p.add_argument("target", help="the target's name")
    _add_config_argument(p)
    p.add_argument("--reason", required=True, help="why (recorded and logged)")
    p.add_argument(
        "--action",
        choices=["restart_cmak", "restart_all_services", "restart_kafka"],
        help="default: the action of the first rule for the target, else restart_all_services",
    )
    p.add_argument("--dry-run", action="store_true", help="decide and record, send nothing")
    p.add_argument("--force", action="store_true", help="skip the cooldown (only the cooldown)")
    p.add_argument(
        "--reset-breaker", action="store_true", help="close the target's open breakers first"
    )
    p.set_defaults(handler=_ops)

    p = sub.add_parser(
        "pause",
        help="hold every action on a target (or all) for a while",
        description="Pause remediation for maintenance; the pause expires by itself and is "
        "stored in the ledger, so it survives restarts." + via,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("target", nargs="?", help="the target's name")
    who.add_argument("--all", action="store_true", help="every target")
    _add_config_argument(p)
    p.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="how long, e.g. 30m, 2h"
    )
    p.add_argument("--reason", required=True, help="why (recorded and shown in status)")
    p.set_defaults(handler=_ops)

    p = sub.add_parser(
        "resume",
        help="lift a pause; --reset-breaker also closes breakers",
        description="Lift a maintenance pause before it expires." + via,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("target", nargs="?", help="the target's name")
    who.add_argument("--all", action="store_true", help="every target")
    _add_config_argument(p)
    p.add_argument(
        "--reset-breaker",
        action="store_true",
        help="also close the target's open breakers (after a human has looked)",
    )
    p.set_defaults(handler=_ops)


def _add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="CONFIG",
        help=f"the main configuration file (default {DEFAULT_CONFIG})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `remediator`."""
    parser = argparse.ArgumentParser(
        prog="remediator",
        description="Safe auto-remediation for CMAK / Kafka-UI on NAVER Cloud CDSS.",
    )
    parser.add_argument("--version", action="version", version=f"remediator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "check",
        help="validate the configuration and its rules files",
        description="Validate the configuration and the rules files it names, and check that "
        "every secret it refers to can be read. Exit 0, or 2 with one line per problem: "
        "FILE:LINE: key.path: message.",
    )
    _add_config_argument(p)
    p.add_argument(
        "--no-secrets",
        action="store_true",
        help="do not read the secrets (validate the files only, e.g. in CI)",
    )
    p.set_defaults(handler=_check)

    p = sub.add_parser(
        "run",
        help="run the daemon in the foreground (systemd Type=notify)",
        description="Run the daemon: probe every target, evaluate the rules, and carry out "
        "guarded, verified, signed restarts. Logs are JSON lines on stdout. READY=1 is sent to "
        "systemd once the config is loaded, the ledger is open and the listener is bound. "
        "SIGTERM stops it cleanly (exit 0).",
    )
    _add_config_argument(p)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and record everything, but send no action to CDSS",
    )
    p.add_argument(
        "--record-events",
        type=Path,
        metavar="FILE.jsonl",
        help="append every event the engine sees to FILE, for `remediator explain` "
        "(replays exactly from a daemon started on an empty ledger)",
    )
    p.add_argument(
        "--standby",
        action="store_true",
        help="with a PostgreSQL ledger (state.url) that another daemon holds, stand by (healthy, "
        "not ready) and take over when it lets go, instead of exiting 1",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument(
        "--log-format",
        default="json",
        choices=["json", "text"],
        help="json lines for journald (default), or text for a terminal",
    )
    p.set_defaults(handler=_run)

    _add_ops_parsers(sub)

    p = sub.add_parser(
        "explain",
        help="replay recorded probe results and alerts through the rules, and say why",
        description="Replay events through the same engine as the daemon, with their times, and "
        "print each decision and its reason. A recording from `remediator run "
        "--record-events` replays exactly (the recorded fresh looks and call outcomes answer "
        "the engine); a hand-written file of probe results and alerts is answered as if every "
        "look found the target as its last probe and every call succeeded.",
    )
    _add_config_argument(p)
    p.add_argument("--events", required=True, type=Path, metavar="FILE.jsonl")
    p.add_argument("--verbose", action="store_true", help="also show each look before acting")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=_explain)

    p = sub.add_parser(
        "demo",
        help="see remediator handle a broken CMAK against a local simulated CDSS (no setup)",
        description="A narrated rehearsal that needs no setup and touches no cloud: start the "
        "sandbox (a simulated CDSS gateway that verifies signature v2, with a CMAK and a "
        "Kafka-UI cluster), run the real daemon against it with a bundled configuration, break "
        "the CMAK, and tell what happens - failing probes, the trip, the guards, the signed "
        "calls (restartCMAKService is withdrawn, so the fallback restartAllServices), "
        "verification, a cooldown holding a second restart back, and the metrics. About 15 "
        "seconds; exit 0 when everything happened as expected, 1 otherwise.",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo's directory afterwards: its configuration, rules, ledger and the "
        "daemon's JSON log (it is kept anyway when the demo fails)",
    )
    p.set_defaults(handler=_demo)

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
