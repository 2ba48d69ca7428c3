"""A daemon that stopped between an intent and its result (issue 14, item 5): the restarted one
verifies and never resends — and its ledger row, its log and its verdict say what is known
(the intent, the cluster's state after the restart) and what is not (whether the call arrived)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.harness import AK, ORDERS, SK, Harness

RULE = """
  - name: cmak-unhealthy
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    cooldown: 1h
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""


@pytest.fixture
def h(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Harness]:
    sb = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    sb.set_cmak_restart(ORDERS, "available")
    harness = Harness(tmp_path, sb, fake_clock, RULE)
    try:
        yield harness
    finally:
        harness.daemon.ledger.close()
        sb.stop()


def row(h: Harness) -> tuple[object, ...]:
    db = sqlite3.connect(h.tmp / "state.db")
    try:
        (found,) = db.execute("SELECT result, remediation, detail FROM actions")
        return tuple(found)
    finally:
        db.close()


def stopped_after_the_intent(h: Harness) -> None:
    """As a SIGKILL between the intent and the call leaves the ledger."""
    h.daemon.ledger.record_intent(
        rule="cmak-unhealthy",
        target="orders",
        cluster_no=ORDERS,
        action="restart_cmak",
        mode="enforce",
        trigger="probe",
        at=h.clock.now(),
    )
    h.restart_daemon()


def test_a_row_left_without_a_result_says_what_is_known_and_the_target_is_held(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="remediator")
    h.sb.break_tool(ORDERS, "down")
    stopped_after_the_intent(h)
    h.executor.drain()  # the status read after the restart
    result, remediation, detail = row(h)
    assert (result, remediation) == ("unknown", None)
    assert isinstance(detail, str)
    assert "the call may or may not have reached CDSS; not resent" in detail
    assert "the cluster was not changing after the restart" in detail
    said = [r.getMessage() for r in caplog.records if "with an unknown outcome" in r.getMessage()]
    assert len(said) == 1
    assert "held by its cooldown until 2027-01-15T09:00:00Z" in said[0], said[0]
    h.run(180)  # the tool stays down: the verification times out
    assert h.actions(ORDERS) == [], "never resent"
    result, remediation, detail = row(h)
    assert (result, remediation) == ("unknown", "not_recovered")
    assert isinstance(detail, str)
    assert "not healthy 2m after restart_cmak (whose outcome is unknown" in detail, detail


def test_a_reconciled_remediation_that_recovers_says_the_outcome_was_unknown(h: Harness) -> None:
    stopped_after_the_intent(h)  # the tool is healthy: it recovers
    h.run(60)
    result, remediation, detail = row(h)
    assert (result, remediation) == ("unknown", "recovered")
    assert isinstance(detail, str) and "(whose outcome is unknown" in detail
