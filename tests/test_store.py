"""The SQLite ledger, on real files: what is written survives a reopen and a crash."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from remediator.core.state import PauseRecord
from remediator.store.sqlite import SqliteLedger

T0 = 1_800_000_000.0


def intent(ledger: SqliteLedger, at: float, rule: str = "r", target: str = "orders") -> int:
    return ledger.record_intent(
        rule=rule,
        target=target,
        cluster_no="1484848",
        action="restart_cmak",
        mode="enforce",
        trigger="probe",
        at=at,
    )


def test_intent_outcome_remediation_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    ledger = SqliteLedger(path)
    first = intent(ledger, T0)
    ledger.record_outcome(first, result="success", at=T0 + 1, request_id="req-1", detail="")
    ledger.record_remediation(
        rule="r", target="orders", outcome="recovered", at=T0 + 90, detail="ok"
    )
    second = intent(ledger, T0 + 1000)
    ledger.close()

    reopened = SqliteLedger(path)
    records = reopened.actions_since(T0 - 1)
    assert [(r.intent_at, r.result, r.remediation) for r in records] == [
        (T0, "success", "recovered"),
        (T0 + 1000, None, None),
    ]
    assert [r.intent_at for r in reopened.unfinished_actions()] == [T0 + 1000]
    (newest, older) = reopened.recent_actions(2)
    assert (newest.id, older.id, older.request_id) == (second, first, "req-1")
    assert reopened.actions_since(T0 + 1) == records[1:]


def test_remediation_closes_only_the_latest_open_action(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "s.db")
    intent(ledger, T0, target="orders")
    intent(ledger, T0 + 5, target="payments")
    ledger.record_remediation(
        rule="r", target="orders", outcome="not_recovered", at=T0 + 9, detail=""
    )
    by_target = {r.target: r.remediation for r in ledger.actions_since(0)}
    assert by_target == {"orders": "not_recovered", "payments": None}


def test_breakers_and_pauses(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "s.db")
    ledger.record_breaker(rule="r", target="orders", open=True, at=T0, detail="spent")
    ledger.record_breaker(rule="r", target="payments", open=True, at=T0, detail="spent")
    ledger.record_breaker(rule="r", target="payments", open=False, at=T0 + 1, detail="healthy")
    assert ledger.open_breakers() == [("r", "orders")]
    ledger.record_pause(target="orders", until=T0 + 60, reason="upgrade", at=T0)
    ledger.record_pause(target=None, until=T0 + 30, reason="freeze", at=T0)
    assert ledger.active_pauses(T0 + 10) == [
        PauseRecord(None, T0 + 30, "freeze"),
        PauseRecord("orders", T0 + 60, "upgrade"),
    ]
    assert ledger.active_pauses(T0 + 45) == [PauseRecord("orders", T0 + 60, "upgrade")]
    ledger.clear_pause(target="orders", at=T0 + 11)
    assert ledger.active_pauses(T0 + 12) == [PauseRecord(None, T0 + 30, "freeze")]
    ledger.clear_pause(target=None, at=T0 + 12)
    assert ledger.active_pauses(T0 + 12) == []


def test_an_intent_survives_sigkill(tmp_path: Path) -> None:
    """The intent is committed before record_intent returns: a killed writer loses nothing."""
    path = tmp_path / "state.db"
    code = (
        "import os, signal, sys\n"
        "from remediator.store.sqlite import SqliteLedger\n"
        "ledger = SqliteLedger(sys.argv[1])\n"
        "ledger.record_intent(rule='r', target='orders', cluster_no='1', action='restart_cmak',"
        " mode='enforce', trigger='probe', at=1.0)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], check=False)
    assert proc.returncode == -9
    assert [r.intent_at for r in SqliteLedger(path).unfinished_actions()] == [1.0]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    try:
        SqliteLedger(path)
    except RuntimeError as exc:
        assert "schema version 99" in str(exc)
    else:
        raise AssertionError("a ledger from a newer version must not be opened")
