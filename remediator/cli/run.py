"""`remediator run`: the daemon in the foreground, or standing by for a shared ledger."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from remediator.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_config_argument,
    load,
)
from remediator.config.loader import Config, ConfigError
from remediator.errors import LedgerUnavailable, RemediatorError

if TYPE_CHECKING:
    from remediator.store import Ledger


def add_parser(sub: Subparsers) -> None:
    """The `run` subcommand."""
    p = sub.add_parser(
        "run",
        help="run the daemon in the foreground (systemd Type=notify)",
        description="Run the daemon: probe every target, evaluate the rules, and carry out "
        "guarded, verified, signed restarts. Logs are JSON lines on stdout. READY=1 is sent to "
        "systemd once the config is loaded, the ledger is open and the listener is bound. "
        "SIGTERM stops it cleanly (exit 0).",
    )
    add_config_argument(p)
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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from remediator import logs

    config = load(args.config)
    if config is None:
        return EXIT_USAGE
    # Imported after the config is loaded: the daemon's modules (asyncio, APScheduler, waitress)
    # then fill the memory that parsing a large config used and freed (~6 MiB less RSS).
    from remediator.runtime.daemon import Daemon

    if args.standby and config.state.url is None:
        print(
            "remediator run: --standby needs state.url (a PostgreSQL ledger the daemons share)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logs.setup(args.log_level, json_lines=args.log_format == "json")
    _allow_connections()
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
        code = daemon.run()
    except OSError as exc:  # the listener's address is taken, most often
        print(f"remediator: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    busy = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    if daemon.abandoned or any(t.is_alive() for t in busy):
        # A call abandoned at stop, or a probe still waiting for its timeout, holds a worker
        # thread that the interpreter would wait for at exit: everything is flushed and the
        # ledger closed, so leave now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _allow_connections() -> None:
    """Raise the soft limit of open files to what the listener may hold (systemd leaves it at
    1024 for programs that still use select(); the listener polls)."""
    import resource

    from remediator.http.guard import CONNECTION_LIMIT

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * CONNECTION_LIMIT + 1024  # the listener's, the ledger's, probes and CDSS calls
    if soft != resource.RLIM_INFINITY and soft < want:
        limit = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def _stand_by(args: argparse.Namespace, config: Config) -> tuple[Ledger | None, Config]:
    """`run --standby`: wait for the ledger (see remediator.runtime.standby); with it, the config to
    run, read again if SIGHUP came meanwhile."""
    from remediator.clock import SystemClock
    from remediator.runtime.sdnotify import Notifier
    from remediator.runtime.standby import wait_for_ledger

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
        log = logging.getLogger("remediator.runtime.daemon")
        fresh = load(args.config)  # an invalid one is reported on stderr
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
