"""The daemon's notifications, end to end on one FakeClock: the sandbox breaks a cluster, the
daemon's driver writes each notification to the ledger with what caused it, and its sender
delivers them to a real HTTP receiver."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from pytest_httpserver import HTTPServer

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.e2e import free_port
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness
from tests.notify_receiver import Receiver


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    return Receiver(httpserver)


def harness(
    tmp: Path, sb: Sandbox, clock: FakeClock, receiver: Receiver, sink: str = "", rules: str = ""
) -> Harness:
    tmp.mkdir(exist_ok=True)
    (tmp / "hook-url").write_text(receiver.url + "\n")
    notify = f"[{{name: hook, kind: webhook, url: {{file: {tmp / 'hook-url'}}}{sink}}}]"
    h = Harness(tmp, sb, clock, rules or CMAK_RULE, notify=notify)
    h.daemon.parts.dispatcher.session.trust_env = False
    return h


def outbox(h: Harness) -> list[tuple[str, str | None, float, str]]:
    db = sqlite3.connect(h.tmp / "state.db")
    try:
        return list(db.execute("SELECT event, target, created_at, status FROM notifications"))
    finally:
        db.close()


def deliver(h: Harness) -> None:
    h.daemon.parts.dispatcher.run_once()


def test_an_incident_tells_acted_then_recovered_written_with_their_cause(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, receiver: Receiver
) -> None:
    h = harness(tmp_path, sb, fake_clock, receiver)
    try:
        sb.break_tool(ORDERS, "down")  # restartCMAKService is withdrawn: it falls back
        h.run(5 * 60)
        intents = {a.record.intent_at for a in h.daemon.ledger.recent_actions(5)}
        rows = outbox(h)
        assert [r[0] for r in rows] == ["acted", "acted", "recovered"]
        assert rows[0][2] in intents, "written with the intent, in its transaction"
        deliver(h)
        bodies = [r.body for r in receiver.delivered()]
        assert [(b["event"], b["action"], b["blast_radius"]) for b in bodies] == [
            ("acted", "restart_cmak", "tool"),
            ("acted", "restart_all_services", "cluster"),
            ("recovered", "restart_all_services", "cluster"),
        ]
        first = bodies[0]
        assert (first["target"], first["cluster_no"], first["rule"]) == (
            "orders",
            ORDERS,
            "cmak-unhealthy",
        )
        assert "3 of the last 3 probes failed; fresh probe failed" in first["reason"]
        assert "fell back to restart_all_services" in bodies[1]["message"]
        assert "every broker and ZooKeeper" in bodies[1]["message"]
        assert bodies[2]["message"] == (
            "orders recovered after restart_all_services (rule cmak-unhealthy)."
        )
        assert {r[3] for r in outbox(h)} == {"sent"}
        assert (
            h.metric("remediator_notifications_total", sink="hook", event="acted", result="sent")
            == 2
        )
    finally:
        h.daemon.ledger.close()


def test_a_sink_gets_only_its_events_and_targets(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, receiver: Receiver
) -> None:
    rules = CMAK_RULE.replace("action: restart_cmak", "action: restart_kafka").replace(
        "cooldown: 15m", "cooldown: 5m"
    )
    h = harness(tmp_path, sb, fake_clock, receiver, ", events: [breaker_opened]", rules)
    try:
        sb.break_tool(ORDERS, "down")  # restartKafkaService does not heal CMAK: the breaker opens
        h.run(3 * 3600)
        deliver(h)
        (opened,) = [r.body for r in receiver.delivered()]
        assert opened["event"] == "breaker_opened"
        assert opened["message"] == (
            "remediator stopped restarting orders (rule cmak-unhealthy): restarts are not "
            "helping and a human must look."
        )
        assert "budget of 3 actions" in opened["reason"]
    finally:
        h.daemon.ledger.close()
    receiver.got.clear()
    h = harness(tmp_path / "pay", sb, fake_clock, receiver, ", targets: ['pay*']")
    try:
        sb.break_tool(ORDERS, "down")
        h.run(5 * 60)
        deliver(h)
        assert outbox(h) == [] and receiver.got == []
    finally:
        h.daemon.ledger.close()


def test_pause_and_resume_are_told(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, receiver: Receiver
) -> None:
    h = harness(tmp_path, sb, fake_clock, receiver)
    try:
        h.daemon.parts.operator.pause("orders", 3600, "kernel patching")
        h.daemon.parts.operator.resume(None, reset_breaker=True)
        deliver(h)
        paused, resumed = (r.body for r in receiver.delivered())
        assert (paused["event"], paused["target"], paused["cluster_no"]) == (
            "paused",
            "orders",
            ORDERS,
        )
        assert paused["message"] == (
            "Remediation of orders is paused until 2027-01-15T09:00:00Z: kernel patching."
        )
        assert (resumed["event"], resumed["target"]) == ("resumed", None)
        assert resumed["message"] == "Remediation of every target resumed, and its breakers reset."
    finally:
        h.daemon.ledger.close()


def test_the_action_path_going_down_and_up_is_told_once_each(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, receiver: Receiver
) -> None:
    h = harness(tmp_path, sb, fake_clock, receiver)
    try:
        sb.inject_error(401, "200", count=2, operation="getClusterStatus")
        h.daemon.driver.check_action_path()
        h.daemon.driver.check_action_path()
        h.daemon.driver.check_action_path()
        h.daemon.driver.check_action_path()
        deliver(h)
        down, up = (r.body for r in receiver.delivered())
        assert down["event"] == "action_path_down"
        assert down["message"] == (
            "remediator cannot make signed CDSS calls (KR): a restart would fail too."
        )
        assert "401" in down["reason"]
        assert up["event"] == "action_path_up"
    finally:
        h.daemon.ledger.close()


def test_a_refused_reload_is_told(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, receiver: Receiver
) -> None:
    h = harness(tmp_path, sb, fake_clock, receiver)
    try:
        rules = tmp_path / "rules" / "r.yaml"
        rules.write_text(rules.read_text().replace("cooldown: 15m", "cooldown: soon"))
        assert h.daemon.reload() is False
        deliver(h)
        (refused,) = (r.body for r in receiver.delivered())
        assert (refused["event"], refused["target"]) == ("reload_refused", None)
        assert "rules[0].cooldown" in refused["reason"]
    finally:
        h.daemon.ledger.close()


def test_a_sinks_url_never_shows_in_status_metrics_logs_or_the_ledger(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "T000/B000/sl4ck-s3cr3t-path"
    (tmp_path / "slack-url").write_text(f"http://127.0.0.1:{free_port()}/services/{secret}\n")
    notify = f"[{{name: oncall, kind: slack, url: {{file: {tmp_path / 'slack-url'}}}}}]"
    h = Harness(tmp_path, sb, fake_clock, CMAK_RULE, notify=notify)
    try:
        with caplog.at_level(logging.DEBUG, logger="remediator"):
            sb.break_tool(ORDERS, "down")
            h.run(5 * 60)
            deliver(h)
        rows = outbox(h)
        assert {r[3] for r in rows} == {"pending"}, "the receiver is down: retried later"
        db = sqlite3.connect(h.tmp / "state.db")
        stored = list(db.execute("SELECT * FROM notifications"))
        db.close()
        assert "connection refused" in str(stored)
        seen = [
            json.dumps(h.daemon.status(), default=str),
            generate_latest(h.daemon.registry).decode(),
            caplog.text,
            str(stored),
            repr(h.daemon.parts.secrets),
            repr(h.daemon.config),
        ]
        assert any("oncall not delivered (connection refused)" in t for t in seen)
        for text in seen:
            assert "sl4ck-s3cr3t" not in text
    finally:
        h.daemon.ledger.close()
