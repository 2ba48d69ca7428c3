"""A reload while an operator's restart is being verified keeps verifying it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock
from remediator.core.decisions import Output, Remediated
from remediator.sandbox import Sandbox
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness


@pytest.fixture
def h(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Harness]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    harness = Harness(tmp_path, box, fake_clock, CMAK_RULE)
    yield harness
    harness.daemon.ledger.close()
    box.stop()


def test_a_reload_during_a_manual_restarts_verification_keeps_it(h: Harness) -> None:
    reply = h.daemon.parts.operator.restart(
        "orders", None, "ticket 42", force=False, reset_breaker=False, dry_run=False
    )
    assert reply["outcome"] == "acted"
    h.step()
    flight = h.daemon.engine.targets["orders"].in_flight
    assert flight is not None and (flight.rule, flight.phase) == ("manual", "verifying")

    assert h.daemon.reload() is True  # raised KeyError('manual') before

    flight = h.daemon.engine.targets["orders"].in_flight
    assert flight is not None and (flight.rule, flight.phase) == ("manual", "verifying")
    ends: list[Output] = []
    h.daemon.driver.listeners.append(ends.append)
    h.run(60)
    assert [(o.rule, o.outcome) for o in ends if isinstance(o, Remediated)] == [
        ("manual", "recovered")
    ]
    assert h.actions(ORDERS) == ["restartCMAKService"]
