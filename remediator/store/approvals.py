"""Approvals in the ledger (SPEC section 10): who was asked what, and who answered, and why.

A row is written when the engine asks (`pending`), with its `approval_requested` notification,
and settled once (`approved`, `denied` or `expired`), with its `approval_resolved` one.
The engine rebuilds from them what it holds across a restart (`core.restore`).
"""

from __future__ import annotations

from collections.abc import Sequence

from remediator.core.state import ApprovalRecord
from remediator.store.outbox import OutboxEntry
from remediator.store.receipts import Row

# The table, in words both SQLite and PostgreSQL accept.
TABLES = (
    "CREATE TABLE IF NOT EXISTS approvals ("
    "id TEXT PRIMARY KEY, rule TEXT NOT NULL, target TEXT NOT NULL, "
    "cluster_no TEXT NOT NULL, action TEXT NOT NULL, step INTEGER NOT NULL, "
    "trigger TEXT NOT NULL, reason TEXT NOT NULL, requested_at DOUBLE PRECISION NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL, status TEXT NOT NULL DEFAULT 'pending', "
    "resolved_at DOUBLE PRECISION, resolved_by TEXT NOT NULL DEFAULT '', "
    "resolution TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, requested_at)",
)
_COLUMNS = (
    "id, rule, target, action, step, trigger, reason, requested_at, expires_at, status, "
    "resolved_at, resolved_by, resolution"
)


class ApprovalsSql:
    """The approvals' statements; the connection and transactions are `sql.SqlLedger`'s."""

    def _write(
        self, sql: str, params: Sequence[object], notices: Sequence[OutboxEntry] = ()
    ) -> tuple[list[Row], int]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def record_approval(  # noqa: PLR0913 - one keyword per column of the approval row
        self,
        *,
        id: str,
        rule: str,
        target: str,
        cluster_no: str,
        action: str,
        step: int,
        trigger: str,
        reason: str,
        at: float,
        expires_at: float,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """A pending approval, with its `approval_requested` notification."""
        self._write(
            "INSERT INTO approvals (id, rule, target, cluster_no, action, step, trigger, reason, "
            "requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (id, rule, target, cluster_no, action, step, trigger, reason, at, expires_at),
            notices,
        )

    def resolve_approval(  # noqa: PLR0913 - the resolution's columns, by keyword
        self,
        id: str,
        *,
        status: str,
        at: float,
        by: str,
        reason: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """Settle a pending approval (approved, denied, expired), with its notification."""
        self._write(
            "UPDATE approvals SET status = ?, resolved_at = ?, resolved_by = ?, resolution = ? "
            "WHERE id = ? AND status = 'pending'",
            (status, at, by, reason, id),
            notices,
        )

    def approvals_since(self, since: float) -> list[ApprovalRecord]:
        """Every approval still pending, and every one asked for at or after `since`; oldest
        first."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM approvals WHERE status = 'pending' OR requested_at >= ? "  # noqa: S608
            "ORDER BY requested_at, id",
            (since,),
        )
        return [_record(r) for r in rows]

    def approval(self, id: str) -> ApprovalRecord | None:
        """The approval called `id`, whatever became of it."""
        rows = self._read(f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (id,))  # noqa: S608
        return _record(rows[0]) if rows else None


def _record(r: Row) -> ApprovalRecord:
    return ApprovalRecord(
        id=str(r[0]),
        rule=str(r[1]),
        target=str(r[2]),
        action=str(r[3]),
        step=int(str(r[4])),
        trigger=str(r[5]),
        reason=str(r[6]),
        requested_at=float(str(r[7])),
        expires_at=float(str(r[8])),
        status=str(r[9]),
        resolved_at=None if r[10] is None else float(str(r[10])),
        resolved_by=str(r[11]),
        resolution=str(r[12]),
    )
