"""What operators already said, in the daemon: the look before acting asks Alertmanager (a real
HTTP server standing in for it) and the engine holds the action; a manual restart too, unless
forced. One FakeClock drives the daemon and the sandbox (see tests/harness.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.harness import AK, ANALYTICS, CMAK_RULE, ORDERS, SK, Harness


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    box.set_cmak_restart(ANALYTICS, "available")
    try:
        yield box
    finally:
        box.stop()


class FakeAlertmanager:
    """`GET /api/v2/silences` answering whatever the test put in `silences`."""

    def __init__(self, server: HTTPServer) -> None:
        self.silences: list[dict[str, Any]] = []
        self.status = 200
        server.expect_request("/api/v2/silences", method="GET").respond_with_handler(self._answer)
        self.url = server.url_for("/")

    def _answer(self, _request: Request) -> Response:
        return Response(json.dumps(self.silences), self.status, content_type="application/json")

    def silence(self, sid: str, **labels: str) -> None:
        self.silences.append(
            {
                "id": sid,
                "status": {"state": "active"},
                "createdBy": "alice",
                "comment": "broker disk swap",
                "startsAt": "2027-01-15T08:00:00.000Z",
                "endsAt": "2027-01-15T10:00:00.000Z",
                "updatedAt": "2027-01-15T08:00:00.000Z",
                "matchers": [
                    {"name": k, "value": v, "isRegex": False, "isEqual": True}
                    for k, v in labels.items()
                ],
            }
        )


@pytest.fixture
def am(httpserver: HTTPServer) -> FakeAlertmanager:
    return FakeAlertmanager(httpserver)


@pytest.fixture
def harness(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, am: FakeAlertmanager
) -> Iterator[Harness]:
    h = Harness(
        tmp_path,
        sb,
        fake_clock,
        CMAK_RULE,
        guardrails="{max_concurrent_actions: 2}",
        top=f'alertmanager: {{url: "{am.url}", on_error: act}}',
    )
    yield h
    h.daemon.ledger.close()


def decisions(h: Harness, target: str, reason: str, outcome: str = "suppressed") -> float:
    return h.metric(
        "remediator_decisions_total",
        rule="cmak-unhealthy",
        target=target,
        outcome=outcome,
        reason=reason,
    )


def test_a_silenced_target_is_held_and_another_is_not(
    harness: Harness, sb: Sandbox, am: FakeAlertmanager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="remediator")
    am.silence("9a7b", alertname="CMAKDown", cluster_no=ORDERS)
    sb.break_tool(ORDERS, "down")
    sb.break_tool(ANALYTICS, "down")
    harness.run(5 * 60)
    assert harness.actions(ORDERS) == []
    assert harness.actions(ANALYTICS) == ["restartCMAKService"]
    assert decisions(harness, "orders", "silenced") == 1, "said once for the trip"
    (line,) = [m for m in caplog.messages if "(silenced)" in m]
    assert line == (
        "decision on orders by cmak-unhealthy: suppressed (silenced): held by Alertmanager "
        "silence 9a7b by alice (broker disk swap; {alertname='CMAKDown', cluster_no='1484848'}, "
        "until 2027-01-15T10:00:00.000Z)"
    )
    assert harness.metric("remediator_silence_checks_total", result="silenced") >= 2
    assert harness.metric("remediator_silence_checks_total", result="clear") >= 1
    # the silence expires: the next look lets the action through
    am.silences.clear()
    harness.run(60)
    assert harness.actions(ORDERS) == ["restartCMAKService"]


def test_alertmanager_down_with_on_error_act_acts_and_says_so(
    harness: Harness, sb: Sandbox, am: FakeAlertmanager, caplog: pytest.LogCaptureFixture
) -> None:
    am.status = 503
    sb.break_tool(ORDERS, "down")
    harness.run(3 * 15)
    assert harness.actions(ORDERS) == ["restartCMAKService"]
    assert harness.metric("remediator_silence_checks_total", result="error") == 1
    assert any(
        "acting on orders as if no silence held it (alertmanager.on_error: act)" in m
        for m in caplog.messages
    )


def test_a_manual_restart_respects_a_silence_unless_forced(
    harness: Harness, sb: Sandbox, am: FakeAlertmanager
) -> None:
    am.silence("5e1f", remediator_target="orders")
    op = harness.daemon.parts.operator
    held = op.restart(
        "orders", "restart_kafka", "disk swap", force=False, reset_breaker=False, dry_run=False
    )
    assert (held["outcome"], held["reason"]) == ("suppressed", "silenced")
    assert "silence 5e1f by alice (broker disk swap" in held["detail"]
    assert harness.actions(ORDERS) == []
    forced = op.restart(
        "orders", "restart_kafka", "disk swap", force=True, reset_breaker=False, dry_run=False
    )
    assert forced["outcome"] == "acted"
    harness.executor.drain()
    assert harness.actions(ORDERS) == ["restartKafkaService"]
