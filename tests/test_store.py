"""The ledger on real storage — a SQLite file and a real PostgreSQL — what is written survives
a reopen and a crash; the alert machinery behaves the same on both."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from remediator.core.events import AlertEvent
from remediator.core.state import PauseRecord
from remediator.errors import LedgerBusy, LedgerError
from remediator.store.postgres import PostgresLedger
from remediator.store.receipts import KNOWN_EPISODES, RESEND_WINDOW
from remediator.store.sql import SqlLedger
from remediator.store.sqlite import SqliteLedger
from tests.pg import Postgres

T0 = 1_800_000_000.0


class Store:
    """One ledger's storage in one backend: open ledgers on it, read its rows directly."""

    def __init__(self, kind: str, tmp_path: Path, server: Postgres | None) -> None:
        self.kind = kind
        self.path = tmp_path / "s.db"
        self.url = server.database() if server is not None else ""

    def open(self, known_episodes: int = KNOWN_EPISODES) -> SqlLedger:
        if self.kind == "sqlite":
            return SqliteLedger(self.path, known_episodes=known_episodes)
        return PostgresLedger(self.url, known_episodes=known_episodes)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        """A query on another connection, as another process would see the storage."""
        if self.kind == "sqlite":
            db = sqlite3.connect(self.path)
            try:
                return list(db.execute(sql))
            finally:
                db.close()
        with psycopg.connect(self.url) as conn:
            return list(conn.execute(sql))

    def episodes(self) -> dict[str, tuple[int, float, bool]]:
        """fingerprint -> (receipts, last_seen, resolved)."""
        rows = self.rows(
            "SELECT fingerprint, receipts, last_seen, resolved_at IS NOT NULL FROM alert_episodes"
        )
        return {str(fp): (int(str(n)), float(str(t)), bool(r)) for fp, n, t, r in rows}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    return Store(request.param, tmp_path, server)


@pytest.fixture
def ledger(store: Store) -> Iterator[SqlLedger]:
    opened = store.open()
    yield opened
    opened.close()


def intent(ledger: SqlLedger, at: float, rule: str = "r", target: str = "orders") -> int:
    return ledger.record_intent(
        rule=rule,
        target=target,
        cluster_no="1484848",
        action="restart_cmak",
        mode="enforce",
        trigger="probe",
        at=at,
    )


def test_intent_outcome_remediation_round_trip(store: Store) -> None:
    ledger = store.open()
    first = intent(ledger, T0)
    ledger.record_outcome(first, result="success", at=T0 + 1, request_id="req-1", detail="")
    ledger.record_remediation(
        rule="r", target="orders", outcome="recovered", at=T0 + 90, detail="ok"
    )
    second = intent(ledger, T0 + 1000)
    ledger.close()

    reopened = store.open()
    records = reopened.actions_since(T0 - 1)
    assert [(r.intent_at, r.result, r.remediation) for r in records] == [
        (T0, "success", "recovered"),
        (T0 + 1000, None, None),
    ]
    assert [r.intent_at for r in reopened.unfinished_actions()] == [T0 + 1000]
    (newest, older) = reopened.recent_actions(2)
    assert (newest.id, older.id, older.request_id) == (second, first, "req-1")
    assert reopened.actions_since(T0 + 1) == records[1:]
    reopened.close()


def test_remediation_closes_only_the_latest_open_action(ledger: SqlLedger) -> None:
    intent(ledger, T0, target="orders")
    intent(ledger, T0 + 5, target="payments")
    ledger.record_remediation(
        rule="r", target="orders", outcome="not_recovered", at=T0 + 9, detail=""
    )
    by_target = {r.target: r.remediation for r in ledger.actions_since(0)}
    assert by_target == {"orders": "not_recovered", "payments": None}


def test_breakers_and_pauses(ledger: SqlLedger) -> None:
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


def test_an_intent_survives_sigkill(store: Store) -> None:
    """The intent is committed before record_intent returns: a killed writer loses nothing
    (and, on PostgreSQL, its hold on the ledger goes with it)."""
    code = (
        "import os, signal, sys\n"
        "from remediator.store.sqlite import SqliteLedger\n"
        "from remediator.store.postgres import PostgresLedger\n"
        "kind, where = sys.argv[1:]\n"
        "ledger = SqliteLedger(where) if kind == 'sqlite' else PostgresLedger(where)\n"
        "ledger.record_intent(rule='r', target='orders', cluster_no='1', action='restart_cmak',"
        " mode='enforce', trigger='probe', at=1.0)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    where = str(store.path) if store.kind == "sqlite" else store.url
    proc = subprocess.run([sys.executable, "-c", code, store.kind, where], check=False)
    assert proc.returncode == -9
    reopened = store.open()
    assert [r.intent_at for r in reopened.unfinished_actions()] == [1.0]
    reopened.close()


def test_newer_schema_is_refused(store: Store) -> None:
    store.open().close()
    if store.kind == "sqlite":
        db = sqlite3.connect(store.path)
        db.execute("PRAGMA user_version=99")
        db.close()
    else:
        with psycopg.connect(store.url) as conn:
            conn.execute("UPDATE remediator_schema SET version = 99")
    with pytest.raises(RuntimeError, match="schema version 99"):
        store.open()


def _alert(fp: str, status: str = "firing") -> AlertEvent:
    return AlertEvent("orders", "CMAKDown", status, fp, "s", T0)  # type: ignore[arg-type]


def test_alerts_concurrent_requests_share_commits_and_each_learns_its_news(
    ledger: SqlLedger,
) -> None:
    results: dict[int, list[bool]] = {}

    def send(i: int) -> None:
        # each episode is sent twice by different threads: exactly one copy is news
        results[i] = ledger.record_alerts([_alert(f"fp{i % 20}")], T0 + i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, range(40)))
    assert [n for news in results.values() for n in news].count(True) == 20
    assert len(ledger.pending_alerts(0)) == 20
    assert ledger.record_alerts([_alert("fp1", "resolved")], T0 + 100) == [True]
    assert ledger.record_alerts([_alert("fp1", "resolved")], T0 + 101) == [False]
    assert ledger.record_alerts([_alert("fp1")], T0 + 102) == [False]


def test_a_failed_group_commit_reaches_its_caller_and_the_next_one_works(
    ledger: SqlLedger,
) -> None:
    bad = AlertEvent("orders", "CMAKDown", "firing", "fp", "s", T0, labels={"x": object()})  # type: ignore[dict-item]
    try:
        ledger.record_alerts([bad], T0)
    except TypeError:
        pass
    else:
        raise AssertionError("labels that cannot be stored must fail the write")
    assert ledger.record_alerts([_alert("ok")], T0) == [True]


def test_resends_of_an_episode_on_disk_are_answered_without_a_write(store: Store) -> None:
    ledger = store.open()
    assert ledger.record_alerts([_alert("a"), _alert("b")], T0) == [True, True]
    wal = store.path.with_name("s.db-wal")
    size = wal.stat().st_size if store.kind == "sqlite" else 0
    for i in range(1, 50):
        assert ledger.record_alerts([_alert("a"), _alert("b")], T0 + i) == [False, False]
    if store.kind == "sqlite":
        assert wal.stat().st_size == size, "re-sends wrote nothing"
    assert store.episodes()["a"] == (1, T0, False)
    # News is still written before the answer: a resolution, a new episode in the same request.
    assert ledger.record_alerts([_alert("a", "resolved"), _alert("c"), _alert("b")], T0 + 50) == [
        True,
        True,
        False,
    ]
    disk = store.episodes()
    assert disk["a"] == (51, T0 + 50, True), "the resolution carried a's 49 counted re-sends"
    assert disk["c"] == (1, T0 + 50, False)
    assert ledger.record_alerts([_alert("a", "resolved"), _alert("a")], T0 + 51) == [False, False]
    # A minute after the last write, a re-send is written again (last_seen stays current).
    assert ledger.record_alerts([_alert("b")], T0 + RESEND_WINDOW + 1) == [False]
    assert store.episodes()["b"] == (52, T0 + RESEND_WINDOW + 1, False)
    # A clean close writes what was only counted: every receipt is on disk.
    ledger.close()
    disk = store.episodes()
    assert (disk["a"][0], disk["b"][0], disk["c"][0]) == (53, 52, 1)
    assert disk["a"][1] == T0 + 51


def test_only_committed_episodes_answer_resends_from_memory(
    ledger: SqlLedger, store: Store
) -> None:
    bad = AlertEvent("orders", "CMAKDown", "firing", "fp", "s", T0, labels={"x": object()})  # type: ignore[dict-item]
    try:
        ledger.record_alerts([_alert("a"), bad], T0)
    except TypeError:
        pass
    else:
        raise AssertionError("labels that cannot be stored must fail the write")
    assert store.episodes() == {}
    # "a" was in the batch that rolled back: its next receipt is news, and written.
    assert ledger.record_alerts([_alert("a")], T0 + 1) == [True]
    assert store.episodes()["a"] == (1, T0 + 1, False)


def test_a_reopened_ledger_knows_its_episodes_from_disk(store: Store) -> None:
    ledger = store.open()
    ledger.record_alerts([_alert("a"), _alert("b", "resolved")], T0)
    ledger.close()
    ledger = store.open()
    assert ledger.record_alerts([_alert("a"), _alert("b", "resolved")], T0 + 1) == [False, False]
    assert store.episodes()["a"][0] == 2, "a fresh process checks the disk, not an empty memory"
    assert ledger.record_alerts([_alert("a"), _alert("b", "resolved")], T0 + 2) == [False, False]
    assert store.episodes()["a"][0] == 2, "and then answers from memory"
    ledger.close()


def test_forgotten_episodes_are_simply_written_again(store: Store) -> None:
    ledger = store.open(known_episodes=3)
    ledger.record_alerts([_alert(f"fp{i}") for i in range(5)], T0)
    assert ledger.record_alerts([_alert("fp0"), _alert("fp4")], T0 + 1) == [False, False]
    disk = store.episodes()
    assert disk["fp0"][0] == 2, "the oldest was forgotten: written again"
    assert disk["fp4"][0] == 1, "the newest is remembered: counted in memory"
    ledger.close()


def test_episodes_not_seen_for_a_while_are_forgotten(ledger: SqlLedger, store: Store) -> None:
    ledger.record_alerts([_alert("old"), _alert("kept")], T0)
    ledger.record_alerts([_alert("kept")], T0 + 30)  # answered from memory: last seen T0 + 30
    assert ledger.forget_episodes(T0 + 10) == 1, "'kept' was seen after the cut"
    assert set(store.episodes()) == {"kept"}
    assert store.episodes()["kept"][:2] == (2, T0 + 30)
    # A forgotten episode's next receipt is news again, and written.
    assert ledger.record_alerts([_alert("old"), _alert("kept")], T0 + 40) == [True, False]
    assert ledger.forget_episodes(T0 + 10) == 0
    assert [e[:2] for e in ledger.settled_episodes(0)] == []
    ledger.mark_episode_decided("kept", "s", T0 + 41)
    assert ledger.settled_episodes(0) == [("kept", "s", "orders", T0 + 40)]


@pytest.mark.e2e  # PostgreSQL
def test_one_daemon_at_a_time_on_a_postgresql_ledger(postgres: Postgres) -> None:
    url = postgres.database()
    first = PostgresLedger(url)
    intent(first, T0)
    with pytest.raises(LedgerBusy, match=r"held by another remediator \(remediator .* pid \d+"):
        PostgresLedger(url)
    reader = PostgresLedger(url, exclusive=False)  # the operator commands' status
    assert [r.intent_at for r in reader.unfinished_actions()] == [T0]
    # The server ends the holder's session within about a minute of its host vanishing.
    assert [r[0] for r in first._read("SHOW tcp_keepalives_idle")] == ["30"]
    reader.close()
    first.close()
    second = PostgresLedger(url)  # the lock went with the first one's session
    assert [r.intent_at for r in second.unfinished_actions()] == [T0]
    second.close()


@pytest.mark.e2e  # PostgreSQL
def test_a_lost_postgresql_connection_fails_a_write_then_comes_back(postgres: Postgres) -> None:
    url = postgres.database()
    ledger = PostgresLedger(url)
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'remediator %%' AND datname = %s",
            (url.rsplit("/", 1)[1],),
        )
    # The write in flight learns it (the action it guards is not sent); the next one reconnects
    # and takes the ledger again.
    with pytest.raises(LedgerError):  # psycopg.OperationalError, as the ledger says it
        intent(ledger, T0)
    assert intent(ledger, T0 + 1) > 0
    assert [r.intent_at for r in ledger.unfinished_actions()] == [T0 + 1]
    with pytest.raises(LedgerBusy):
        PostgresLedger(url)
    ledger.close()
