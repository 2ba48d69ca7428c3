"""The history in the ledger (SPEC section 11): every decision, outcome and operator act, kept
for `state.retention` and read back newest first.

`HistoryRecords` is the history half of `sql.SqlLedger`, apart because it is a concern of its
own; it runs its statements through the hooks a backend provides (see `sql.py`). Its table is
created by schema migration 4 (`sql.MIGRATIONS`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from remediator.errors import LedgerError
from remediator.store.receipts import Cursor, Row
from remediator.timetext import rfc3339

# decision: acted, suppressed, shadow, awaiting_approval; action: a signed call's result;
# remediation: recovered, not_recovered, escalated; breaker: opened, closed;
# operator: pause, resume, restart, approve, deny (with who and why).
HistoryKind = Literal["decision", "action", "remediation", "breaker", "operator"]
ALL_TARGETS = "*"  # the target of an act on every target (`pause --all`)

MIGRATION = (
    "CREATE TABLE IF NOT EXISTS history ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at REAL NOT NULL,"
    " kind TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " rule TEXT NOT NULL DEFAULT '',"
    " outcome TEXT NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '',"
    " action TEXT NOT NULL DEFAULT '',"
    " blast_radius TEXT NOT NULL DEFAULT '',"
    " actor TEXT NOT NULL DEFAULT '',"
    " detail TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS history_at ON history (at)",
    "CREATE INDEX IF NOT EXISTS history_target_at ON history (target, at)",
)
_COLUMNS = "id, at, kind, target, rule, outcome, reason, action, blast_radius, actor, detail"


@dataclass(frozen=True)
class HistoryEntry:
    """One line of history: what happened to `target` at `at`, and why.

    `outcome` is what the `kind` came to (see `HistoryKind`); `reason` is a decision's reason
    or, for an operator act, the operator's words; `actor` says who, for operator acts.
    """

    at: float
    kind: HistoryKind
    target: str
    outcome: str
    rule: str = ""
    reason: str = ""
    action: str = ""
    blast_radius: str = ""
    actor: str = ""
    detail: str = ""
    id: int | None = None  # given by the ledger

    def to_json(self) -> dict[str, Any]:
        """The entry as `remediator history --json` and `/api/v1/history` show it."""
        data = asdict(self)
        data["who"] = data.pop("actor")
        data["time"] = rfc3339(self.at)
        return data


class HistoryRecords:
    """`record_history`, `history` and `sweep_history`; the connection comes from a subclass."""

    _lock: threading.Lock  # the connection (see receipts.AlertReceipts)

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    _errors: tuple[type[Exception], ...]  # the backend's errors (see receipts.AlertReceipts)

    def _failed(self, exc: Exception) -> LedgerError:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Write `entries` durably, in one transaction."""
        if not entries:
            return
        with self._lock:
            try:
                self._begin()
                try:
                    self._insert(entries)
                    self._commit()
                except BaseException:
                    self._rollback()
                    raise
            except self._errors as exc:
                raise self._failed(exc) from exc

    def _insert(self, entries: Sequence[HistoryEntry]) -> None:
        for e in entries:
            self._execute(
                "INSERT INTO history (at, kind, target, rule, outcome, reason, action, "
                "blast_radius, actor, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    e.at,
                    e.kind,
                    e.target,
                    e.rule,
                    e.outcome,
                    e.reason,
                    e.action,
                    e.blast_radius,
                    e.actor,
                    e.detail,
                ),
            )

    def history(
        self, *, target: str | None = None, since: float, limit: int = 1000
    ) -> list[HistoryEntry]:
        """Entries at or after `since`, newest first; for `target` (and acts on every target)
        when given."""
        where, params = "at >= ?", [since]  # type: tuple[str, list[object]]
        if target is not None:
            where += " AND target IN (?, ?)"
            params += [target, ALL_TARGETS]
        rows = self._read(
            f"SELECT {_COLUMNS} FROM history WHERE {where} "  # noqa: S608 - constants only
            "ORDER BY at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_entry(r) for r in rows]

    def sweep_history(self, before: float) -> int:
        """Delete the entries older than `before` (past `state.retention`); how many."""
        with self._lock:
            try:
                self._begin()
                try:
                    count = self._execute("DELETE FROM history WHERE at < ?", (before,)).rowcount
                    self._commit()
                except BaseException:
                    self._rollback()
                    raise
            except self._errors as exc:
                raise self._failed(exc) from exc
        return int(count)


def _entry(r: Row) -> HistoryEntry:
    return HistoryEntry(
        id=int(str(r[0])),
        at=float(str(r[1])),
        kind=str(r[2]),  # type: ignore[arg-type]
        target=str(r[3]),
        rule=str(r[4]),
        outcome=str(r[5]),
        reason=str(r[6]),
        action=str(r[7]),
        blast_radius=str(r[8]),
        actor=str(r[9]),
        detail=str(r[10]),
    )
