"""Actions a stopped daemon left without a result: what a start makes of them.

A daemon that stops (SIGKILL, a crash, a call abandoned at SIGTERM) between recording an
intent and recording its call's result leaves a row whose call may or may not have reached
CDSS. The restarted engine verifies it and never resends it (`core.restore`); here the row
is made to say so (`result` unknown, and why), one log line says how long the target is held
by its cooldown, and a cluster status read adds what it shows (changing: the call most likely
arrived).
"""

from __future__ import annotations

import logging
from functools import partial

from remediator.clock import as_wall
from remediator.errors import NcpError
from remediator.runtime.driver import Driver
from remediator.store import LedgerAction
from remediator.timetext import iso

log = logging.getLogger("remediator.runtime.daemon")


def settle(driver: Driver, now: float) -> int:
    """Mark every action without a result as unknown, say it, and read its cluster's status
    (on the actions executor); how many there were."""
    rows = driver.ledger.actions_without_outcome()
    for row in rows:
        rec = row.record
        engine = driver.engine
        rule = engine.state.rule(rec.rule, rec.target)
        ts = engine.targets.get(rec.target)
        flight = ts.in_flight if ts is not None else None
        until = as_wall(driver.clock, flight.deadline) if flight is not None else None
        verify = f" until {iso(until)}" if until is not None else ""
        detail = (
            f"outcome unknown: the daemon stopped after recording the intent ({iso(rec.intent_at)})"
            " and before recording the call's result, so the call may or may not have reached "
            f"CDSS; not resent; verified by probes{verify}"
        )
        _record(driver, row, now, detail)
        held = (
            f"; automatic actions on {rec.target} are held by its cooldown until "
            f"{iso(rec.intent_at + rule.cooldown)} (`remediator restart {rec.target} --force` "
            "acts sooner)"
            if rule is not None
            else ""
        )
        log.warning(
            f"resuming {rec.action} on {rec.target} ({rec.rule}) from the ledger with an unknown "
            "outcome: the daemon stopped between recording its intent and recording its result, "
            f"so it may or may not have been sent; it is not resent: verifying by probes{verify}"
            f"{held}",
            extra={"event": "restore", "rule": rec.rule, "target": rec.target},
        )
        driver.submit(partial(_read_status, driver, row))
    return len(rows)


def _read_status(driver: Driver, row: LedgerAction) -> None:
    """What the cluster status says of an action with an unknown outcome, in the log and row."""
    rec = row.record
    try:
        status = driver.cluster_status(
            driver.client, row.cluster_no, driver.regions.get(rec.target)
        )
    except NcpError as exc:
        found = f"the cluster status could not be read after the restart ({exc})"
    else:
        found = (
            "the cluster was changing after the restart: the call most likely reached CDSS"
            if status.busy
            else "the cluster was not changing after the restart: the call may not have run, "
            "or has finished"
        )
    log.info(
        f"reconcile: {rec.action} on {rec.target}: {found}; verifying by probes, not resending",
        extra={"event": "reconcile", "rule": rec.rule, "target": rec.target},
    )
    _record(driver, row, driver.clock.now(), found)


def _record(driver: Driver, row: LedgerAction, at: float, detail: str) -> None:
    ledger = driver.ledger
    driver.ledger_watch.record(
        "outcome",
        lambda: ledger.record_outcome(
            row.id, result="unknown", at=at, request_id=None, detail=detail
        ),
    )
