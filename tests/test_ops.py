"""The operator commands (status, pause, resume, restart), with and without a running daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.cli import main
from remediator.clock import FakeClock, SystemClock
from remediator.core.events import AlertEvent
from remediator.sandbox import Sandbox
from remediator.store.sqlite import SqliteLedger
from tests.e2e import free_port
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness

ADMIN = "admin-test-token"  # a test token, not a secret


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AK", AK)
    monkeypatch.setenv("SK", SK)


@pytest.fixture
def offline(
    tmp_path: Path, sandbox_keys: tuple[str, str], env: None
) -> Iterator[tuple[Path, Sandbox]]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=0.5).start()
    box.set_cmak_restart(ORDERS, "available")
    (tmp_path / "rules").mkdir()
    rule = CMAK_RULE.replace('["orders", "analytics"]', '["orders"]')
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n" + rule)
    cfg = tmp_path / "remediator.yaml"
    cfg.write_text(
        f"""
ncp: {{endpoint: "{box.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}, timeout: 2s}}
server: {{listen: "127.0.0.1:{free_port()}"}}
state: {{path: "{tmp_path / "state.db"}"}}
targets:
  - {{name: orders, cluster_no: "{ORDERS}", health: {{kind: cmak, url: "{box.tool_url(ORDERS)}"}}}}
rules: [rules/*.yaml]
"""
    )
    yield cfg, box
    box.stop()


def test_without_a_daemon_commands_work_on_the_ledger(
    offline: tuple[Path, Sandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, box = offline
    c = ["-c", str(cfg)]
    assert main(["pause", "orders", "--for", "30m", "--reason", "broker upgrade", *c]) == 0
    assert "paused orders until" in capsys.readouterr().out
    assert main(["status", "--json", *c]) == 0
    status = json.loads(capsys.readouterr().out)
    (orders,) = status["targets"]
    assert (orders["paused"], orders["pause_reason"]) == (True, "broker upgrade")
    assert main(["restart", "orders", "--reason", "stuck", *c]) == 1
    assert "suppressed (paused)" in capsys.readouterr().out
    assert box.action_calls() == []
    assert main(["resume", "orders", *c]) == 0
    assert main(["restart", "orders", "--reason", "ticket 42", *c]) == 0
    out = capsys.readouterr().out
    assert "acted: restart_cmak on orders" in out and "requested by an operator: ticket 42" in out
    assert [c.operation for c in box.action_calls()] == ["restartCMAKService"]
    # with no daemon to verify it, the restart stays in progress: nothing more goes out,
    # even forced (--force skips only the cooldown)
    assert main(["restart", "orders", "--reason", "again", "--force", *c]) == 1
    assert "suppressed (in_progress)" in capsys.readouterr().out
    assert len(box.action_calls()) == 1
    assert main(["status", *c]) == 0
    table = capsys.readouterr().out
    assert "from the ledger" in table and "restart_cmak (tool) on orders (manual, enforce)" in table
    ledger = SqliteLedger(cfg.parent / "state.db")
    assert [a.record.rule for a in ledger.recent_actions(5)] == ["manual"]


def test_offline_commands_leave_undecided_alerts_to_the_daemon(
    offline: tuple[Path, Sandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    """An alert recorded but never decided is the daemon's to decide when it next runs: an
    operator's command on the ledger neither decides it nor acts on it."""
    cfg, box = offline
    rules = cfg.parent / "rules" / "r.yaml"
    rules.write_text(
        rules.read_text()
        + """
  - name: cmak-down-alert
    targets: ["orders"]
    trigger: {alert: {alertname: CMAKDown}}
    action: restart_cmak
    cooldown: 15m
"""
    )
    now = SystemClock().now()
    alert = AlertEvent("orders", "CMAKDown", "firing", "fp-1", "2026-11-27T03:00:00Z", now)
    ledger = SqliteLedger(cfg.parent / "state.db")
    assert ledger.record_alerts([alert], at=now) == [True]
    ledger.close()
    c = ["-c", str(cfg)]
    assert main(["restart", "orders", "--reason", "look only", "--dry-run", *c]) == 0
    assert "shadow: restart_cmak on orders" in capsys.readouterr().out
    assert main(["status", "--json", *c]) == 0
    assert json.loads(capsys.readouterr().out)["action_path_up"] is None, "no signed read"
    assert box.action_calls() == []
    ledger = SqliteLedger(cfg.parent / "state.db")
    assert [a.fingerprint for a in ledger.pending_alerts(now - 60)] == ["fp-1"]
    ledger.close()


def test_the_command_line_loads_no_daemon_to_start() -> None:
    """`remediator --help` stays fast: the daemon, its scheduler and its server load lazily."""
    code = (
        "import sys, remediator.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('apscheduler', 'waitress') "
        "or m in ('remediator.runtime.daemon', 'remediator.runtime.wiring', 'requests')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_bad_requests_are_clear(
    offline: tuple[Path, Sandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _box = offline
    # Bad usage is exit 2 (SPEC section 4), before anything is done.
    assert main(["pause", "nope", "--for", "1h", "--reason", "x", "-c", str(cfg)]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err
    assert main(["pause", "orders", "--for", "soon", "--reason", "x", "-c", str(cfg)]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["pause", "orders", "--reason", "x", "-c", str(cfg)])
    assert exc.value.code == 2


@pytest.fixture
def running(
    tmp_path: Path, fake_clock: FakeClock, env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock).start()
    (tmp_path / "admin").write_text(ADMIN)
    port = free_port()
    h = Harness(
        tmp_path,
        box,
        fake_clock,
        CMAK_RULE,
        server=f'listen: "127.0.0.1:{port}", admin_token: {{file: "{tmp_path / "admin"}"}}',
    )
    h.daemon.http.start()
    yield h
    h.daemon.http.close()
    h.daemon.ledger.close()
    box.stop()


def test_with_a_daemon_mutations_go_through_its_engine(
    running: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["-c", str(running.tmp / "remediator.yaml")]
    assert main(["pause", "--all", "--for", "1h", "--reason", "freeze", *cfg]) == 0
    assert "via the running daemon" in capsys.readouterr().out
    assert running.daemon.engine.paused("orders", running.clock.now()) == (True, "freeze")
    assert [p.reason for p in running.daemon.ledger.active_pauses(running.clock.now())] == [
        "freeze"
    ]
    assert main(["status", "--json", *cfg]) == 0
    assert "daemon at http://127.0.0.1" in json.loads(capsys.readouterr().out)["source"]
    assert main(["resume", "--all", *cfg]) == 0
    assert running.daemon.engine.paused("orders", running.clock.now())[0] is False


def test_a_running_daemon_refuses_a_wrong_or_missing_admin_token(
    running: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    (running.tmp / "admin").write_text("wrong")
    cfg = ["-c", str(running.tmp / "remediator.yaml")]
    assert main(["pause", "orders", "--for", "1h", "--reason", "x", *cfg]) == 1
    assert "missing or wrong bearer token" in capsys.readouterr().err
    assert running.daemon.engine.paused("orders", running.clock.now())[0] is False
    text = (running.tmp / "remediator.yaml").read_text()
    (running.tmp / "remediator.yaml").write_text(
        text.replace(", admin_token: {file:", ", x: {file:").replace(
            ', x: {file: "' + str(running.tmp / "admin") + '"}', ""
        )
    )
    assert main(["pause", "orders", "--for", "1h", "--reason", "x", *cfg]) == 1
    assert "needs server.admin_token" in capsys.readouterr().err


BROKER_LADDER = """
  - name: broker-ladder
    targets: ["orders"]
    trigger: {probe: {failures: 2, of: 2, check: cluster}}
    actions: [restart_kafka_node, rolling_restart]
    cooldown: 30m
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""


def test_status_says_how_far_each_rule_and_the_action_in_flight_reach(
    tmp_path: Path, fake_clock: FakeClock, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    h = Harness(
        tmp_path,
        box,
        fake_clock,
        CMAK_RULE + BROKER_LADDER,
        server=f'listen: "127.0.0.1:{free_port()}"',
        cluster_health="15s",
    )
    h.daemon.http.start()
    try:
        # A broker the node restart cannot heal: the ladder goes on to its second step.
        box.break_broker(ORDERS, "orders-broker-002", "yellow", persistent=True)
        for _ in range(40):
            if [c.operation for c in box.action_calls(ORDERS)][-1:] == ["rollingRestart"]:
                break
            h.step()
        assert main(["status", "-c", str(tmp_path / "remediator.yaml")]) == 0
        table = capsys.readouterr().out.splitlines()
    finally:
        h.daemon.http.close()
        h.daemon.ledger.close()
        box.stop()
    words = [line.split() for line in table]
    orders = next(w for w in words if w[:2] == ["orders", ORDERS])
    assert " ".join(orders[3:]) == (
        "- rolling_restart (rolling; step 2 of 2; verifying) by broker-ladder"
    )
    assert next(w for w in words if w[:1] == ["RULE"])[:5] == [
        "RULE",
        "TARGET",
        "MODE",
        "PHASE",
        "WORST",
    ]
    rows = {(w[0], w[1]): w[2:5] for w in words if w[:1] in (["cmak-unhealthy"], ["broker-ladder"])}
    assert rows == {
        ("cmak-unhealthy", "orders"): ["enforce", "healthy", "cluster"],
        ("cmak-unhealthy", "analytics"): ["enforce", "healthy", "cluster"],
        ("broker-ladder", "orders"): ["enforce", "verifying", "rolling"],
    }
    may_send = table[table.index(next(line for line in table if line.startswith("what each"))) :]
    assert may_send[1:3] == [
        "  cmak-unhealthy: restart_cmak (tool) → restart_all_services (cluster); "
        "worst case cluster, max_blast_radius cluster",
        "  broker-ladder: restart_kafka_node (node) → rolling_restart (rolling); "
        "worst case rolling, max_blast_radius rolling",
    ]
    recent = [line for line in table if line.startswith("  #")]
    assert [line.split(" on orders ")[0].split(maxsplit=2)[2] for line in recent] == [
        "rolling_restart (rolling)",
        "restart_kafka_node (node)",
    ]
