"""`remediator run` in a subprocess, SIGKILLed with notifications pending: the daemon started
again delivers them, with the ids they were made with."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from pytest_httpserver import HTTPServer

from remediator.sandbox import Sandbox
from tests.e2e import free_port
from tests.notify_receiver import Receiver
from tests.pg import Postgres
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e  # a subprocess daemon

AK, SK = "NOTIFY-AK", "notify-sk"  # sandbox test keys, not secrets
ORDERS = "1484848"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


class Daemon:
    """`remediator run` on a config with one webhook sink; its output in a file."""

    def __init__(self, tmp: Path, sb: Sandbox, hook: str, url: str = "") -> None:
        self.tmp, self.db, self.url = tmp, tmp / "state.db", url
        self.port = free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "hook-url").write_text(hook)
        state = f'url: "{url}"' if url else f'path: "{self.db}"'
        (tmp / "rules").mkdir()
        (tmp / "rules" / "r.yaml").write_text(
            """
rules:
  - name: cmak-unhealthy
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    cooldown: 1h
    verify: {grace: 1s, successes: 2, timeout: 20s}
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
rules: [rules/*.yaml]
notify:
  - {{name: audit, kind: webhook, url: {{file: "{tmp / "hook-url"}"}}}}
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "no_proxy")}
        with (self.tmp / "daemon.log").open("ab") as out:
            config = str(self.tmp / "remediator.yaml")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "remediator", "run", "-c", config, *args],
                env={**env, "AK": AK, "SK": SK},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.output()
        return True

    def output(self) -> str:
        return (self.tmp / "daemon.log").read_text(errors="replace")[-4000:]

    def outbox(self) -> list[tuple[str, str, int]]:
        query = "SELECT id, status, attempts FROM notifications ORDER BY seq"
        if self.url:
            with psycopg.connect(self.url) as conn:
                try:
                    return [(str(a), str(b), int(str(c))) for a, b, c in conn.execute(query)]
                except psycopg.errors.UndefinedTable:  # the schema is still being made
                    return []
        if not self.db.exists():
            return []
        db = sqlite3.connect(self.db)
        try:
            return list(db.execute(query))
        except sqlite3.OperationalError:  # the schema is still being made
            return []
        finally:
            db.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def test_notifications_pending_at_a_sigkill_are_delivered_after_the_restart(
    tmp_path: Path, sb: Sandbox, httpserver: HTTPServer
) -> None:
    receiver = Receiver(httpserver, default=503)  # down: every attempt is retried
    daemon = Daemon(tmp_path, sb, receiver.url)
    try:
        daemon.start()
        sb.break_tool(ORDERS, "down")
        wait_for(
            lambda: daemon.alive() and any(a >= 1 for _, _, a in daemon.outbox()),
            timeout=30,
            what="an acted notification tried and pending",
            detail=daemon.output,
        )
        daemon.kill()
        pending = [nid for nid, status, _ in daemon.outbox() if status == "pending"]
        assert pending, daemon.outbox()
        assert receiver.delivered() == []
        tried = {r.id for r in receiver.got}
        assert tried <= set(pending)

        receiver.default = 200
        daemon.start()
        wait_for(
            lambda: daemon.alive() and set(pending) <= {r.id for r in receiver.delivered()},
            timeout=30,
            what="the pending notifications delivered after the restart",
            detail=daemon.output,
        )
        delivered = [r.id for r in receiver.delivered()]
        assert len(delivered) == len(set(delivered)), "each once"
        for r in receiver.got:
            assert r.headers["Idempotency-Key"] == r.id
        first = next(r.body for r in receiver.delivered() if r.id == pending[0])
        assert (first["event"], first["target"], first["action"]) == (
            "acted",
            "orders",
            "restart_cmak",
        )
        assert [c.operation for c in sb.action_calls(ORDERS)] == ["restartCMAKService"]
    finally:
        daemon.kill()


def test_in_a_standby_pair_the_daemon_that_takes_over_sends_what_was_pending(
    tmp_path: Path, sb: Sandbox, httpserver: HTTPServer, postgres: Postgres
) -> None:
    receiver = Receiver(httpserver, default=503)
    url = postgres.database()
    active = Daemon(tmp_path / "a", sb, receiver.url, url)
    standby = Daemon(tmp_path / "b", sb, receiver.url, url)
    try:
        active.start()
        sb.break_tool(ORDERS, "down")
        wait_for(
            lambda: active.alive() and any(a >= 1 for _, _, a in active.outbox()),
            timeout=30,
            what="an acted notification tried and pending",
            detail=active.output,
        )
        standby.start("--standby")
        wait_for(
            lambda: standby.alive() and "standing by" in standby.output(),
            timeout=20,
            what="the standby",
            detail=standby.output,
        )
        metrics = requests.get(f"http://127.0.0.1:{standby.port}/metrics", timeout=5).text
        assert "remediator_standby 1.0" in metrics
        assert "remediator_notifications_total{" not in metrics, "a standby sends nothing"
        listed = requests.get(f"http://127.0.0.1:{standby.port}/api/v1/approvals", timeout=5)
        assert listed.status_code == 503, "the approvals are the active daemon's"
        active.kill()
        pending = [nid for nid, status, _ in standby.outbox() if status == "pending"]
        assert pending
        receiver.default = 200
        wait_for(
            lambda: standby.alive() and set(pending) <= {r.id for r in receiver.delivered()},
            timeout=60,
            what="the new active daemon delivering what was pending",
            detail=standby.output,
        )
        assert "taking over the ledger" in standby.output()
        delivered = [r.id for r in receiver.delivered()]
        assert len(delivered) == len(set(delivered))
    finally:
        active.kill()
        standby.kill()
