"""Whole remediations: the daemon's driver, engine, ledger and signed client against the sandbox.

Real sockets and real SQLite files; one FakeClock drives the daemon and the sandbox, and the
harness steps probes by hand instead of the scheduler, so fake hours pass in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.cli.explain import replay
from remediator.clock import FakeClock
from remediator.core.decisions import Decision
from remediator.core.snapshot import snapshot
from remediator.runtime.eventlog import event_to_json, read_events
from remediator.sandbox import Sandbox
from tests.harness import AK, ANALYTICS, CMAK_RULE, ORDERS, PAYMENTS, SK, Harness


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


def test_the_per_target_gauges_show_what_status_shows(harness: Harness, sb: Sandbox) -> None:
    sb.set_cmak_restart(ORDERS, "available")
    sb.break_tool(ORDERS, "down")
    harness.run(3 * 15 + 40)  # restarted, recovered: its cooldown runs
    harness.daemon.parts.operator.pause("payments", 600, "patching")
    harness.daemon.tick()
    snap = snapshot(harness.daemon.driver.engine, harness.clock.now())
    seen = 0
    for t in snap["targets"]:
        name = t["name"]
        assert harness.metric("remediator_paused", target=name) == (1 if t["paused"] else 0)
        for r in t["rules"]:
            labels = {"rule": r["rule"], "target": name}
            cooldown = harness.metric("remediator_cooldown_remaining_seconds", **labels)
            assert cooldown == r["cooldown_remaining_seconds"], labels
            breaker = harness.metric("remediator_breaker_open", **labels)
            assert breaker == (1 if r["breaker_open"] else 0), labels
            seen += cooldown > 0
    assert harness.metric("remediator_paused", target="payments") == 1
    assert harness.metric("remediator_paused", target="orders") == 0
    assert seen == 1, "orders' cooldown runs, and only its"


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
    assert "errorCode 300" in row.detail, "the ledger keeps the withdrawn first attempt"
    assert "fell back to restart_all_services" in row.detail
    assert row.record.remediation == "recovered"
    # The remediation went on: no failed action to page anyone; the 404 is in the API counter.
    actions = {"target": "orders"}
    assert harness.metric("remediator_actions_total", action="restart_cmak", result="failure") == 0
    assert (
        harness.metric(
            "remediator_actions_total", action="restart_all_services", result="success", **actions
        )
        == 1
    )
    assert (
        harness.metric("remediator_ncp_requests_total", operation="restartCMAKService", code="404")
        == 1
    )


def test_withdrawn_restart_cmak_without_a_fallback_is_a_failed_action(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    rule = CMAK_RULE.replace("    fallback_action: restart_all_services\n", "")
    h = Harness(tmp_path, sb, fake_clock, rule)
    try:
        sb.break_tool(ORDERS, "down")
        h.run(5 * 60)
        assert h.actions(ORDERS) == ["restartCMAKService"]
        assert (
            h.metric(
                "remediator_actions_total",
                target="orders",
                action="restart_cmak",
                result="failure",
            )
            == 1
        )
    finally:
        h.daemon.ledger.close()


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


def test_explain_replays_a_live_recording_exactly(harness: Harness, sb: Sandbox) -> None:
    """`remediator explain` on what the daemon recorded gives the decisions it made."""
    recording = harness.tmp / "events.jsonl"
    with recording.open("w") as out:
        harness.daemon.driver.recorder = lambda e, now: out.write(event_to_json(e, now) + "\n")
        live: list[Decision] = []
        harness.daemon.driver.listeners.append(
            lambda o: live.append(o) if isinstance(o, Decision) else None
        )
        sb.inject_apply_then_timeout(count=1, hold_seconds=1.2, operation="restartAllServices")
        sb.break_tool(ORDERS, "down")  # withdrawn restart_cmak, fallback, unknown outcome
        harness.run(4 * 60)
        sb.break_tool(ORDERS, "error")  # inside the cooldown
        harness.run(20 * 60)  # and after it: a second action
    assert {d.reason for d in live} >= {"probe", "cooldown"}
    replayed = replay(
        harness.daemon.config.policy(), [(e, now) for _, e, now in read_events(recording)]
    )
    assert [o for o in replayed if isinstance(o, Decision)] == live


def test_the_action_path_check_reads_one_target_per_region_in_turn(
    harness: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    driver = harness.daemon.driver
    assert harness.daemon.status()["action_path_up"] is None, "no signed read yet: unknown"
    driver.check_action_path()
    assert harness.metric("remediator_action_path_up") == 1
    assert harness.daemon.status()["action_path_up"] == 1
    sb.inject_error(401, "210", count=1, operation="getClusterStatus")  # permission revoked
    with caplog.at_level(logging.INFO, logger="remediator"):
        driver.check_action_path()
        assert harness.metric("remediator_action_path_up") == 0
        assert harness.daemon.status()["action_path_up"] == 0
        driver.check_action_path()
    assert harness.metric("remediator_action_path_up") == 1
    harness.daemon.metrics.action_path_up.set(0)
    assert harness.daemon.status()["action_path_up"] == 1, "the driver's state, not the gauge"
    assert "action path to CDSS (KR, checked with" in caplog.text and "is back" in caplog.text
    reads = [c for c in sb.calls if c.operation == "getClusterStatus"]
    assert len(reads) == 3, "one signed read per region per check, no retries"
    assert len({c.cluster_no for c in reads}) == 3, "round-robin over the region's targets"


def test_a_recording_that_fails_never_fails_the_event(
    harness: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk under `run --record-events`: remediation goes on, and the log says so once."""
    tried: list[object] = []

    def full_disk(event: object, _now: float) -> None:
        tried.append(event)
        raise OSError(28, "No space left on device")

    harness.daemon.driver.recorder = full_disk
    sb.set_cmak_restart(ORDERS, "available")
    sb.break_tool(ORDERS, "down")
    with caplog.at_level(logging.INFO, logger="remediator"):
        harness.run(4 * 60)
    assert harness.actions(ORDERS) == ["restartCMAKService"]
    acted = {"rule": "cmak-unhealthy", "target": "orders", "outcome": "acted", "reason": "probe"}
    assert harness.metric("remediator_decisions_total", **acted) == 1
    recovered = {"rule": "cmak-unhealthy", "target": "orders", "outcome": "recovered"}
    assert harness.metric("remediator_remediations_total", **recovered) == 1
    assert len(tried) > 10
    assert caplog.text.count("could not record an event") == 1
