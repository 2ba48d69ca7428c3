"""Approvals end to end: the daemon's engine, driver and ledger against the sandbox on one
FakeClock, notifications to a real HTTP receiver, on SQLite and on a real PostgreSQL — from
the trip to the signed call, a denial, an expiry, and the state across a restart."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.harness import AK, ORDERS, SK, Harness
from tests.notify_receiver import Receiver

APPROVE_RULE = """
  - name: cmak-unhealthy
    targets: ["orders", "analytics"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    mode: approve
    approval_timeout: 30m
    cooldown: 15m
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""
LABELS = {"rule": "cmak-unhealthy", "target": "orders"}


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def state(request: pytest.FixtureRequest) -> str:
    """The `state:` of the configuration: a SQLite file (the default), or a real PostgreSQL."""
    if request.param == "sqlite":
        return ""
    return f'url: "{request.getfixturevalue("postgres").database()}"'


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    return Receiver(httpserver)


@pytest.fixture
def harness(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, receiver: Receiver, state: str
) -> Iterator[Harness]:
    (tmp_path / "hook-url").write_text(receiver.url)
    notify = f"[{{name: audit, kind: webhook, url: {{file: {tmp_path / 'hook-url'}}}}}]"
    extra = {"notify": notify} | ({"state": state} if state else {})
    h = Harness(tmp_path, sb, fake_clock, APPROVE_RULE, ledger=None, **extra)
    h.daemon.parts.dispatcher.session.trust_env = False
    yield h
    h.daemon.ledger.close()


def trip(h: Harness, sb: Sandbox) -> str:
    """Break orders' CMAK until its rule asks; the approval's id."""
    sb.break_tool(ORDERS, "down")
    h.run(3 * 15)
    (pending,) = h.daemon.parts.operator.approvals()
    return str(pending["id"])


def delivered(h: Harness, receiver: Receiver) -> list[dict[str, object]]:
    h.daemon.parts.dispatcher.run_once()
    return [r.body for r in receiver.delivered()]


def test_from_the_trip_to_the_call(
    harness: Harness, sb: Sandbox, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    approval = trip(h, sb)
    assert h.actions() == [], "nothing is sent before a human says yes"
    (listed,) = h.daemon.parts.operator.approvals()
    assert listed["target"] == "orders" and listed["action"] == "restart_cmak"
    assert listed["blast_radius"] == "tool" and listed["expires_at"] == "2027-01-15T08:30:30Z"
    assert "3 of the last 3 probes failed" in str(listed["reason"])
    assert h.metric("remediator_approvals_pending", target="orders") == 1
    assert (
        h.metric(
            "remediator_decisions_total", outcome="awaiting_approval", reason="probe", **LABELS
        )
        == 1
    )
    (asked,) = delivered(h, receiver)
    assert asked["event"] == "approval_requested"
    assert asked["approval"] == {
        "id": approval,
        "expires_at": "2027-01-15T08:30:30Z",
        "action": "restart_cmak",
    }
    assert f"Approve or deny {approval} before 2027-01-15T08:30:30Z" in str(asked["message"])
    assert h.daemon.status()["approvals"][0]["id"] == approval
    rules = h.daemon.status()["targets"][0]["rules"]
    assert rules[0]["phase"] == "awaiting_approval"

    h.run(5 * 60)  # still broken: held, no second approval
    assert len(h.daemon.parts.operator.approvals()) == 1 and h.actions() == []

    with caplog.at_level(logging.INFO, logger="remediator"):
        result = h.daemon.parts.operator.answer(approval, True, "CMAK is wedged", "alice@ops")
    assert (result["outcome"], result["decision"], result["by"]) == (
        "acted",
        "approve",
        "alice@ops",
    )
    assert h.actions(ORDERS) == ["restartCMAKService"]
    assert (
        f"approval {approval} for restart_cmak on orders approved by alice@ops: CMAK is wedged"
        in (caplog.text)
    )
    record = h.daemon.ledger.approval(approval)
    assert record is not None
    assert (record.status, record.resolved_by, record.resolution) == (
        "approved",
        "alice@ops",
        "CMAK is wedged",
    )
    bodies = delivered(h, receiver)
    assert [b["event"] for b in bodies] == ["approval_requested", "approval_resolved", "acted"]
    assert bodies[1]["reason"] == "CMAK is wedged"
    assert "alice@ops approved restart_cmak on orders" in str(bodies[1]["message"])
    h.run(60)
    assert h.metric("remediator_approvals_pending", target="orders") == 0
    h.run(3 * 60)
    assert h.metric("remediator_remediations_total", outcome="recovered", **LABELS) == 1


def test_a_denial_sends_nothing_and_says_who_and_why(
    harness: Harness, sb: Sandbox, receiver: Receiver
) -> None:
    h = harness
    approval = trip(h, sb)
    result = h.daemon.parts.operator.answer(approval, False, "broker upgrade tonight", "bob@ops")
    assert (result["decision"], result["outcome"], result["reason"]) == (
        "deny",
        "suppressed",
        "approval_denied",
    )
    h.run(10 * 60)
    assert h.actions() == []
    record = h.daemon.ledger.approval(approval)
    assert record is not None and (record.status, record.resolved_by) == ("denied", "bob@ops")
    assert (
        h.metric(
            "remediator_decisions_total", outcome="suppressed", reason="approval_denied", **LABELS
        )
        == 1
    )
    resolved = delivered(h, receiver)[-1]
    assert resolved["event"] == "approval_resolved"
    assert resolved["message"] == (
        f"bob@ops denied restart_cmak on orders (approval {approval}): nothing is sent."
    )
    with pytest.raises(ValueError, match="no longer pending: it is denied"):
        h.daemon.parts.operator.answer(approval, True, "changed my mind", "bob@ops")
    with pytest.raises(LookupError, match="no approval 'ffffffff'"):
        h.daemon.parts.operator.answer("ffffffff", True, "?", "bob@ops")


def test_an_unanswered_approval_expires(harness: Harness, sb: Sandbox, receiver: Receiver) -> None:
    h = harness
    approval = trip(h, sb)
    h.run(31 * 60)
    assert h.actions() == []
    record = h.daemon.ledger.approval(approval)
    assert record is not None and record.status == "expired"
    assert (
        h.metric(
            "remediator_decisions_total", outcome="suppressed", reason="approval_expired", **LABELS
        )
        == 1
    )
    assert h.daemon.parts.operator.approvals() == []
    resolved = [b for b in delivered(h, receiver) if b["event"] == "approval_resolved"]
    assert resolved[0]["message"] == (
        f"Approval {approval} to run restart_cmak on orders expired unanswered: nothing was sent."
    )


def test_a_pending_approval_survives_a_restart_and_can_be_answered_after_it(
    harness: Harness, sb: Sandbox, receiver: Receiver
) -> None:
    h = harness
    approval = trip(h, sb)
    h.restart_daemon()
    h.daemon.parts.dispatcher.session.trust_env = False
    (listed,) = h.daemon.parts.operator.approvals()
    assert listed["id"] == approval
    h.run(60)
    assert len(h.daemon.parts.operator.approvals()) == 1, "no second approval after the restart"
    result = h.daemon.parts.operator.answer(approval, True, "go", "carol@ops")
    assert result["outcome"] == "acted"
    assert h.actions(ORDERS) == ["restartCMAKService"]
    events = [b["event"] for b in delivered(h, receiver)]
    assert events == ["approval_requested", "approval_resolved", "acted"]


def test_a_denial_holds_across_a_restart(harness: Harness, sb: Sandbox) -> None:
    h = harness
    approval = trip(h, sb)
    h.daemon.parts.operator.answer(approval, False, "not now", "bob@ops")
    h.restart_daemon()
    h.run(10 * 60)
    assert h.daemon.parts.operator.approvals() == [] and h.actions() == []
    h.run(10 * 60)
    assert len(h.daemon.parts.operator.approvals()) == 1, "asked again after the cooldown"


def test_a_pending_approval_survives_a_reload(harness: Harness, sb: Sandbox) -> None:
    h = harness
    approval = trip(h, sb)
    rules = h.tmp / "rules" / "r.yaml"
    rules.write_text(rules.read_text().replace("approval_timeout: 30m", "approval_timeout: 1h"))
    assert h.daemon.reload() is True
    (listed,) = h.daemon.parts.operator.approvals()
    assert listed["id"] == approval, "the approval asked under the old rules stays open"
    assert h.daemon.parts.operator.answer(approval, True, "go", "erin@ops")["outcome"] == "acted"
    assert h.actions(ORDERS) == ["restartCMAKService"]
