"""A ledger that stops taking writes while the daemon runs (issue 14, item 1).

Another process holding the SQLite file's write lock (a backup, an `sqlite3` shell) — here a
real second connection — at the moment of a trip: no call goes out, the target is not left
`acting`, nothing is spent without a ledger row, readiness and a metric show it, and the target
is remediated once the ledger takes writes again. The same with a real full filesystem is in
`tests/chaos/test_disk.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from remediator.store.sqlite import SqliteLedger
from tests.harness import AK, ORDERS, SK, Harness

RULE = """
  - name: cmak-unhealthy
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    cooldown: 1h
    budget: {max: 3, per: 6h}
    verify: {grace: 10s, successes: 2, timeout: 5m}
"""


class WriteLock:
    """Another process's write transaction on the SQLite file, as `sqlite3 state.db` holds one."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)

    def hold(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")


@pytest.fixture
def fake_sandbox(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def h(tmp_path: Path, fake_sandbox: Sandbox, fake_clock: FakeClock) -> Iterator[Harness]:
    fake_sandbox.set_cmak_restart(ORDERS, "available")
    # A short busy timeout: a locked write fails in 50 ms of real time rather than 5 s.
    harness = Harness(
        tmp_path,
        fake_sandbox,
        fake_clock,
        RULE,
        ledger=lambda: SqliteLedger(tmp_path / "state.db", busy_timeout=0.05),
    )
    yield harness
    harness.daemon.ledger.close()


def recovered(h: Harness) -> float:
    return h.metric(
        "remediator_remediations_total", rule="cmak-unhealthy", target="orders", outcome="recovered"
    )


def rule_status(h: Harness) -> dict[str, Any]:
    target = next(t for t in h.daemon.status()["targets"] if t["name"] == "orders")
    return dict(target["rules"][0], in_flight=target["in_flight"])


def test_a_locked_ledger_at_the_trip_sends_nothing_spends_nothing_then_remediates(
    h: Harness, fake_sandbox: Sandbox, tmp_path: Path
) -> None:
    lock = WriteLock(tmp_path / "state.db")
    fake_sandbox.break_tool(ORDERS, "down")
    h.step()
    h.step()
    lock.hold()
    h.step()  # the third failure trips the rule: the intent cannot be written
    assert h.actions(ORDERS) == [], "no call without its intent on disk"
    assert h.metric("remediator_ledger_writable") == 0
    assert h.metric("remediator_ledger_write_failures_total", record="intent") == 1
    h.daemon._ready = True  # started, as far as readiness goes
    assert not h.daemon.ready(), "/-/ready answers 503 while the ledger cannot be written"
    seen = rule_status(h)
    assert seen["in_flight"] is not None and seen["in_flight"]["phase"] == "escalating"
    assert (seen["budget_used"], seen["cooldown_remaining_seconds"]) == (0, 0)
    assert h.daemon.engine.fleet_action_times == []
    for _ in range(4):  # 12 s stepped 15 s at a time, as the backup held it
        h.step(3)
    assert h.actions(ORDERS) == []
    lock.release()
    h.run(45)  # the ledger check finds it writable; 30 s after the failure the step is retried
    assert h.metric("remediator_ledger_writable") == 1
    assert h.daemon.ready()
    assert h.actions(ORDERS) == ["restartCMAKService"]
    h.run(120)
    assert recovered(h) == 1
    rows = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT action, result, remediation FROM actions"
    )
    assert list(rows) == [("restart_cmak", "success", "recovered")], "one row: the one sent"
    seen = rule_status(h)
    assert seen["budget_used"] == 1 and seen["cooldown_remaining_seconds"] > 3000


def test_records_that_could_not_be_written_are_written_in_order_once_it_can(
    h: Harness, fake_sandbox: Sandbox, tmp_path: Path
) -> None:
    lock = WriteLock(tmp_path / "state.db")
    fake_sandbox.break_tool(ORDERS, "down")
    h.run(45)
    assert h.actions(ORDERS) == ["restartCMAKService"]
    lock.hold()  # while the restart is verified: its outcome cannot be written
    h.run(60)
    assert recovered(h) == 1, "verification goes on without the ledger"
    assert h.metric("remediator_ledger_deferred_records") >= 1
    assert h.daemon.engine.targets["orders"].in_flight is None, "the target is not left busy"
    lock.release()
    h.step()
    assert h.metric("remediator_ledger_deferred_records") == 0
    rows = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT action, result, remediation FROM actions"
    )
    assert list(rows) == [("restart_cmak", "success", "recovered")]


def test_the_webhook_answers_503_with_retry_after_while_the_ledger_cannot_record(
    h: Harness, tmp_path: Path
) -> None:
    lock = WriteLock(tmp_path / "state.db")
    h.daemon.http.start()
    try:
        url = f"http://127.0.0.1:{h.daemon.http.port}/api/v1/alerts/alertmanager"
        body = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "CMAKDown", "remediator_target": "orders"},
                    "startsAt": "2027-01-15T08:00:00Z",
                    "fingerprint": "f1",
                }
            ],
        }
        lock.hold()
        reply = requests.post(url, json=body, timeout=5)
        assert (reply.status_code, reply.headers.get("Retry-After")) == (503, "10")
        assert h.metric("remediator_ledger_writable") == 0
        lock.release()
        h.daemon.check_ledger()
        reply = requests.post(url, json=body, timeout=5)
        assert reply.status_code == 200, reply.text
    finally:
        h.daemon.http.close()


class Overflowing:
    """A client whose actions raise what no client should (the issue: an OverflowError from a
    timeout too long for a socket); reads go to the real one."""

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def action(self, *_args: object, **_kwargs: object) -> object:
        raise OverflowError("timeout doesn't fit into C timeval")


def test_a_call_that_raises_unexpectedly_is_an_unknown_outcome_not_a_stuck_target(
    h: Harness, fake_sandbox: Sandbox
) -> None:
    h.daemon.driver.client = Overflowing(h.daemon.driver.client)  # type: ignore[assignment]
    fake_sandbox.break_tool(ORDERS, "down")
    h.run(45)
    flight = h.daemon.engine.targets["orders"].in_flight
    assert flight is not None and flight.phase == "verifying", "not left acting"
    h.run(6 * 60)
    assert h.daemon.engine.targets["orders"].in_flight is None
    assert (
        h.metric(
            "remediator_remediations_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="not_recovered",
        )
        == 1
    )
    assert h.actions(ORDERS) == [], "and never sent again"
