"""Steps of the wall clock (issue 14, item 3), on a FakeClock whose wall time jumps while its
monotonic time goes on: cooldowns, verification and the scheduler keep to the monotonic clock;
the ledger keeps wall time. The same on a real process under libfaketime is
`tests/chaos/test_clock.py`."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock, SteadyClock
from remediator.runtime.scheduler import MonotonicScheduler
from remediator.sandbox import Sandbox
from tests.harness import AK, ORDERS, SK, Harness
from tests.waiting import wait_for

HOUR = 3600.0
RULE = """
  - name: cmak-unhealthy
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    cooldown: 1h
    verify: {grace: 10s, successes: 2, timeout: 5m}
"""


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    # The sandbox plays CDSS on the same (stepped) wall clock: signatures stay in its window.
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def h(tmp_path: Path, sb: Sandbox, fake_clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(tmp_path, sb, fake_clock, RULE)
    yield harness
    harness.daemon.ledger.close()


def remediations(h: Harness, outcome: str) -> float:
    return h.metric(
        "remediator_remediations_total", rule="cmak-unhealthy", target="orders", outcome=outcome
    )


def remediated_once(h: Harness, sb: Sandbox) -> None:
    sb.break_tool(ORDERS, "down")
    h.run(45)
    assert h.actions(ORDERS) == ["restartCMAKService"]
    h.run(90)
    assert remediations(h, "recovered") == 1


@pytest.mark.parametrize("step", [+2 * HOUR, -2 * HOUR])
def test_a_step_during_the_cooldown_neither_ends_it_nor_stretches_it(
    h: Harness, sb: Sandbox, step: float
) -> None:
    remediated_once(h, sb)
    h.clock.step_wall(step)
    sb.break_tool(ORDERS, "down")
    h.run(10 * 60)
    assert h.actions(ORDERS) == ["restartCMAKService"], "held by the cooldown, 1h of real time"
    cooldown = h.metric(
        "remediator_cooldown_remaining_seconds", rule="cmak-unhealthy", target="orders"
    )
    assert 2700 < cooldown < 3000
    h.run(50 * 60)  # the hour is over by the monotonic clock: it acts again
    assert h.actions(ORDERS) == ["restartCMAKService"] * 2


def test_a_step_ahead_during_verification_is_no_timeout(h: Harness, sb: Sandbox) -> None:
    sb.break_tool(ORDERS, "down")
    h.run(45)
    assert h.actions(ORDERS) == ["restartCMAKService"]
    h.clock.step_wall(2 * HOUR)
    h.run(120)
    assert (remediations(h, "recovered"), remediations(h, "not_recovered")) == (1, 0)


def test_the_ledger_keeps_wall_time_and_the_log_says_the_step(
    h: Harness, sb: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="remediator")
    h.clock.step_wall(HOUR)
    h.step()
    said = [r.getMessage() for r in caplog.records if "the wall clock stepped" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("the wall clock stepped +1h ")
    sb.break_tool(ORDERS, "down")
    h.run(45)
    (intent_at,) = sqlite3.connect(tmp_path / "state.db").execute("SELECT intent_at FROM actions")
    assert abs(intent_at[0] - h.clock.now()) < 60, "wall time, an hour past the daemon's start"
    status = h.daemon.status()
    assert abs(status["at"] - h.clock.now()) < 1


def test_a_reload_after_a_step_keeps_the_cooldown(h: Harness, sb: Sandbox) -> None:
    remediated_once(h, sb)
    h.clock.step_wall(2 * HOUR)
    assert h.daemon.reload()
    sb.break_tool(ORDERS, "down")
    h.run(5 * 60)
    assert h.actions(ORDERS) == ["restartCMAKService"]


def test_the_scheduler_runs_on_the_monotonic_clock(fake_clock: FakeClock) -> None:
    clock = SteadyClock(fake_clock)
    scheduler = MonotonicScheduler(clock=clock, executors={"default": 1})
    ran = threading.Semaphore(0)
    job = scheduler.add_job(ran.release, "interval", seconds=1.0, id="tick")
    runs = 0
    for step in (-2 * HOUR, +2 * HOUR):
        fake_clock.step_wall(step)
        for _ in range(3):
            fake_clock.advance(1.0)
            scheduler.run_pending()
            assert ran.acquire(timeout=5), "due by the monotonic clock, whatever the wall says"
            wait_for(lambda: not job.running, timeout=5, what="the run to end")
            runs += 1
    fake_clock.advance(30.0)  # a stall: the missed runs are one run, not thirty
    scheduler.run_pending()
    assert ran.acquire(timeout=5)
    scheduler.shutdown(wait=True)
    assert not ran.acquire(timeout=0.1)
    assert runs == 6
