"""The narrower remedies end to end over real HTTP: the daemon (stepped on a fake clock)
against the sandbox, which verifies every signature and keeps each broker's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.cli import main
from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.harness import AK, ORDERS, SK, Harness

BROKER_LADDER = """
  - name: broker-ladder
    targets: ["orders"]
    trigger: {probe: {failures: 2, of: 2, check: cluster}}
    actions: [restart_kafka_node, rolling_restart]
    cooldown: 30m
    budget: {max: 3, per: 6h}
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""
TOOL_ONLY = """
  - name: manager-tool
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    max_blast_radius: tool
    cooldown: 30m
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""
BROKER_2, BROKER_2_HOST = 145022778, "orders-broker-002"


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    yield box
    box.stop()


def make(tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, rules: str) -> Harness:
    return Harness(tmp_path, sb, fake_clock, rules, cluster_health="15s")


def mutations(sb: Sandbox) -> list[tuple[str, object]]:
    """Every accepted mutation the sandbox saw: (operation, its JSON body)."""
    return [
        (c.operation or "", json.loads(c.body) if c.body else None)
        for c in sb.action_calls(ORDERS)
        if c.applied
    ]


def test_a_red_broker_gets_only_its_node_restarted_and_verified(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = make(tmp_path, sb, fake_clock, BROKER_LADDER)
    sb.break_broker(ORDERS, BROKER_2_HOST, "red")
    h.run(15 * 12)
    assert mutations(sb) == [("restartKafkaServicePerNode", {"computeInstanceNoList": [BROKER_2]})]
    assert all(n.broker_status == "green" for n in sb.nodes(ORDERS) if n.role == "BROKER")
    assert (
        h.metric(
            "remediator_remediations_total",
            rule="broker-ladder",
            target="orders",
            outcome="recovered",
        )
        == 1
    )
    rows = h.daemon.ledger.recent_actions(5)
    assert [(r.record.action, r.record.step, r.record.remediation) for r in rows] == [
        ("restart_kafka_node", 0, "recovered")
    ]


def run_until(h: Harness, done: object, steps: int = 40) -> None:
    for _ in range(steps):
        if done():  # type: ignore[operator]
            return
        h.step()
    raise AssertionError(f"not reached in {steps} steps")


def test_a_broker_the_node_restart_cannot_heal_goes_on_to_a_rolling_restart(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = make(tmp_path, sb, fake_clock, BROKER_LADDER)
    sb.break_broker(ORDERS, BROKER_2_HOST, "yellow", persistent=True)
    run_until(h, lambda: [op for op, _ in mutations(sb)] == ["restartKafkaServicePerNode"])
    run_until(h, lambda: len(mutations(sb)) == 2)  # 2 minutes of verification, then step 2
    assert [op for op, _ in mutations(sb)] == ["restartKafkaServicePerNode", "rollingRestart"]
    assert mutations(sb)[1][1] == {"serviceGroupInstanceNo": int(ORDERS)}
    ops = [c.operation for c in sb.calls if c.cluster_no == ORDERS and c.verified]
    assert ops.index("rollingRestartPreCheck") < ops.index("rollingRestart")
    sb.fix_broker(ORDERS, BROKER_2_HOST)  # what the rolling restart was for
    h.run(15 * 8)
    ops = [c.operation for c in sb.calls if c.cluster_no == ORDERS and c.verified]
    assert "rollingRestartProgressCheck" in ops  # the brokers' return to green, watched
    rows = h.daemon.ledger.recent_actions(5)
    assert [(r.record.action, r.record.step, r.record.remediation) for r in rows] == [
        ("rolling_restart", 1, "recovered"),
        ("restart_kafka_node", 0, "escalated"),
    ]
    assert len(mutations(sb)) == 2


def test_an_exhausted_ladder_opens_the_breaker_and_stops(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = make(tmp_path, sb, fake_clock, BROKER_LADDER)
    sb.break_broker(ORDERS, BROKER_2_HOST, "red", persistent=True)
    h.run(15 * 40)
    # The node restart did not help; NCP's pre-check refuses to roll with a red broker: the
    # ladder is exhausted, and the breaker holds the target.
    assert [op for op, _ in mutations(sb)] == ["restartKafkaServicePerNode"]
    assert (
        h.metric(
            "remediator_decisions_total",
            rule="broker-ladder",
            target="orders",
            outcome="suppressed",
            reason="precheck_failed",
        )
        == 1
    )
    assert h.metric("remediator_breaker_open", rule="broker-ladder", target="orders") == 1


def test_a_refused_precheck_is_not_taken_and_nothing_is_sent(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    rule = BROKER_LADDER.replace("[restart_kafka_node, rolling_restart]", "[rolling_restart]")
    h = make(tmp_path, sb, fake_clock, rule)
    sb.break_broker(ORDERS, BROKER_2_HOST, "yellow", persistent=True)
    sb.set_precheck_refusal(ORDERS, "a broker is under partition reassignment")
    h.run(15 * 6)
    assert mutations(sb) == []
    assert (
        h.metric(
            "remediator_decisions_total",
            rule="broker-ladder",
            target="orders",
            outcome="suppressed",
            reason="precheck_failed",
        )
        == 1
    )


def test_a_failed_manager_tool_with_every_broker_green_restarts_no_broker(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="remediator")
    h = make(tmp_path, sb, fake_clock, BROKER_LADDER + TOOL_ONLY)
    sb.break_tool(ORDERS, "down")
    h.run(15 * 12)
    calls = [c.operation for c in sb.action_calls(ORDERS)]
    assert calls == ["restartCMAKService"]  # withdrawn by NCP: refused, and nothing wider sent
    assert not any(c.applied for c in sb.action_calls(ORDERS))
    assert all(n.broker_status == "green" for n in sb.nodes(ORDERS) if n.role == "BROKER")
    assert "restart_cmak (tool)" in caplog.text


def test_the_breaker_of_one_rule_holds_the_target_for_the_others(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = make(tmp_path, sb, fake_clock, BROKER_LADDER + TOOL_ONLY)
    h.daemon.ledger.record_breaker(
        rule="manager-tool", target="orders", open=True, at=fake_clock.now(), detail="test"
    )
    h.restart_daemon()
    sb.break_broker(ORDERS, BROKER_2_HOST, "red")
    h.run(15 * 6)
    assert mutations(sb) == []
    assert (
        h.metric(
            "remediator_decisions_total",
            rule="broker-ladder",
            target="orders",
            outcome="suppressed",
            reason="breaker",
        )
        == 1
    )


def test_a_ladder_survives_a_daemon_restart_at_its_step(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = make(tmp_path, sb, fake_clock, BROKER_LADDER)
    sb.break_broker(ORDERS, BROKER_2_HOST, "yellow", persistent=True)
    run_until(h, lambda: [op for op, _ in mutations(sb)] == ["restartKafkaServicePerNode"])
    flight = h.daemon.engine.targets["orders"].in_flight
    assert flight is not None and flight.phase == "verifying"
    fake_clock.advance(flight.deadline - fake_clock.now())
    h.daemon.tick()  # the step ends; the next one's look is asked for, and, before it is
    # answered, the daemon dies (the look waits on the executor, which is not drained)
    rows = h.daemon.ledger.recent_actions(5)
    assert [(r.record.step, r.record.remediation) for r in rows] == [(0, "escalated")]
    assert [op for op, _ in mutations(sb)] == ["restartKafkaServicePerNode"]
    h.restart_daemon()
    flight = h.daemon.engine.targets["orders"].in_flight
    assert flight is not None and (flight.phase, flight.step) == ("escalating", 1)
    h.run(15 * 4)
    assert [op for op, _ in mutations(sb)] == ["restartKafkaServicePerNode", "rollingRestart"]
    assert len(h.daemon.engine.rule_states[("broker-ladder", "orders")].started_times) == 1


def test_manual_restart_says_what_it_sends_and_falls_back_only_when_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()  # the CLI's clock
    try:
        h = Harness(tmp_path, real, FakeClock(), TOOL_ONLY)
        h.daemon.ledger.close()
        monkeypatch.setenv("AK", AK)
        monkeypatch.setenv("SK", SK)
        config = str(tmp_path / "remediator.yaml")
        code = main(["restart", "orders", "-c", config, "--reason", "ui stuck", "--dry-run"])
        out = capsys.readouterr().out
        assert code == 0
        assert "would send restart_cmak (tool; withdrawn by NCP)" in out
        assert "--allow-fallback would fall back to restart_all_services (cluster" in out
        assert real.action_calls(ORDERS) == []
        code = main(["restart", "orders", "-c", config, "--reason", "ui stuck"])
        out = capsys.readouterr().out
        assert "will send restart_cmak" in out
        assert "ended not_recovered: restart_cmak failed" in out  # refused: said, exit 1
        assert code == 1
        assert [c.operation for c in real.action_calls(ORDERS)] == ["restartCMAKService"]
        assert not any(c.applied for c in real.action_calls(ORDERS))  # nothing wider sent
        fallback = ["--force", "--allow-fallback"]
        main(["restart", "orders", "-c", config, "--reason", "ui stuck", *fallback])
        out = capsys.readouterr().out
        assert "falls back to restart_all_services (cluster: every broker and ZooKeeper" in out
        applied = [c.operation for c in real.action_calls(ORDERS) if c.applied]
        assert applied == ["restartAllServices"]
    finally:
        real.stop()
