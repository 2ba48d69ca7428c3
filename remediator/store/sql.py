"""The ledger's logic in SQL, for the backends that differ only in their connection.

`SqlLedger` holds everything the `Ledger` protocol asks: the statements here, webhook alert
receipts from `receipts.py` (group commit, and the memory of episodes already on disk), and the
history from `history.py`. A
backend (sqlite.py, postgres.py) opens the connection and says how to begin a transaction and
run a statement. The SQL is written once, in SQLite's dialect; PostgreSQL's differs in its
placeholders (%s for ?) and in spelling the two-argument MAX as GREATEST, which `postgres.py`
translates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from remediator.core.events import AlertEvent
from remediator.core.state import ActionRecord, PauseRecord
from remediator.store import approvals, history, outbox
from remediator.store.approvals import ApprovalsSql
from remediator.store.ledger import LedgerAction
from remediator.store.outbox import OutboxEntry, OutboxSql
from remediator.store.receipts import AlertReceipts, Row

# The tables, in SQLite's words; PostgreSQL's (postgres.py) differ in the id column and in
# spelling REAL as DOUBLE PRECISION.
SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule        TEXT NOT NULL,
    target      TEXT NOT NULL,
    cluster_no  TEXT NOT NULL,
    action      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    intent_at   REAL NOT NULL,
    result      TEXT,
    outcome_at  REAL,
    request_id  TEXT,
    remediation TEXT,
    verified_at REAL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS actions_intent ON actions (intent_at);
CREATE INDEX IF NOT EXISTS actions_open ON actions (rule, target, remediation);
CREATE TABLE IF NOT EXISTS breakers (
    rule   TEXT NOT NULL,
    target TEXT NOT NULL,
    open   INTEGER NOT NULL,
    at     REAL NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (rule, target)
);
CREATE TABLE IF NOT EXISTS alert_episodes (
    fingerprint  TEXT NOT NULL,
    starts_at    TEXT NOT NULL,
    target       TEXT NOT NULL,
    alertname    TEXT NOT NULL,
    labels       TEXT NOT NULL,
    starts_at_ts REAL,
    first_seen   REAL NOT NULL,
    last_seen    REAL NOT NULL,
    receipts     INTEGER NOT NULL DEFAULT 1,
    resolved_at  REAL,
    decided_at   REAL,
    PRIMARY KEY (fingerprint, starts_at)
);
CREATE TABLE IF NOT EXISTS pauses (
    target TEXT NOT NULL PRIMARY KEY,  -- '*' pauses every target
    until  REAL NOT NULL,
    reason TEXT NOT NULL,
    at     REAL NOT NULL
);
"""
# What each schema version adds to the one before, applied in order to an older ledger (a new
# one is created by SCHEMA as version 1, then brought up the same way).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # Ladders (SPEC section 9): which step of its rule an action is, and the broker nodes a
    # per-node restart named (computeInstanceNos, comma-separated).
    2: (
        "ALTER TABLE actions ADD COLUMN step INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE actions ADD COLUMN nodes TEXT NOT NULL DEFAULT ''",
    ),
    # Humans in the loop (SPEC section 10): the notification outbox, and approvals.
    3: (*outbox.TABLES, *approvals.TABLES),
    # History (SPEC section 11): decisions, outcomes and operator acts, see history.py.
    4: history.MIGRATION,
    # One row rewritten to show that the ledger takes writes (a full disk, a lock held by a
    # backup, a database down), while nothing else is being written.
    5: (
        "CREATE TABLE IF NOT EXISTS heartbeat "
        "(id INTEGER PRIMARY KEY CHECK (id = 1), at DOUBLE PRECISION NOT NULL)",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)
_ALL = "*"
# A constant column list; the only thing ever formatted into SQL here.
_COLUMNS = "rule, target, action, mode, intent_at, result, outcome_at, remediation, step"


class SqlLedger(AlertReceipts, OutboxSql, ApprovalsSql, history.HistoryRecords):
    """The ledger over one connection that a backend opens; safe to share between threads."""

    def close(self) -> None:
        """Write what is counted only in memory, and close the connection."""
        raise NotImplementedError

    def _write(
        self, sql: str, params: Sequence[object], notices: Sequence[OutboxEntry] = ()
    ) -> tuple[list[Row], int]:
        """One statement in its own transaction, with the notifications it causes (the outbox):
        (the rows it returned, the rows it changed)."""
        return self._transaction(((sql, params),), notices)

    def _transaction(
        self, statements: Sequence[tuple[str, Sequence[object]]], notices: Sequence[OutboxEntry]
    ) -> tuple[list[Row], int]:
        """`statements`, then `notices` into the outbox, in one transaction: the rows the last
        statement returned and the rows it changed.

        LedgerError when it could not be written (nothing of it is then)."""
        rows: list[Row] = []
        count = 0
        with self._lock:
            try:
                self._begin()
                try:
                    for sql, params in statements:
                        cur = self._execute(sql, params)
                        rows = list(cur.fetchall()) if cur.description else []
                        count = cur.rowcount
                    self._enqueue(notices)
                    self._commit()
                except BaseException:
                    self._rollback()
                    raise
            except self._errors as exc:
                raise self._failed(exc) from exc
            return rows, count

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            try:
                return list(self._execute(sql, params).fetchall())
            except self._errors as exc:
                raise self._failed(exc) from exc

    def touch(self, at: float) -> None:
        """Rewrite the heartbeat row: LedgerError unless the ledger takes writes."""
        self._write(
            "INSERT INTO heartbeat (id, at) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            (at,),
        )

    def record_intent(  # noqa: PLR0913 - one keyword per column of the intent row
        self,
        *,
        rule: str,
        target: str,
        cluster_no: str,
        action: str,
        mode: str,
        trigger: str,
        at: float,
        detail: str = "",
        step: int = 0,
        nodes: Sequence[int] = (),
        notices: Sequence[OutboxEntry] = (),
    ) -> int:
        rows, _ = self._write(
            "INSERT INTO actions (rule, target, cluster_no, action, mode, trigger, intent_at, "
            "detail, step, nodes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (rule, target, cluster_no, action, mode, trigger, at, detail, step, _nodes(nodes)),
            notices,
        )
        return int(str(rows[0][0]))

    def record_outcome(
        self, action_id: int, *, result: str, at: float, request_id: str | None, detail: str
    ) -> None:
        self._write(
            "UPDATE actions SET result = ?, outcome_at = ?, request_id = ?, "
            "detail = CASE WHEN ? = '' THEN detail WHEN detail = '' THEN ? "
            "ELSE detail || '; ' || ? END WHERE id = ?",
            (result, at, request_id, detail, detail, detail, action_id),
        )

    def record_fallback(
        self,
        action_id: int,
        *,
        action: str,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        self._write(
            "UPDATE actions SET action = ?, result = NULL, outcome_at = NULL, "
            "detail = CASE WHEN detail = '' THEN ? ELSE detail || '; ' || ? END WHERE id = ?",
            (action, detail, detail, action_id),
            notices,
        )

    def record_remediation(  # noqa: PLR0913 - the row's columns, by keyword
        self,
        *,
        rule: str,
        target: str,
        outcome: str,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        self._write(
            "UPDATE actions SET remediation = ?, verified_at = ?, "
            "detail = CASE WHEN detail = '' THEN ? ELSE detail || '; ' || ? END WHERE id = ("
            "SELECT id FROM actions WHERE rule = ? AND target = ? AND remediation IS NULL "
            "AND mode = 'enforce' ORDER BY id DESC LIMIT 1)",
            (outcome, at, detail, detail, rule, target),
            notices,
        )

    def record_breaker(  # noqa: PLR0913 - the row's columns, by keyword
        self,
        *,
        rule: str,
        target: str,
        open: bool,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        self._write(
            "INSERT INTO breakers (rule, target, open, at, detail) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (rule, target) DO UPDATE SET open = excluded.open, at = excluded.at, "
            "detail = excluded.detail",
            (rule, target, int(open), at, detail),
            notices,
        )

    def record_pause(
        self,
        *,
        target: str | None,
        until: float,
        reason: str,
        at: float,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        self._write(
            "INSERT INTO pauses (target, until, reason, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (target) DO UPDATE SET until = excluded.until, "
            "reason = excluded.reason, at = excluded.at",
            (target or _ALL, until, reason, at),
            notices,
        )

    def clear_pause(
        self, *, target: str | None, at: float, notices: Sequence[OutboxEntry] = ()
    ) -> None:
        if target is None:
            self._write("DELETE FROM pauses WHERE ? IS NOT NULL", (at,), notices)
        else:
            self._write("DELETE FROM pauses WHERE target = ?", (target,), notices)

    def mark_episode_decided(self, fingerprint: str, starts_at: str, at: float) -> None:
        self._write(
            "UPDATE alert_episodes SET decided_at = COALESCE(decided_at, ?) "
            "WHERE fingerprint = ? AND starts_at = ?",
            (at, fingerprint, starts_at),
        )

    def pending_alerts(self, since: float) -> list[AlertEvent]:
        rows = self._read(
            "SELECT fingerprint, starts_at, target, alertname, labels, starts_at_ts, last_seen "
            "FROM alert_episodes WHERE decided_at IS NULL AND resolved_at IS NULL "
            "AND last_seen >= ? ORDER BY first_seen",
            (since,),
        )
        return [
            AlertEvent(
                target=str(r[2]),
                alertname=str(r[3]),
                status="firing",
                fingerprint=str(r[0]),
                starts_at=str(r[1]),
                at=float(str(r[6])),
                labels=json.loads(str(r[4])),
                starts_at_ts=None if r[5] is None else float(str(r[5])),
            )
            for r in rows
        ]

    def settled_episodes(self, since: float) -> list[tuple[str, str, str, float]]:
        rows = self._read(
            "SELECT fingerprint, starts_at, target, last_seen FROM alert_episodes "
            "WHERE (decided_at IS NOT NULL OR resolved_at IS NOT NULL) AND last_seen >= ?",
            (since,),
        )
        return [(str(r[0]), str(r[1]), str(r[2]), float(str(r[3]))) for r in rows]

    def forget_episodes(self, before: float) -> int:
        self._flush_unwritten()  # so that last_seen is current for every episode
        with self._known_lock:
            for episode in [e for e, known in self._known.items() if known.seen < before]:
                del self._known[episode]
        return self._write("DELETE FROM alert_episodes WHERE last_seen < ?", (before,))[1]

    def actions_since(self, since: float) -> list[ActionRecord]:
        rows = self._read(
            f"SELECT {_COLUMNS} FROM actions WHERE intent_at >= ? ORDER BY intent_at, id",  # noqa: S608
            (since,),
        )
        return [_record(r) for r in rows]

    def unfinished_actions(self) -> list[ActionRecord]:
        rows = self._read(
            f"SELECT {_COLUMNS} FROM actions WHERE remediation IS NULL AND mode = 'enforce' "  # noqa: S608
            "ORDER BY intent_at, id"
        )
        return [_record(r) for r in rows]

    def recent_actions(self, limit: int = 20) -> list[LedgerAction]:
        rows = self._read(
            f"SELECT id, cluster_no, trigger, request_id, detail, {_COLUMNS} FROM actions "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            LedgerAction(
                id=int(str(r[0])),
                cluster_no=str(r[1]),
                trigger=str(r[2]),
                request_id=None if r[3] is None else str(r[3]),
                detail=str(r[4]),
                record=_record(r[5:]),
            )
            for r in rows
        ]

    def actions_without_outcome(self) -> list[LedgerAction]:
        rows = self._read(
            f"SELECT id, cluster_no, trigger, request_id, detail, {_COLUMNS} FROM actions "  # noqa: S608
            "WHERE result IS NULL AND remediation IS NULL AND mode = 'enforce' ORDER BY id"
        )
        return [
            LedgerAction(
                id=int(str(r[0])),
                cluster_no=str(r[1]),
                trigger=str(r[2]),
                request_id=None,
                detail=str(r[4]),
                record=_record(r[5:]),
            )
            for r in rows
        ]

    def open_breakers(self) -> list[tuple[str, str]]:
        rows = self._read("SELECT rule, target FROM breakers WHERE open = 1 ORDER BY rule, target")
        return [(str(r[0]), str(r[1])) for r in rows]

    def active_pauses(self, now: float) -> list[PauseRecord]:
        rows = self._read(
            "SELECT target, until, reason FROM pauses WHERE until > ? ORDER BY target", (now,)
        )
        return [
            PauseRecord(
                target=None if r[0] == _ALL else str(r[0]),
                until=float(str(r[1])),
                reason=str(r[2]),
            )
            for r in rows
        ]


def _record(r: tuple[object, ...]) -> ActionRecord:
    return ActionRecord(
        rule=str(r[0]),
        target=str(r[1]),
        action=str(r[2]),
        mode=str(r[3]),
        intent_at=float(str(r[4])),
        result=None if r[5] is None else str(r[5]),
        outcome_at=None if r[6] is None else float(str(r[6])),
        remediation=None if r[7] is None else str(r[7]),
        step=int(str(r[8])),
    )


def _nodes(nodes: Sequence[int]) -> str:
    return ",".join(str(int(n)) for n in nodes)
