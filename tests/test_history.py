"""The history (SPEC section 11): written durably on both ledgers and read back newest first;
what a daemon writes for decisions, outcomes and operator acts (with who and why); the sweep
after `state.retention`; `remediator history` and `GET /api/v1/history`."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from remediator.cli import main
from remediator.cli.history import render
from remediator.clock import FakeClock
from remediator.core.decisions import Decision
from remediator.core.events import Tick
from remediator.runtime.history import HistoryWriter, os_user
from remediator.sandbox import Sandbox
from remediator.store.history import HistoryEntry
from remediator.store.sqlite import SqliteLedger
from tests.e2e import free_port
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness
from tests.test_store import T0, Store

ADMIN = "admin-test-token"  # a test token, not a secret


@pytest.fixture(autouse=True)
def cli_logging() -> Iterator[None]:
    """`main()` sets up the command line's logging on the `remediator` logger (its own handler,
    no propagation): put it back, so that later tests' caplog sees their records."""
    logger = logging.getLogger("remediator")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


# --- the ledger, both backends --------------------------------------------------------------


def entry(at: float, target: str = "orders", outcome: str = "suppressed") -> HistoryEntry:
    return HistoryEntry(
        at=at,
        kind="decision",
        target=target,
        outcome=outcome,
        rule="cmak-unhealthy",
        reason="silenced",
        action="restart_cmak",
        blast_radius="tool",
        detail="held by Alertmanager silence 9a7b by alice (broker disk swap; ...)",
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    return Store(request.param, tmp_path, server)


def test_history_is_durable_newest_first_and_filtered(store: Store) -> None:
    ledger = store.open()
    ledger.record_history([entry(T0), entry(T0 + 10, "payments", "acted")])
    ledger.record_history(
        [
            HistoryEntry(
                at=T0 + 20,
                kind="operator",
                target="*",
                outcome="pause",
                reason="freeze for the release",
                actor="alice (CLI on the ledger)",
                detail="for 1h, until 2027-01-15T09:00:20Z",
            )
        ]
    )
    ledger.close()
    reopened = store.open()
    try:
        every = reopened.history(since=T0)
        assert [(e.at, e.target, e.outcome) for e in every] == [
            (T0 + 20, "*", "pause"),
            (T0 + 10, "payments", "acted"),
            (T0, "orders", "suppressed"),
        ]
        assert every[2] == replace(entry(T0), id=every[2].id)
        assert [e.target for e in reopened.history(target="orders", since=T0)] == ["*", "orders"]
        assert [e.at for e in reopened.history(since=T0 + 5)] == [T0 + 20, T0 + 10]
        assert [e.at for e in reopened.history(since=T0, limit=1)] == [T0 + 20]
        assert reopened.sweep_history(T0 + 10) == 1
        assert [e.at for e in reopened.history(since=0)] == [T0 + 20, T0 + 10]
    finally:
        reopened.close()
    assert len(store.rows("SELECT id FROM history")) == 2


def test_an_entry_as_json_says_who_and_when() -> None:
    data = entry(T0).to_json()
    assert data["time"] == "2027-01-15T08:00:00Z"
    assert data["who"] == "" and "actor" not in data
    assert render(data) == (
        "2027-01-15T08:00:00Z  orders  cmak-unhealthy: suppressed (silenced) restart_cmak [tool]: "
        "held by Alertmanager silence 9a7b by alice (broker disk swap; ...)"
    )


# --- what the daemon writes ---------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AK", AK)
    monkeypatch.setenv("SK", SK)


@pytest.fixture
def running(tmp_path: Path, fake_clock: FakeClock, env: None) -> Iterator[Harness]:
    """A daemon stepped on a FakeClock, its listener up with an admin token."""
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    (tmp_path / "admin").write_text(ADMIN)
    h = Harness(
        tmp_path,
        box,
        fake_clock,
        CMAK_RULE,
        server=f'listen: "127.0.0.1:{free_port()}", admin_token: {{file: "{tmp_path / "admin"}"}}',
    )
    h.daemon.http.start()
    yield h
    h.daemon.http.close()
    h.daemon.ledger.close()
    box.stop()


def kinds(h: Harness, target: str = "orders") -> list[tuple[str, str, str]]:
    """(kind, outcome, reason) of the target's history, oldest first."""
    found = h.daemon.ledger.history(target=target, since=0)
    return [(e.kind, e.outcome, e.reason) for e in reversed(found)]


def test_a_remediation_and_a_suppression_once_per_trip(running: Harness) -> None:
    running.sb.break_tool(ORDERS, "down")
    running.run(3 * 60)
    running.sb.break_tool(ORDERS, "down")  # again, inside the cooldown, for 5 minutes
    running.run(5 * 60)
    assert kinds(running) == [
        ("decision", "acted", "probe"),
        ("action", "success", ""),
        ("remediation", "recovered", ""),
        ("decision", "suppressed", "cooldown"),  # once, however many probes failed
    ]
    acted = running.daemon.ledger.history(target="orders", since=0)[-1]
    assert (acted.action, acted.blast_radius, acted.rule) == (
        "restart_cmak",
        "tool",
        "cmak-unhealthy",
    )
    assert acted.detail.startswith("restart_cmak (tool): restarts CMAK only")


def test_operator_acts_say_who_and_why_in_history_and_log(
    running: Harness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["-c", str(running.tmp / "remediator.yaml")]
    assert main(["pause", "orders", "--for", "1h", "--reason", "broker upgrade", *cfg]) == 0
    assert main(["resume", "orders", "--reason", "upgrade done", *cfg]) == 0
    caplog.set_level(logging.INFO, logger="remediator")
    logging.getLogger("remediator").propagate = True  # main() set up the CLI's own logging
    op = running.daemon.parts.operator
    op.pause(None, 600, "network change", actor="bob (admin API from 10.0.0.7)")
    capsys.readouterr()
    acts = [
        (e.outcome, e.target, e.actor, e.reason, e.detail)
        for e in running.daemon.ledger.history(since=0)
        if e.kind == "operator"
    ]
    me = os_user()
    assert acts[::-1] == [
        ("pause", "orders", f"{me} (admin API from 127.0.0.1)", "broker upgrade", acts[2][4]),
        ("resume", "orders", f"{me} (admin API from 127.0.0.1)", "upgrade done", ""),
        ("pause", "*", "bob (admin API from 10.0.0.7)", "network change", acts[0][4]),
    ]
    assert acts[2][4].startswith("for 1h, until ")
    assert any(
        m.startswith("pause every target for 10m, until ")
        and m.endswith(", by bob (admin API from 10.0.0.7): network change")
        for m in caplog.messages
    ), caplog.messages


def test_history_from_the_daemon_and_from_the_ledger_agree(
    running: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    running.sb.break_tool(ORDERS, "down")
    running.run(3 * 60)
    cfg = ["-c", str(running.tmp / "remediator.yaml")]
    since = ["--since", "2026-01-01T00:00:00Z"]  # the FakeClock is in 2027, the CLI's in now
    assert main(["history", "orders", "--json", *since, *cfg]) == 0
    from_daemon = json.loads(capsys.readouterr().out)
    assert [e["outcome"] for e in from_daemon] == ["recovered", "success", "acted"]
    assert main(["history", "orders", *since, *cfg]) == 0
    text = capsys.readouterr().out
    assert "from the daemon at http://127.0.0.1:" in text
    assert "orders  cmak-unhealthy: acted (probe) restart_cmak [tool]: " in text
    running.daemon.http.close()
    assert main(["history", "orders", "--json", *since, *cfg]) == 0
    assert json.loads(capsys.readouterr().out) == from_daemon
    assert main(["history", "--since", "soon", *cfg]) == 2
    assert "since 'soon': give a duration" in capsys.readouterr().err


def test_the_api_answers_json_and_refuses_a_bad_query(running: Harness) -> None:
    running.daemon.parts.operator.pause("orders", 60, "look", actor="carol")
    base = f"http://127.0.0.1:{running.daemon.http.port}/api/v1/history"
    s = requests.Session()
    s.trust_env = False
    since = running.clock.now() - 60
    reply = s.get(base, params={"target": "orders", "since": str(since)}, timeout=5)
    assert reply.status_code == 200
    (act,) = reply.json()
    assert (act["kind"], act["outcome"], act["who"], act["reason"]) == (
        "operator",
        "pause",
        "carol",
        "look",
    )
    assert s.get(base, params={"target": "payments", "since": str(since)}, timeout=5).json() == []
    bad = s.get(base, params={"since": "yesterday"}, timeout=5)
    assert bad.status_code == 400 and "since 'yesterday'" in bad.json()["error"]
    assert s.get(base, params={"limit": "0"}, timeout=5).status_code == 400


def test_the_history_is_swept_after_the_retention(running: Harness) -> None:
    op = running.daemon.parts.operator
    op.pause("orders", 60, "old news", actor="carol")
    running.daemon.tick()
    assert len(running.daemon.ledger.history(since=0)) == 1
    running.clock.advance(89 * 86400)
    running.daemon.tick()  # an hour after the last sweep, inside 90 days: kept
    assert len(running.daemon.ledger.history(since=0)) == 1
    running.clock.advance(2 * 86400)
    running.daemon.tick()
    assert running.daemon.ledger.history(since=0) == []


class FailingLedger(SqliteLedger):
    """A real SQLite ledger whose history writes fail while `failing` (a full disk)."""

    failing = True

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        if self.failing and entries:
            raise sqlite3.OperationalError("database or disk is full")
        super().record_history(entries)


def test_a_failing_history_write_is_logged_once_and_never_fails_the_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="remediator")
    ledger = FailingLedger(tmp_path / "state.db")
    writer = HistoryWriter(ledger)
    decision = Decision("r", "orders", "suppressed", "cooldown", "", T0, "probe", "restart_cmak")
    try:
        writer.write(Tick(T0), [decision])
        writer.write(Tick(T0 + 1), [replace(decision, at=T0 + 1)])
        said = [m for m in caplog.messages if m.startswith("could not write the history")]
        assert len(said) == 1
        ledger.failing = False
        writer.write(Tick(T0 + 2), [replace(decision, at=T0 + 2)])
        assert [e.at for e in ledger.history(since=0)] == [T0 + 2]
        ledger.failing = True
        writer.write(Tick(T0 + 3), [replace(decision, at=T0 + 3)])
        said = [m for m in caplog.messages if m.startswith("could not write the history")]
        assert len(said) == 2, "said again once it had worked in between"
    finally:
        ledger.close()
