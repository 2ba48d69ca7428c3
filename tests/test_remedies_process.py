"""Remedies in a real `remediator run` process: a SIGKILL in the middle of a rolling restart.

The daemon comes back, finds the rolling restart in the ledger, watches NCP's progress check
until the brokers are green, and never sends a second rollingRestart.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.sandbox import Sandbox
from tests.e2e import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e  # `python -m remediator run` as a subprocess

AK, SK = "ROLL-AK", "roll-sk"  # sandbox test keys, not secrets
ORDERS = "1484848"
BROKER_2 = "orders-broker-002"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0, node_restart_delay=1.0).start()
    try:
        yield box
    finally:
        box.stop()


def write_config(tmp: Path, sb: Sandbox) -> Path:
    (tmp / "rules").mkdir(parents=True, exist_ok=True)
    (tmp / "rules" / "r.yaml").write_text(
        """
rules:
  - name: broker-rolling
    targets: ["orders"]
    trigger: {probe: {failures: 2, of: 2, check: cluster}}
    actions: [rolling_restart]
    cooldown: 1h
    verify: {grace: 1s, successes: 2, timeout: 30s}
"""
    )
    config = tmp / "remediator.yaml"
    config.write_text(
        f"""
ncp: {{endpoint: "{sb.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}, timeout: 3s}}
server: {{listen: "127.0.0.1:{free_port()}"}}
state: {{path: "{tmp / "state.db"}"}}
targets:
  - name: orders
    cluster_no: "{ORDERS}"
    health: {{kind: cmak, url: "{sb.tool_url(ORDERS)}", interval: 1s, timeout: 1s}}
    cluster_health: {{interval: 1s}}
rules: [rules/*.yaml]
"""
    )
    return config


def start(config: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "remediator", "run", "-c", str(config)],
        env={**os.environ, "AK": AK, "SK": SK, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def rows(db: Path) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT action, step, result, remediation FROM actions"))
    except sqlite3.OperationalError:  # the schema is being created
        return []
    finally:
        conn.close()


def sent(sb: Sandbox, operation: str) -> int:
    return sum(1 for c in sb.calls if c.operation == operation and c.verified)


def test_a_sigkill_mid_rolling_restart_resumes_watching_and_never_resends(
    tmp_path: Path, sb: Sandbox
) -> None:
    config, log, db = write_config(tmp_path, sb), tmp_path / "daemon.log", tmp_path / "state.db"
    sb.break_broker(ORDERS, BROKER_2, "yellow")  # a rolling restart is possible, and heals it
    first = start(config, log, REMEDIATOR_FAILPOINT="after_call")
    try:
        assert first.wait(30) == -signal.SIGKILL, log.read_text()
    finally:
        if first.poll() is None:
            first.kill()
    assert sent(sb, "rollingRestart") == 1
    assert rows(db) == [("rolling_restart", 0, None, None)]  # the intent, no outcome: unknown
    second = start(config, log)
    try:
        wait_for(
            lambda: "resuming rolling_restart on orders" in log.read_text(),
            timeout=15,
            what="the resume from the ledger",
        )
        wait_for(
            lambda: rows(db) and rows(db)[0][3] is not None,
            timeout=40,
            what="the rolling restart verified",
            detail=lambda: log.read_text()[-3000:],
        )
        assert rows(db)[0][3] == "recovered"
        assert sent(sb, "rollingRestartProgressCheck") >= 1  # the progress, watched
        assert sent(sb, "rollingRestart") == 1  # never a second one
        assert all(n.broker_status == "green" for n in sb.nodes(ORDERS) if n.role == "BROKER")
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        acted = [x for x in lines if x.get("event") == "decision" and x.get("outcome") == "acted"]
        assert [(x["action"], x["blast_radius"]) for x in acted] == [("rolling_restart", "rolling")]
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
