"""The notification outbox on real storage — a SQLite file and a real PostgreSQL: written in the
same transaction as its cause, kept across a reopen, and read back in order for the sender."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from remediator.store.postgres import PostgresLedger
from remediator.store.sql import MIGRATIONS, SCHEMA, SqlLedger
from remediator.store.sqlite import SqliteLedger
from tests.pg import Postgres

T0 = 1_800_000_000.0


@dataclass(frozen=True)
class Entry:
    """An outbox row as the driver hands it over (see `notify.sinks.Delivery`)."""

    id: str
    sink: str = "oncall"
    event: str = "acted"
    target: str | None = "orders"
    at: float = T0
    body: str = '{"id": "x"}'


@dataclass(frozen=True)
class Exploding:
    """A row whose body cannot be read: writing it fails midway through the transaction."""

    id: str
    sink: str = "oncall"
    event: str = "acted"
    target: str | None = "orders"
    at: float = T0

    @property
    def body(self) -> str:
        raise RuntimeError("boom")


Opener = Callable[[], SqlLedger]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the same storage again, each time it is called."""
    if request.param == "sqlite":
        path = tmp_path / "s.db"
        return lambda: SqliteLedger(path)
    server: Postgres = request.getfixturevalue("postgres")
    url = server.database()
    return lambda: PostgresLedger(url)


def intent(ledger: SqlLedger, *notices: Entry | Exploding) -> int:
    return ledger.record_intent(
        rule="r",
        target="orders",
        cluster_no="1484848",
        action="restart_cmak",
        mode="enforce",
        trigger="probe",
        at=T0,
        notices=notices,
    )


def test_notices_are_written_with_their_cause_and_survive_a_reopen(opener: Opener) -> None:
    ledger = opener()
    intent(ledger, Entry("n1"), Entry("n1", sink="teams"))
    ledger.record_breaker(
        rule="r", target="orders", open=True, at=T0 + 1, detail="d", notices=[Entry("n2")]
    )
    ledger.record_pause(target=None, until=T0 + 99, reason="x", at=T0 + 2, notices=[Entry("n3")])
    ledger.enqueue([Entry("n4", event="reload_refused", target=None)])
    ledger.close()
    ledger = opener()
    try:
        due = ledger.due_notifications()
        assert [(n.sink, n.id) for n in due] == [
            ("oncall", "n1"),
            ("oncall", "n2"),
            ("oncall", "n3"),
            ("oncall", "n4"),
            ("teams", "n1"),
        ]
        assert due[3].target is None and due[3].event == "reload_refused"
        assert ledger.pending_notifications() == 5
    finally:
        ledger.close()


def test_a_notice_that_cannot_be_written_takes_its_cause_with_it(opener: Opener) -> None:
    ledger = opener()
    try:
        with pytest.raises(RuntimeError, match="boom"):
            intent(ledger, Entry("n1"), Exploding("n2"))
        assert ledger.recent_actions() == [], "no intent without its notification"
        assert ledger.due_notifications() == []
        intent(ledger, Entry("n3"))
        assert [a.record.action for a in ledger.recent_actions()] == ["restart_cmak"]
    finally:
        ledger.close()


def test_attempts_are_recorded_and_done_ones_forgotten(opener: Opener) -> None:
    ledger = opener()
    try:
        ledger.enqueue([Entry("a"), Entry("b"), Entry("c"), Entry("a")])  # a re-send is no news
        ledger.notification_retry("a", "oncall", attempts=1, next_at=T0 + 5, error="HTTP 503")
        ledger.notification_sent("b", "oncall", at=T0 + 1, attempts=1)
        ledger.notification_failed("c", "oncall", at=T0 + 2, attempts=1, error="HTTP 404")
        (left,) = ledger.due_notifications()
        assert (left.id, left.attempts, left.next_at) == ("a", 1, T0 + 5)
        assert ledger.pending_notifications() == 1
        assert ledger.forget_notifications(T0 + 1.5) == 1  # b, sent before; c is kept
        assert ledger.forget_notifications(T0 + 10) == 1
        assert [n.id for n in ledger.due_notifications()] == ["a"]
    finally:
        ledger.close()


def test_a_version_2_sqlite_ledger_gains_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in filter(str.strip, SCHEMA.split(";")):
        db.execute(statement)
    for statement in MIGRATIONS[2]:
        db.execute(statement)
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    ledger = SqliteLedger(path)
    try:
        ledger.enqueue([Entry("n1")])
        assert [n.id for n in ledger.due_notifications()] == ["n1"]
    finally:
        ledger.close()
