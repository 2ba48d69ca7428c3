"""Whole remediations: the daemon's driver, engine, ledger and signed client against the sandbox.

Real sockets and real SQLite files; one FakeClock drives the daemon and the sandbox, and the
harness steps probes by hand instead of the scheduler, so fake hours pass in milliseconds.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from remediator.clock import FakeClock
from remediator.config import load_config
from remediator.daemon import Daemon
from remediator.sandbox import Sandbox

AK, SK = "HARNESS-AK", "harness-sk"  # sandbox test keys, not secrets
ORDERS, PAYMENTS, ANALYTICS = "1484848", "1484849", "1484850"

CMAK_RULE = """
  - name: cmak-unhealthy
    targets: ["orders", "analytics"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    fallback_action: restart_all_services
    cooldown: 15m
    budget: {max: 3, per: 6h}
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""


class QueueExecutor(Executor):
    """Runs submitted work when the harness drains it, in the test's thread."""

    def __init__(self) -> None:
        self.queue: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self.queue.append((fut, fn, args))
        return fut

    def drain(self) -> None:
        while self.queue:
            fut, fn, args = self.queue.popleft()
            fut.set_result(fn(*args))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.queue.clear()


class Harness:
    """A daemon without its scheduler: `step()` probes every target once and lets time pass."""

    def __init__(self, tmp: Path, sb: Sandbox, clock: FakeClock, rules: str, **kw: str) -> None:
        self.sb, self.clock, self.tmp = sb, clock, tmp
        self.rules = rules
        self.extra = kw
        self.executor = QueueExecutor()
        self.daemon = self._build()

    def _build(self) -> Daemon:
        (self.tmp / "rules").mkdir(exist_ok=True)
        (self.tmp / "rules" / "r.yaml").write_text("rules:\n" + self.rules)
        targets = "".join(
            f"""
  - name: {name}
    cluster_no: "{no}"
    health: {{kind: {kind}, url: "{self.sb.tool_url(no)}", interval: 15s, timeout: 1s}}
"""
            for name, no, kind in (
                ("orders", ORDERS, "cmak"),
                ("payments", PAYMENTS, "kafka_ui"),
                ("analytics", ANALYTICS, "cmak"),
            )
        )
        (self.tmp / "remediator.yaml").write_text(
            f"""
ncp:
  endpoint: {self.sb.url}
  access_key: {{env: AK}}
  secret_key: {{env: SK}}
  timeout: 1s
server: {{listen: "127.0.0.1:0"}}
state: {{path: "{self.tmp / "state.db"}"}}
guardrails: {self.extra.get("guardrails", "{}")}
targets:{targets}
rules: [rules/*.yaml]
"""
        )
        config = load_config(self.tmp / "remediator.yaml")
        daemon = Daemon(
            config,
            clock=self.clock,
            registry=CollectorRegistry(),
            environ={"AK": AK, "SK": SK},
            executor=self.executor,
        )
        daemon.prepare()
        return daemon

    def restart_daemon(self) -> None:
        """As after a crash: a new daemon on the same ledger."""
        self.daemon.ledger.close()
        self.executor = QueueExecutor()
        self.daemon = self._build()

    def step(self, seconds: float = 15.0) -> None:
        for check in self.daemon.config.health_checks():
            self.daemon.driver.probe_and_feed(check)
            self.executor.drain()
        self.daemon.tick()
        self.executor.drain()
        self.clock.advance(seconds)

    def run(self, seconds: float, interval: float = 15.0) -> None:
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.step(interval)

    def metric(self, name: str, **labels: str) -> float:
        value = self.daemon.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def actions(self, no: str | None = None) -> list[str]:
        return [c.operation or "" for c in self.sb.action_calls(no)]


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def harness(tmp_path: Path, sb: Sandbox, fake_clock: FakeClock) -> Iterator[Harness]:
    h = Harness(tmp_path, sb, fake_clock, CMAK_RULE)
    yield h
    h.daemon.ledger.close()


def test_cmak_down_one_signed_restart_recovery_then_cooldown(harness: Harness, sb: Sandbox) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    harness.run(60)
    assert harness.actions() == []
    sb.break_tool(ORDERS, "down")
    harness.run(3 * 15)
    (call,) = sb.action_calls(ORDERS)
    assert (call.operation, call.verified, call.http_status) == ("restartCMAKService", True, 200)
    assert sb.cluster(ORDERS).status == "changing"
    harness.run(120)
    assert sb.cluster(ORDERS).status == "running"
    assert (
        harness.metric(
            "remediator_remediations_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="recovered",
        )
        == 1
    )
    assert (
        harness.metric(
            "remediator_actions_total", target="orders", action="restart_cmak", result="success"
        )
        == 1
    )
    # a second break inside the 15 min cooldown: no call, counted once as cooldown
    sb.break_tool(ORDERS, "down")
    harness.run(5 * 60)
    assert len(sb.action_calls(ORDERS)) == 1
    assert (
        harness.metric(
            "remediator_decisions_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="suppressed",
            reason="cooldown",
        )
        == 1
    )
    assert (
        harness.metric(
            "remediator_cooldown_remaining_seconds", rule="cmak-unhealthy", target="orders"
        )
        > 0
    )
    # once the cooldown is over, the still-broken tool is restarted again
    harness.run(10 * 60)
    assert len(sb.action_calls(ORDERS)) == 2
    ledger = harness.daemon.ledger.recent_actions(5)
    assert [a.record.result for a in ledger][-1] == "success"
    assert ledger[-1].request_id == call.request_id


def test_flapping_below_threshold_never_acts_and_above_acts_once(
    harness: Harness, sb: Sandbox
) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    for i in range(40):  # 2 failures in every 3 probes never makes 3 of 3
        sb.break_tool(ORDERS, "error") if i % 3 else sb.fix_tool(ORDERS)
        harness.step()
    assert harness.actions() == []
    assert harness.metric("remediator_probes_total", target="orders", result="failure") >= 26


def test_a_restart_that_does_not_help_opens_the_breaker(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    rule = CMAK_RULE.replace("action: restart_cmak", "action: restart_kafka").replace(
        "cooldown: 15m", "cooldown: 5m"
    )
    h = Harness(tmp_path, sb, fake_clock, rule)
    sb.break_tool(ORDERS, "down")  # restartKafkaService does not heal CMAK
    h.run(6 * 3600)
    assert h.actions(ORDERS) == ["restartKafkaService"] * 3
    labels = {"rule": "cmak-unhealthy", "target": "orders"}
    assert h.metric("remediator_remediations_total", outcome="not_recovered", **labels) == 3
    assert h.metric("remediator_breaker_open", **labels) == 1
    assert h.daemon.ledger.open_breakers() == [("cmak-unhealthy", "orders")]
    h.run(3600)
    assert len(h.actions(ORDERS)) == 3
    # the breaker survives a daemon restart
    h.restart_daemon()
    h.run(3600)
    assert len(h.actions(ORDERS)) == 3
    assert h.metric("remediator_breaker_open", **labels) == 1


def test_mass_failure_holds_every_action(harness: Harness, sb: Sandbox) -> None:
    for no in (ORDERS, PAYMENTS, ANALYTICS):
        sb.break_tool(no, "down")
    harness.run(10 * 60)
    assert harness.actions() == []
    assert (
        harness.metric(
            "remediator_decisions_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="suppressed",
            reason="mass_failure",
        )
        == 1
    )


def test_busy_cluster_waits_then_one_call(harness: Harness, sb: Sandbox) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    sb.set_state(ORDERS, "changing", for_seconds=120)
    sb.break_tool(ORDERS, "error")
    harness.run(100)
    assert harness.actions() == []
    busy = {"rule": "cmak-unhealthy", "target": "orders", "outcome": "suppressed"}
    assert harness.metric("remediator_decisions_total", reason="cluster_busy", **busy) == 1
    harness.run(60)
    assert harness.actions() == ["restartCMAKService"]


def test_withdrawn_restart_cmak_falls_back_once(
    harness: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sb.break_tool(ORDERS, "down")  # restartCMAKService is withdrawn by default, as at NCP
    with caplog.at_level(logging.INFO, logger="remediator"):
        harness.run(5 * 60)
    calls = [(c.operation, c.http_status, c.error_code) for c in sb.action_calls(ORDERS)]
    assert calls == [("restartCMAKService", 404, "300"), ("restartAllServices", 200, None)]
    assert "withdrew restartCMAKService on 2026-09-17" in caplog.text
    assert (
        harness.metric(
            "remediator_remediations_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="recovered",
        )
        == 1
    )
    (row,) = harness.daemon.ledger.recent_actions(5)
    assert row.record.action == "restart_all_services"
    assert "restart_cmak is not available" in row.detail or row.record.remediation == "recovered"


def test_apply_then_time_out_is_reconciled_not_resent(
    harness: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    sb.inject_apply_then_timeout(count=1, hold_seconds=1.5, operation="restartCMAKService")
    sb.break_tool(ORDERS, "down")
    with caplog.at_level(logging.INFO, logger="remediator"):
        harness.run(5 * 60)
    ops = [c.operation for c in sb.calls if (c.operation or "").startswith("restart")]
    assert ops == ["restartCMAKService"], "an unknown outcome is never resent"
    assert (
        harness.metric(
            "remediator_actions_total", target="orders", action="restart_cmak", result="unknown"
        )
        == 1
    )
    assert "the cluster is changing, so the action took effect" in caplog.text
    assert (
        harness.metric(
            "remediator_remediations_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="recovered",
        )
        == 1
    )


def test_shadow_mode_decides_and_never_calls(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = Harness(tmp_path, sb, fake_clock, CMAK_RULE + "    mode: shadow\n")
    sb.break_tool(ORDERS, "down")
    h.run(3600)
    assert h.actions() == []
    shadow = {"rule": "cmak-unhealthy", "target": "orders", "outcome": "shadow", "reason": "shadow"}
    # one every 15 min cooldown, until the budget of 3 per 6 h is spent: rehearsed as enforced
    assert h.metric("remediator_decisions_total", **shadow) == 3
    budget = shadow | {"outcome": "suppressed", "reason": "budget"}
    assert h.metric("remediator_decisions_total", **budget) == 1
    assert [a.record.mode for a in h.daemon.ledger.recent_actions(10)] == ["shadow"] * 3


def test_a_restarted_daemon_does_not_repeat_inside_the_cooldown(
    harness: Harness, sb: Sandbox
) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    sb.break_tool(ORDERS, "down")
    harness.run(45)
    assert len(harness.actions()) == 1
    harness.restart_daemon()
    sb.break_tool(ORDERS, "down")
    harness.run(10 * 60)
    assert len(harness.actions()) == 1


def test_status_reports_rules_cooldowns_and_last_actions(harness: Harness, sb: Sandbox) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    sb.break_tool(ORDERS, "down")
    harness.run(60)
    status = harness.daemon.status()
    orders = next(t for t in status["targets"] if t["name"] == "orders")
    (rule,) = orders["rules"]
    assert rule["budget_used"] == 1
    assert rule["cooldown_remaining_seconds"] > 800
    assert orders["in_flight"]["phase"] == "verifying"
    assert status["recent_actions"][0]["action"] == "restart_cmak"
    assert status["recent_actions"][0]["request_id"]
