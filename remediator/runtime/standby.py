"""Standby: wait for a PostgreSQL ledger that another daemon holds, then take it over.

`remediator run --standby` on two hosts with one `state.url`: the first to start holds the
ledger and acts; the other stands by. It answers `/-/healthy` 200, `/-/ready` 503 and
`/metrics` (`remediator_standby 1`) on its own listener, tells systemd it is up (READY=1 and a
STATUS line naming the holder), pets the watchdog, and tries the ledger every few seconds.
When the active daemon's session ends — it stopped, crashed, or its host went away (TCP
keepalives end the session) — the standby takes the ledger, and the daemon that `run` then
builds rebuilds its memory from it: cooldowns, budgets, breakers, in-flight verifications and
alert episodes. A database that cannot be reached is waited for the same way.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prometheus_client import CollectorRegistry

from remediator.clock import Clock
from remediator.config.loader import Config
from remediator.errors import LedgerUnavailable
from remediator.http.admin import PAUSE, RESTART, RESUME
from remediator.http.approvals import ANSWER, LIST
from remediator.http.guard import Refusal
from remediator.http.intake import PATH as INTAKE_PATH
from remediator.http.server import (
    Environ,
    HttpServer,
    Routes,
    StartResponse,
    WsgiApp,
    json_response,
    make_app,
)
from remediator.metrics import Metrics
from remediator.runtime.sdnotify import Notifier
from remediator.store import Ledger, open_ledger

log = logging.getLogger("remediator.runtime.daemon")

RETRY_SECONDS = 5.0


def wait_for_ledger(
    config: Config,
    *,
    stop: threading.Event,
    notifier: Notifier,
    clock: Clock,
    retry: float = RETRY_SECONDS,
) -> Ledger | None:
    """The ledger, once this process holds it; None when `stop` is set while standing by."""
    try:
        return open_ledger(path=config.state.path, url=config.state.url, source=config.path)
    except LedgerUnavailable as exc:
        waiting_since, reason = clock.monotonic(), str(exc)
    registry = CollectorRegistry()
    Metrics(registry).standby.set(1)

    def status() -> dict[str, Any]:
        return {"standby": True, "reason": reason}

    def unavailable(_environ: Environ, start_response: StartResponse) -> list[bytes]:
        # 503: Alertmanager retries this copy, and it lands here once this daemon has taken
        # over (a duplicate by then, if the active daemon recorded its own copy).
        body = {"error": "standing by: another remediator holds the ledger"}
        return json_response(start_response, 503, body, [("Retry-After", str(int(retry)))])

    routes = [("POST", path) for path in (INTAKE_PATH, PAUSE, RESUME, RESTART)]
    extra: dict[tuple[str, str], WsgiApp] = dict.fromkeys(routes, unavailable)
    extra[("GET", LIST)] = unavailable  # the approvals are the active daemon's
    refusal: Refusal = (
        503,
        {"error": "standing by: another remediator holds the ledger"},
        [("Retry-After", str(int(retry)))],
    )
    server = HttpServer(
        make_app(
            Routes(
                registry,
                healthy=lambda: True,
                ready=lambda: False,
                status=status,
                extra=extra,
                prefixed={("POST", ANSWER): unavailable},
            )
        ),
        config.server.host,
        config.server.port,
        # Bodies are never read.
        gates=dict.fromkeys([*routes, ("POST", ANSWER)], lambda _headers: refusal),
        clock=clock,
    )
    server.start()
    log.warning(
        f"standing by: {reason}; trying again every {retry:g}s",
        extra={"event": "standby", "standby": True},
    )
    notifier.send(READY="1", STATUS=f"standby: {reason}"[:200])
    pet = min(retry, notifier.watchdog_interval or retry)
    next_try = clock.monotonic() + retry
    try:
        while not stop.wait(max(0.0, min(pet, next_try - clock.monotonic()))):
            if notifier.watchdog_interval is not None:
                notifier.send(WATCHDOG="1")
            if clock.monotonic() < next_try:
                continue
            next_try = clock.monotonic() + retry
            try:
                ledger = open_ledger(
                    path=config.state.path, url=config.state.url, source=config.path
                )
            except LedgerUnavailable as exc:
                if str(exc) != reason:  # the holder or the failure changed: say so, once
                    reason = str(exc)
                    log.warning(f"standing by: {reason}", extra={"event": "standby"})
                    notifier.send(STATUS=f"standby: {reason}"[:200])
                continue
            log.warning(
                f"taking over the ledger after {clock.monotonic() - waiting_since:.0f}s "
                "standing by",
                extra={"event": "standby", "standby": False},
            )
            return ledger
        return None
    finally:
        server.close()  # the daemon binds the same address next
