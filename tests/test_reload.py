"""SIGHUP reload, driven in-process: a bad config changes nothing; a good one is reconciled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness

RULE = {"rule": "cmak-unhealthy", "target": "orders"}


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def h(tmp_path: Path, sb: Sandbox, fake_clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(tmp_path, sb, fake_clock, CMAK_RULE)
    yield harness
    harness.daemon.ledger.close()


def write_rules(h: Harness, text: str) -> None:
    (h.tmp / "rules" / "r.yaml").write_text("rules:\n" + text)


def test_a_broken_config_is_refused_and_the_old_one_keeps_working(
    h: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    write_rules(h, CMAK_RULE.replace("failures: 3", "failures: 9"))  # 9 of 3: invalid
    with caplog.at_level(logging.ERROR, logger="remediator"):
        assert h.daemon.reload() is False
    assert h.metric("remediator_config_last_reload_success") == 0
    rules = h.tmp / "rules" / "r.yaml"
    assert (
        f"reload refused: {rules}:5: rules[0].trigger.probe.failures: must be at most 'of' (3)"
        in caplog.text
    )
    assert "still running the previous configuration" in caplog.text
    sb.break_tool(ORDERS, "down")
    h.run(60)
    assert h.actions(ORDERS) == ["restartCMAKService"], "the old rules still remediate"


def test_a_shortened_cooldown_is_recomputed_from_the_ledger(
    h: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sb.break_tool(ORDERS, "down")
    h.run(45)
    assert len(h.actions(ORDERS)) == 1
    h.run(135)  # the tool stays down: not recovered after the 2m verification
    sb.break_tool(ORDERS, "down")
    write_rules(h, CMAK_RULE.replace("cooldown: 15m", "cooldown: 5m"))
    with caplog.at_level(logging.INFO, logger="remediator"):
        assert h.daemon.reload() is True
    assert "cooldown 15m -> 5m" in caplog.text
    assert h.metric("remediator_config_last_reload_success") == 1
    h.daemon.tick()
    left = h.metric("remediator_cooldown_remaining_seconds", **RULE)
    assert left == pytest.approx(300 - 150)  # acted at +30s, now +180s: 5m - 150s
    h.run(300)
    assert len(h.actions(ORDERS)) == 2, "the shorter cooldown applies to the past action"


def test_a_removed_rule_is_retired_and_a_new_target_probed(h: Harness, sb: Sandbox) -> None:
    write_rules(
        h,
        CMAK_RULE.replace("cmak-unhealthy", "cmak-renamed").replace(
            '["orders", "analytics"]', '["analytics"]'
        ),
    )
    assert h.daemon.reload() is True
    status = h.daemon.status()
    orders = next(t for t in status["targets"] if t["name"] == "orders")
    assert orders["rules"] == []
    sb.break_tool(ORDERS, "down")
    h.run(120)
    assert h.actions(ORDERS) == [], "no rule applies to orders any more"
    jobs = {j.id for j in h.daemon.scheduler.get_jobs()}
    assert "action-path" in jobs
    assert {"orders", "analytics"} <= set(h.daemon.probes.targets)


def test_probe_windows_carry_over_a_reload(h: Harness, sb: Sandbox) -> None:
    sb.break_tool(ORDERS, "down")
    h.run(30)  # two failures
    write_rules(h, CMAK_RULE.replace("budget: {max: 3, per: 6h}", "budget: {max: 2, per: 6h}"))
    assert h.daemon.reload() is True
    h.run(15)  # the third failure trips the rule: the window survived the reload
    assert h.actions(ORDERS) == ["restartCMAKService"]


def test_a_reload_keeps_the_ledger_and_driver_and_makes_clients_only_for_a_new_ncp(
    h: Harness, sb: Sandbox
) -> None:
    before = h.daemon.parts
    assert h.daemon.reload() is True
    after = h.daemon.parts
    for kept in ("ledger", "driver", "probe_loop", "intake", "operator", "client"):
        assert getattr(after, kept) is getattr(before, kept), kept
    assert after.engine is not before.engine and h.daemon.driver.engine is after.engine
    config = h.tmp / "remediator.yaml"
    config.write_text(config.read_text().replace("timeout: 1s\n", "timeout: 2s\n", 1))
    assert h.daemon.reload() is True
    fresh = h.daemon.parts
    assert fresh.config.ncp.timeout == 2.0
    assert fresh.client is not after.client and fresh.path_client is not after.path_client
    assert h.daemon.driver.client is fresh.client
    assert h.daemon.driver.path_client is fresh.path_client
    sb.break_tool(ORDERS, "down")
    h.run(45)
    assert h.actions(ORDERS) == ["restartCMAKService"], "the new client signs the call"
