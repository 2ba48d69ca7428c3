"""Answering approvals from outside: `GET /api/v1/approvals` and `POST /api/v1/approvals/{id}`
on the daemon's real listener, and `remediator approvals|approve|deny` through it or, with no
daemon running, on the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.cli import main
from remediator.cli.approvals import who
from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from remediator.store.sqlite import SqliteLedger
from tests.e2e import free_port
from tests.harness import AK, ORDERS, SK, Harness

TOKEN = "approvals-admin-token-0123456789"  # a test token, not a secret
# An approval that stays pending whatever the real date (the offline commands read real time):
# the fake clock starts in 2096 (see `fake_clock`), and approval_timeout is at most 30d.
RULE = """
  - name: cmak-unhealthy
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    mode: approve
    approval_timeout: 30d
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""


@pytest.fixture
def fake_clock() -> FakeClock:
    """Far ahead of the real date, so that the approval asked at its time is still pending."""
    return FakeClock(start=4_000_000_000.0)


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def h(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    (tmp_path / "admin-token").write_text(TOKEN)
    monkeypatch.setenv("AK", AK)
    monkeypatch.setenv("SK", SK)
    token = tmp_path / "admin-token"
    server = f'listen: "127.0.0.1:{free_port()}", admin_token: {{file: {token}}}'
    harness = Harness(tmp_path, sb, fake_clock, RULE, server=server)
    sb.break_tool(ORDERS, "down")
    harness.run(3 * 15)
    return harness


@pytest.fixture
def api(h: Harness) -> Iterator[str]:
    """The daemon's listener (its scheduler stays off: the harness steps it)."""
    h.daemon.http.start()
    yield f"http://127.0.0.1:{h.daemon.http.port}"
    h.daemon.http.close()
    h.daemon.ledger.close()


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def pending_id(h: Harness) -> str:
    (pending,) = h.daemon.parts.operator.approvals()
    return str(pending["id"])


def test_the_api_lists_and_answers_with_the_admin_token(h: Harness, api: str) -> None:
    http = session()
    listed = http.get(f"{api}/api/v1/approvals", timeout=5).json()
    approval = pending_id(h)
    assert [a["id"] for a in listed] == [approval]
    assert set(listed[0]) >= {"id", "target", "rule", "action", "blast_radius", "reason"}
    assert listed[0]["expires_at"].endswith("Z")
    url = f"{api}/api/v1/approvals/{approval}"
    good = {"Authorization": f"Bearer {TOKEN}"}
    body = {"decision": "approve", "reason": "go"}
    assert http.post(url, json=body, timeout=5).status_code == 401
    assert (
        http.post(url, json={"decision": "maybe", "reason": "?"}, headers=good).status_code == 400
    )
    assert http.post(url, json={"decision": "approve"}, headers=good).status_code == 400
    missing = http.post(f"{api}/api/v1/approvals/0000beef", json=body, headers=good, timeout=5)
    assert missing.status_code == 404 and "no approval '0000beef'" in missing.json()["error"]
    assert http.put(url, json=body, headers=good, timeout=5).status_code == 405
    assert h.actions() == []
    answer = http.post(url, json=body | {"by": "dana@ops"}, headers=good, timeout=30)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["outcome"], result["by"], result["action"]) == (
        "acted",
        "dana@ops",
        "restart_cmak",
    )
    assert h.actions(ORDERS) == ["restartCMAKService"]
    again = http.post(url, json=body, headers=good, timeout=5)
    assert again.status_code == 400 and "no longer pending" in again.json()["error"]
    assert http.get(f"{api}/api/v1/approvals", timeout=5).json() == []


def test_the_commands_go_through_a_running_daemon(
    h: Harness, api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(h.tmp / "remediator.yaml")
    approval = pending_id(h)
    assert main(["approvals", "--json", "-c", config]) == 0
    assert [a["id"] for a in json.loads(capsys.readouterr().out)] == [approval]
    assert main(["approve", approval, "--reason", "the tool is wedged", "-c", config]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"approved {approval}: restart_cmak on orders (blast radius tool)")
    assert f"as {who()}, via the running daemon" in out
    assert "then acted: restart_cmak (tool)" in out
    assert h.actions(ORDERS) == ["restartCMAKService"]
    record = h.daemon.ledger.approval(approval)
    assert record is not None and record.resolved_by == who()
    assert main(["deny", approval, "--reason", "late", "-c", config]) == 1
    assert "no longer pending: it is approved" in capsys.readouterr().err


def test_with_no_daemon_the_commands_use_the_ledger(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(h.tmp / "remediator.yaml")
    approval = pending_id(h)
    h.daemon.ledger.close()  # the daemon is gone; its ledger stays
    assert main(["approvals", "-c", config]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith(f"{approval}  restart_cmak on orders (cluster {ORDERS}")
    assert f"remediator approve {approval} --reason" in listing
    assert main(["deny", approval, "--reason", "not during the sale", "-c", config]) == 0
    out = capsys.readouterr().out
    assert f"denied {approval}" in out and "via the ledger (no daemon running)" in out
    assert main(["approvals", "-c", config]) == 0
    assert capsys.readouterr().out.strip() == "no approval is waiting"
    ledger = SqliteLedger(h.tmp / "state.db")
    try:
        record = ledger.approval(approval)
        assert record is not None
        assert (record.status, record.resolved_by, record.resolution) == (
            "denied",
            who(),
            "not during the sale",
        )
        assert [n.event for n in ledger.due_notifications()] == [], "no sink configured"
    finally:
        ledger.close()
    assert main(["approve", "0000beef", "--reason", "?", "-c", config]) == 1
    assert "no approval '0000beef'" in capsys.readouterr().err
