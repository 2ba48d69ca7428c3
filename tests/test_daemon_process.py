"""The daemon as users run it: `remediator run` in a subprocess, the sandbox, real time.

Covers what only a real process shows: READY=1 to systemd, /metrics accepted by the real
promtool, SIGTERM giving exit 0, and SIGKILL at any point of a remediation never leading
to a repeated action inside the cooldown.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from remediator.sandbox import Sandbox
from tests.e2e import free_port, require_binary
from tests.pg import Postgres
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e  # every test runs `python -m remediator run` as a subprocess

AK, SK = "PROC-AK", "proc-sk"  # sandbox test keys, not secrets
ORDERS = "1484848"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


class Proc:
    """A `remediator run` subprocess on a generated config."""

    def __init__(self, tmp: Path, sb: Sandbox, ledger_url: str = "") -> None:
        self.tmp = tmp
        self.port = free_port()
        self.db = tmp / "state.db"
        self.ledger_url = ledger_url
        state = f'url: "{ledger_url}"' if ledger_url else f'path: "{self.db}"'
        (tmp / "rules").mkdir(parents=True, exist_ok=True)
        (tmp / "rules" / "r.yaml").write_text(
            """
rules:
  - name: cmak-unhealthy
    targets: ["*"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    cooldown: 1h
    verify: {grace: 1s, successes: 2, timeout: 4s}
"""
        )
        (tmp / "remediator.yaml").write_text(
            f"""
ncp: {{endpoint: "{sb.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}, timeout: 3s}}
server: {{listen: "127.0.0.1:{self.port}"}}
state: {{{state}}}
targets:
  - name: orders
    cluster_no: "{ORDERS}"
    health: {{kind: cmak, url: "{sb.tool_url(ORDERS)}", interval: 1s, timeout: 1s}}
  - name: payments
    cluster_no: "1484849"
    health: {{kind: kafka_ui, url: "{sb.tool_url("1484849")}", interval: 1s, timeout: 1s}}
rules: [rules/*.yaml]
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        full = {**os.environ, "AK": AK, "SK": SK, **env}
        self.log = (self.tmp / "daemon.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *("-m", "remediator", "run", "-c", str(self.tmp / "remediator.yaml")),
                *args,
            ],
            env=full,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self.proc

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self) -> bool:
        try:
            return requests.get(self.url("/-/ready"), timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def ledger_rows(self) -> list[tuple[object, ...]]:
        if self.ledger_url:
            with psycopg.connect(self.ledger_url) as conn:
                try:
                    return list(conn.execute("SELECT action, result, remediation FROM actions"))
                except psycopg.errors.UndefinedTable:  # the daemon is still creating the schema
                    return []
        if not self.db.exists():
            return []
        db = sqlite3.connect(self.db)
        try:
            return list(db.execute("SELECT action, result, remediation FROM actions"))
        except sqlite3.OperationalError:  # the daemon is still creating the schema
            return []
        finally:
            db.close()

    def output(self) -> str:
        return (self.tmp / "daemon.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def proc(tmp_path: Path, sb: Sandbox, request: pytest.FixtureRequest) -> Iterator[Proc]:
    """A daemon on a SQLite ledger, or (parametrized indirectly) on a real PostgreSQL one."""
    url = ""
    if getattr(request, "param", "sqlite") == "postgres":
        url = request.getfixturevalue("postgres").database()
    p = Proc(tmp_path, sb, url)
    yield p
    p.stop()


@pytest.fixture
def pair(tmp_path: Path, sb: Sandbox, postgres: Postgres) -> Iterator[tuple[Proc, Proc]]:
    """Two daemons (not started) on one PostgreSQL ledger; both killed at the end."""
    url = postgres.database()
    first, second = Proc(tmp_path / "a", sb, url), Proc(tmp_path / "b", sb, url)
    yield first, second
    first.stop()
    second.stop()


def test_ready_notify_metrics_and_clean_sigterm(proc: Proc, tmp_path: Path) -> None:
    notify_path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        notify.settimeout(20)
        p = proc.start(NOTIFY_SOCKET=notify_path)
        message = notify.recv(4096).decode()
    assert "READY=1" in message.splitlines()
    assert proc.ready()
    assert requests.get(proc.url("/-/healthy"), timeout=2).status_code == 200
    wait_for(
        lambda: "remediator_probes_total{" in requests.get(proc.url("/metrics"), timeout=2).text,
        timeout=10,
        what="a first probe",
    )
    text = requests.get(proc.url("/metrics"), timeout=2).text
    # the per-target gauges exist from start-up, at 0 until something happens
    for line in (
        'remediator_breaker_open{rule="cmak-unhealthy",target="orders"} 0.0',
        'remediator_cooldown_remaining_seconds{rule="cmak-unhealthy",target="payments"} 0.0',
        'remediator_paused{target="orders"} 0.0',
        "remediator_config_last_reload_success 1.0",
    ):
        assert line in text
    promtool = require_binary("promtool")
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    status = requests.get(proc.url("/api/v1/status"), timeout=2).json()
    assert [t["name"] for t in status["targets"]] == ["orders", "payments"]
    p.send_signal(signal.SIGTERM)
    assert p.wait(15) == 0
    assert '"message": "stopped"' in proc.output()


@pytest.mark.parametrize("proc", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("point", ["after_intent", "during_call", "after_call"])
def test_sigkill_during_a_remediation_never_repeats_the_action(
    proc: Proc, sb: Sandbox, point: str
) -> None:
    sb.break_tool(ORDERS, "down")
    if point == "during_call":
        sb.inject_latency(3.0, operation="restartCMAKService")
        p = proc.start()
        # The call has reached the gateway (which holds it 3 s) once its latency fault is taken:
        # the kill then falls during the call, however slow the machine is.
        wait_for(
            lambda: len(proc.ledger_rows()) == 1 and not sb.pending_faults(),
            timeout=20,
            what="the intent in the ledger and the call at the gateway",
        )
        p.send_signal(signal.SIGKILL)
    else:
        p = proc.start(REMEDIATOR_FAILPOINT=point)
    assert p.wait(20) == -signal.SIGKILL
    assert [r[1:] for r in proc.ledger_rows()] == [(None, None)], "the intent survived"
    if point == "during_call":  # the gateway still carries out the call its caller died on
        wait_for(
            lambda: len(sb.action_calls(ORDERS)) == 1, timeout=10, what="the delayed call to land"
        )
    sent_before = len(sb.action_calls(ORDERS))
    proc.start()
    wait_for(
        lambda: "resuming restart_cmak on orders" in proc.output(), timeout=15, what="the resume"
    )
    wait_for(
        lambda: proc.ledger_rows()[0][2] is not None,
        timeout=20,
        what="the unfinished remediation closed",
    )
    # broken again inside the cooldown (once any restart is over, so that it cannot heal
    # the tool): 3 of 3 failures trip the rule, and it holds back
    wait_for(lambda: sb.cluster(ORDERS).status == "running", timeout=10, what="the cluster running")
    sb.break_tool(ORDERS, "down")
    wait_for(
        lambda: '"reason": "cooldown"' in proc.output(), timeout=20, what="a cooldown suppression"
    )
    calls = sb.action_calls(ORDERS)
    assert len(calls) == sent_before <= 1
    if point == "after_intent":
        assert calls == [], "killed before the call: nothing was sent, and nothing is resent"
    assert len(proc.ledger_rows()) == 1


def test_sighup_with_a_broken_config_keeps_running_then_a_good_one_applies(
    proc: Proc, sb: Sandbox
) -> None:
    p = proc.start()
    wait_for(proc.ready, timeout=20, what="the daemon ready")
    rules = proc.tmp / "rules" / "r.yaml"
    good = rules.read_text()

    def reload_success() -> float | None:
        for line in requests.get(proc.url("/metrics"), timeout=2).text.splitlines():
            if line.startswith("remediator_config_last_reload_success "):
                return float(line.split()[1])
        return None

    rules.write_text(good.replace("failures: 3", "failures: seven"))
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: reload_success() == 0.0, timeout=10, what="the refused reload")
    assert p.poll() is None
    assert "reload refused" in proc.output()
    # the old rules still remediate
    sb.break_tool(ORDERS, "down")
    wait_for(
        lambda: len(sb.action_calls(ORDERS)) == 1,
        timeout=20,
        what="a remediation after the refusal",
    )
    rules.write_text(good.replace("cooldown: 1h", "cooldown: 30m"))
    p.send_signal(signal.SIGHUP)
    wait_for(
        lambda: "cooldown 1h -> 30m" in proc.output(), timeout=10, what="the applied reload's log"
    )
    assert reload_success() == 1.0
    p.send_signal(signal.SIGTERM)
    assert p.wait(15) == 0


def test_a_second_daemon_on_a_postgresql_ledger_refuses_to_start(pair: tuple[Proc, Proc]) -> None:
    first, second = pair
    first.start()
    wait_for(first.ready, timeout=20, what="the first daemon ready")
    # Exit 1, not 2: a held or unreachable ledger is worth another try by systemd.
    assert second.start().wait(20) == 1
    assert "cannot start: ledger postgresql://" in second.output()
    assert "is held by another remediator (remediator " in second.output()
    assert first.ready(), "the first one goes on"
    first.stop()  # SIGKILL: the session, and the hold, end with the process
    second.start()
    wait_for(second.ready, timeout=20, what="the second daemon, once the first is gone")


def test_an_unreachable_postgresql_ledger_is_a_retryable_start_failure(
    tmp_path: Path, sb: Sandbox
) -> None:
    proc = Proc(tmp_path, sb, f"postgresql://remediator@127.0.0.1:{free_port()}/remediator")
    try:
        assert proc.start().wait(30) == 1, "exit 1: systemd's Restart=on-failure tries again"
        assert "cannot start: ledger postgresql://remediator@127.0.0.1:" in proc.output()
        assert "cannot connect" in proc.output()
    finally:
        proc.stop()


def test_a_standby_takes_over_the_postgresql_ledger_when_the_active_daemon_dies(
    pair: tuple[Proc, Proc], sb: Sandbox, tmp_path: Path
) -> None:
    active, standby = pair
    notify_path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        notify.settimeout(20)
        active.start()
        wait_for(active.ready, timeout=20, what="the active daemon ready")
        standby.start("--standby", NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="2000000")
        message = notify.recv(4096).decode().splitlines()
        assert "READY=1" in message, "systemd sees the standby up"
        assert any(m.startswith("STATUS=standby: ledger postgresql://") for m in message)
        assert notify.recv(4096).decode() == "WATCHDOG=1", "and petting its watchdog"
    health = requests.get(standby.url("/-/healthy"), timeout=2)
    assert health.status_code == 200
    assert requests.get(standby.url("/-/ready"), timeout=2).status_code == 503
    text = requests.get(standby.url("/metrics"), timeout=2).text
    assert "remediator_standby 1.0" in text
    hook = requests.post(standby.url("/api/v1/alerts/alertmanager"), json={}, timeout=2)
    assert (hook.status_code, hook.headers["Retry-After"]) == (503, "5")
    assert "standing by: ledger postgresql://" in standby.output()
    assert active.ready(), "the active daemon goes on"

    # The active daemon dies, broken CMAK and all: the standby takes over and acts, once.
    sb.break_tool(ORDERS, "down")
    active.stop()  # SIGKILL
    wait_for(standby.ready, timeout=30, what="the standby to take over")
    assert "taking over the ledger after" in standby.output()
    wait_for(
        lambda: len(sb.action_calls(ORDERS)) == 1, timeout=30, what="the new active daemon to act"
    )
    wait_for(
        lambda: [r[2] for r in standby.ledger_rows()] == ["recovered"],
        timeout=30,
        what="its verification",
    )
    assert len(sb.action_calls(ORDERS)) == 1, "one action for the incident, not one per daemon"
    text = requests.get(standby.url("/metrics"), timeout=2).text
    assert "remediator_standby 0.0" in text
    assert standby.proc is not None
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(15) == 0


def test_a_standby_stops_cleanly_while_waiting(pair: tuple[Proc, Proc]) -> None:
    active, standby = pair
    active.start()
    wait_for(active.ready, timeout=20, what="the active daemon ready")
    p = standby.start("--standby")
    wait_for(lambda: "standing by" in standby.output(), timeout=20, what="the standby")
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0
    assert active.ready()


def test_a_standby_runs_the_configuration_it_was_told_to_reread(pair: tuple[Proc, Proc]) -> None:
    active, standby = pair
    active.start()
    wait_for(active.ready, timeout=20, what="the active daemon ready")
    p = standby.start("--standby")
    wait_for(lambda: "standing by" in standby.output(), timeout=20, what="the standby")
    config = standby.tmp / "remediator.yaml"
    config.write_text(config.read_text().replace("name: payments", "name: billing"))
    p.send_signal(signal.SIGHUP)  # e.g. systemctl reload, while standing by: not fatal
    active.stop()
    wait_for(standby.ready, timeout=30, what="the standby to take over")
    assert "SIGHUP while standing by: running the configuration as it is now" in standby.output()
    status = requests.get(standby.url("/api/v1/status"), timeout=2).json()
    assert [t["name"] for t in status["targets"]] == ["orders", "billing"]


def test_standby_needs_a_postgresql_ledger(proc: Proc) -> None:
    assert proc.start("--standby").wait(20) == 2
    assert "--standby needs state.url" in proc.output()
