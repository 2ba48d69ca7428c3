"""The notification outbox in the ledger (SPEC section 10): one row per notification and sink.

A notification is written in the same transaction as the ledger record that caused it (see
`SqlLedger._write`), so that it exists exactly when its cause does; a worker (`remediator.notify`)
reads what is due and records each attempt here. Rows keep their `id` across attempts and
restarts: a receiver sees the same id every time (`Idempotency-Key`).

Statuses: `pending` (to send, at or after `next_at`), `sent`, `failed` (given up, or refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from remediator.store.receipts import Cursor, Row

# The table, in words both SQLite and PostgreSQL accept (DOUBLE PRECISION is REAL to SQLite).
TABLES = (
    "CREATE TABLE IF NOT EXISTS notifications ("
    "id TEXT NOT NULL, sink TEXT NOT NULL, event TEXT NOT NULL, target TEXT, "
    "body TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
    "next_at DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
    "status TEXT NOT NULL DEFAULT 'pending', done_at DOUBLE PRECISION, "
    "last_error TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL, PRIMARY KEY (id, sink))",
    "CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, sink, seq)",
)


class OutboxEntry(Protocol):
    """A notification for one sink, as the outbox writes it (`body`: the JSON of SPEC §10)."""

    @property
    def id(self) -> str: ...

    @property
    def sink(self) -> str: ...

    @property
    def event(self) -> str: ...

    @property
    def target(self) -> str | None: ...

    @property
    def at(self) -> float: ...

    @property
    def body(self) -> str: ...


@dataclass(frozen=True)
class PendingNotification:
    """A notification not yet sent nor given up, as the outbox holds it."""

    id: str
    sink: str
    event: str
    target: str | None
    body: str
    created_at: float
    next_at: float
    attempts: int


class OutboxSql:
    """The outbox's statements; the connection and transactions are `sql.SqlLedger`'s."""

    def _transaction(
        self, statements: Sequence[tuple[str, Sequence[object]]], notices: Sequence[OutboxEntry]
    ) -> tuple[list[Row], int]:
        """Statements and `notices` in one transaction (see `sql.SqlLedger`)."""
        raise NotImplementedError

    def _write(
        self, sql: str, params: Sequence[object], notices: Sequence[OutboxEntry] = ()
    ) -> tuple[list[Row], int]:
        """One statement, and `notices`, in one transaction (see `sql.SqlLedger`)."""
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        raise NotImplementedError

    def _enqueue(self, notices: Sequence[OutboxEntry]) -> None:
        """Insert `notices` (called inside a write transaction); a re-insert changes nothing.

        `seq` orders them as written (times may tie): one writer holds the ledger at a time,
        and its write transactions are serialized. (The aggregate is spelled `max(` because
        postgres.py turns `MAX(` into GREATEST.)"""
        for n in notices:
            self._execute(
                "INSERT INTO notifications (id, sink, event, target, body, created_at, next_at, "
                "seq) VALUES (?, ?, ?, ?, ?, ?, ?, "
                "(SELECT COALESCE(max(seq), 0) + 1 FROM notifications)) "
                "ON CONFLICT (id, sink) DO NOTHING",
                (n.id, n.sink, n.event, n.target, n.body, n.at, n.at),
            )

    def enqueue(self, notices: Sequence[OutboxEntry]) -> None:
        """Write notifications whose cause the ledger does not record (in their own transaction)."""
        if notices:
            self._transaction((), notices)

    def due_notifications(self, limit: int = 500) -> list[PendingNotification]:
        """Pending notifications, by sink and in the order they were made (due or not)."""
        rows = self._read(
            "SELECT id, sink, event, target, body, created_at, next_at, attempts "
            "FROM notifications WHERE status = 'pending' ORDER BY sink, seq LIMIT ?",
            (limit,),
        )
        return [
            PendingNotification(
                id=str(r[0]),
                sink=str(r[1]),
                event=str(r[2]),
                target=None if r[3] is None else str(r[3]),
                body=str(r[4]),
                created_at=float(str(r[5])),
                next_at=float(str(r[6])),
                attempts=int(str(r[7])),
            )
            for r in rows
        ]

    def notification_sent(self, id: str, sink: str, *, at: float, attempts: int) -> None:
        """The receiver took it."""
        self._write(
            "UPDATE notifications SET status = 'sent', done_at = ?, attempts = ?, "
            "last_error = '' WHERE id = ? AND sink = ?",
            (at, attempts, id, sink),
        )

    def notification_retry(
        self, id: str, sink: str, *, attempts: int, next_at: float, error: str
    ) -> None:
        """It failed in a way worth retrying: try again at `next_at`."""
        self._write(
            "UPDATE notifications SET attempts = ?, next_at = ?, last_error = ? "
            "WHERE id = ? AND sink = ?",
            (attempts, next_at, error, id, sink),
        )

    def notification_failed(
        self, id: str, sink: str, *, at: float, attempts: int, error: str
    ) -> None:
        """Given up: refused, or retried for `give_up_after`."""
        self._write(
            "UPDATE notifications SET status = 'failed', done_at = ?, attempts = ?, "
            "last_error = ? WHERE id = ? AND sink = ?",
            (at, attempts, error, id, sink),
        )

    def pending_notifications(self) -> int:
        """How many notifications wait to be sent."""
        rows = self._read("SELECT COUNT(*) FROM notifications WHERE status = 'pending'")
        return int(str(rows[0][0]))

    def forget_notifications(self, before: float) -> int:
        """Delete the notifications sent or given up before `before`; how many there were."""
        return self._write(
            "DELETE FROM notifications WHERE status <> 'pending' AND done_at < ?", (before,)
        )[1]
