"""The ledger's logic in SQL, for the backends that differ only in their connection.

`SqlLedger` holds everything the `Ledger` protocol asks: the statements, the group commit of
webhook alerts and the memory of episodes already on disk. A backend (sqlite.py, postgres.py)
opens the connection and says how to begin, commit and run a statement. The SQL is written
once, in SQLite's dialect; PostgreSQL's differs in its placeholders (%s for ?) and in spelling
the two-argument MAX as GREATEST, which `postgres.py` translates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from remediator.core.events import AlertEvent
from remediator.core.state import ActionRecord, PauseRecord
from remediator.store import LedgerAction

Row = tuple[object, ...]

_ALL = "*"
# A re-send of an episode whose receipt is on disk changes nothing durable when it comes
# within this long of the last written receipt: it is answered from memory and only counted
# (the count joins the next write of the episode, or close()). So last_seen is exact to a
# minute, well inside the week of episode memory it serves, and a storm of re-sends (each
# Alertmanager notification carries its whole group) costs no fsync.
RESEND_WINDOW = 60.0
# Episodes remembered that way; past this, the least recently written are forgotten: their
# next receipt is written again, and the re-sends counted since their last write (a
# statistic, `receipts`) are lost.
KNOWN_EPISODES = 100_000
# A constant column list; the only thing ever formatted into SQL here.
_COLUMNS = "rule, target, action, mode, intent_at, result, outcome_at, remediation"


class SqlLedger:
    """The ledger over one connection that a backend opens; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the connection: one statement or transaction at a time
        self._queue_lock = threading.Lock()
        self._queue: list[_Receipt] = []
        self._committing = False
        self._known_lock = threading.Lock()
        self._known: dict[tuple[str, str], _Known] = {}

    # -- what a backend provides (called with `_lock` held) ------------------------------

    def _execute(self, sql: str, params: Sequence[object] = ()) -> _Cursor:
        """Run one statement of this module's SQL."""
        raise NotImplementedError

    def _begin(self) -> None:
        """Start a write transaction."""
        raise NotImplementedError

    def _commit(self) -> None:
        """Commit it, durably."""
        self._execute("COMMIT")

    def _rollback(self) -> None:
        """Roll it back."""
        self._execute("ROLLBACK")

    def close(self) -> None:
        """Write what is counted only in memory, and close the connection."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------

    def _write(self, sql: str, params: Sequence[object]) -> tuple[list[Row], int]:
        """One statement in its own transaction: (the rows it returned, the rows it changed)."""
        with self._lock:
            self._begin()
            try:
                cur = self._execute(sql, params)
                rows = list(cur.fetchall()) if cur.description else []
                count = cur.rowcount
            except BaseException:
                self._rollback()
                raise
            self._commit()
            return rows, count

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return list(self._execute(sql, params).fetchall())

    def record_intent(
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
    ) -> int:
        rows, _ = self._write(
            "INSERT INTO actions (rule, target, cluster_no, action, mode, trigger, intent_at, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (rule, target, cluster_no, action, mode, trigger, at, detail),
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

    def record_fallback(self, action_id: int, *, action: str, at: float, detail: str) -> None:
        self._write(
            "UPDATE actions SET action = ?, result = NULL, outcome_at = NULL, "
            "detail = CASE WHEN detail = '' THEN ? ELSE detail || '; ' || ? END WHERE id = ?",
            (action, detail, detail, action_id),
        )

    def record_remediation(
        self, *, rule: str, target: str, outcome: str, at: float, detail: str
    ) -> None:
        self._write(
            "UPDATE actions SET remediation = ?, verified_at = ?, "
            "detail = CASE WHEN detail = '' THEN ? ELSE detail || '; ' || ? END WHERE id = ("
            "SELECT id FROM actions WHERE rule = ? AND target = ? AND remediation IS NULL "
            "AND mode = 'enforce' ORDER BY id DESC LIMIT 1)",
            (outcome, at, detail, detail, rule, target),
        )

    def record_breaker(self, *, rule: str, target: str, open: bool, at: float, detail: str) -> None:
        self._write(
            "INSERT INTO breakers (rule, target, open, at, detail) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (rule, target) DO UPDATE SET open = excluded.open, at = excluded.at, "
            "detail = excluded.detail",
            (rule, target, int(open), at, detail),
        )

    def record_pause(self, *, target: str | None, until: float, reason: str, at: float) -> None:
        self._write(
            "INSERT INTO pauses (target, until, reason, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (target) DO UPDATE SET until = excluded.until, "
            "reason = excluded.reason, at = excluded.at",
            (target or _ALL, until, reason, at),
        )

    def clear_pause(self, *, target: str | None, at: float) -> None:
        if target is None:
            self._write("DELETE FROM pauses WHERE ? IS NOT NULL", (at,))
        else:
            self._write("DELETE FROM pauses WHERE target = ?", (target,))

    def record_alerts(self, alerts: list[AlertEvent], at: float) -> list[bool]:
        """Record every alert durably; per alert, whether it is news.

        News is the first firing receipt of an episode, or its first resolved receipt;
        everything else is a re-send, a repeat, or a copy from another Alertmanager.

        A re-send of an episode already on disk, with nothing new in it, is answered from the
        committed state kept in memory (see RESEND_WINDOW). Everything else is written, in a
        group commit: concurrent webhook requests share one transaction and one fsync. The
        first caller to find no commit under way commits everything queued until the queue is
        empty; the others wait for theirs. Nobody returns before its alerts are on disk.
        """
        news = [False] * len(alerts)
        todo: list[int] = []
        with self._known_lock:
            for i, a in enumerate(alerts):
                known = self._known.get(a.episode)
                if (
                    known is not None
                    and (known.resolved or a.status == "firing")
                    and at - known.written < RESEND_WINDOW
                ):
                    known.unwritten += 1
                    known.seen = max(known.seen, at)
                else:
                    todo.append(i)
        if not todo:
            return news
        mine = _Receipt([alerts[i] for i in todo], at)
        with self._queue_lock:
            self._queue.append(mine)
            lead = not self._committing
            self._committing = True
        if lead:
            self._commit_queued()
        mine.done.wait()
        if mine.error is not None:
            raise mine.error
        for i, new in zip(todo, mine.news, strict=True):
            news[i] = new
        return news

    def _commit_queued(self) -> None:
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._committing = False
                    return
            try:
                self._commit_batch(batch)
            except Exception as exc:  # noqa: BLE001 - every waiter of this batch learns it
                for receipt in batch:
                    receipt.error = exc
            except BaseException:
                with self._queue_lock:  # let the next caller lead
                    self._committing = False
                raise
            finally:
                for receipt in batch:
                    receipt.done.set()

    def _commit_batch(self, batch: list[_Receipt]) -> None:
        written: list[tuple[tuple[str, str], int, bool, float]] = []
        with self._known_lock:  # re-sends answered from memory, folded into this write
            unwritten = {
                a.episode: known.unwritten
                for receipt in batch
                for a in receipt.alerts
                if (known := self._known.get(a.episode)) is not None
            }
        with self._lock:
            self._begin()
            try:
                for receipt in batch:
                    for a in receipt.alerts:
                        counted = unwritten.pop(a.episode, 0)
                        new, resolved = self._record_alert(a, receipt.at, counted)
                        receipt.news.append(new)
                        written.append((a.episode, counted, resolved, receipt.at))
            except BaseException:
                self._rollback()
                for receipt in batch:
                    receipt.news.clear()
                raise
            self._commit()
        self._remember(written)

    def _record_alert(self, a: AlertEvent, at: float, counted: int) -> tuple[bool, bool]:
        """Upsert one receipt, and `counted` earlier ones: (news, resolved on disk)."""
        resolved = at if a.status == "resolved" else None
        row = self._execute(
            "INSERT INTO alert_episodes (fingerprint, starts_at, target, alertname, labels, "
            "starts_at_ts, first_seen, last_seen, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (fingerprint, starts_at) DO UPDATE SET "
            "last_seen = MAX(alert_episodes.last_seen, excluded.last_seen), "
            "receipts = alert_episodes.receipts + 1 + ?, "
            "resolved_at = COALESCE(alert_episodes.resolved_at, excluded.resolved_at) "
            "RETURNING receipts, resolved_at",
            (
                a.fingerprint,
                a.starts_at,
                a.target,
                a.alertname,
                json.dumps(dict(a.labels), sort_keys=True),
                a.starts_at_ts,
                at,
                at,
                resolved,
                counted,
            ),
        ).fetchone()
        assert row is not None  # an upsert with RETURNING returns its row
        receipts, resolved_at = row
        if a.status == "resolved":  # news: this receipt is the one that set resolved_at
            return resolved_at == at, True
        return receipts == 1, resolved_at is not None

    def _remember(self, written: list[tuple[tuple[str, str], int, bool, float]]) -> None:
        """What is now on disk, for the re-sends to come."""
        with self._known_lock:
            for episode, counted, resolved, at in written:
                known = self._known.pop(episode, None)  # re-inserted: the newest written last
                if known is None:
                    known = _Known(resolved, at, at)
                else:
                    known.resolved = known.resolved or resolved
                    known.written = max(known.written, at)
                    known.seen = max(known.seen, at)
                    known.unwritten -= counted
                self._known[episode] = known
            while len(self._known) > KNOWN_EPISODES:
                self._known.pop(next(iter(self._known)))

    def _flush_unwritten(self) -> None:
        """Write the re-sends counted only in memory (their receipts and last_seen)."""
        with self._known_lock:
            rows = [
                (known.unwritten, known.seen, *episode)
                for episode, known in self._known.items()
                if known.unwritten
            ]
            for known in self._known.values():
                known.unwritten = 0
        if rows:
            with self._lock:
                self._begin()
                try:
                    for row in rows:
                        self._execute(
                            "UPDATE alert_episodes SET receipts = receipts + ?, "
                            "last_seen = MAX(last_seen, ?) WHERE fingerprint = ? AND starts_at = ?",
                            row,
                        )
                except BaseException:
                    self._rollback()
                    raise
                self._commit()

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


class _Cursor(Protocol):
    """What this module uses of a DB-API cursor (sqlite3's and psycopg's both have it)."""

    @property
    def description(self) -> object: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> Sequence[Row]: ...


@dataclass
class _Receipt:
    """One webhook request's alerts waiting for the group commit that writes them."""

    alerts: list[AlertEvent]
    at: float
    news: list[bool] = field(default_factory=list)
    error: Exception | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Known:
    """An episode as it is on disk, for answering its re-sends without a write."""

    resolved: bool
    written: float  # the time of the last receipt written
    seen: float  # the time of the last receipt
    unwritten: int = 0  # re-sends since, answered from memory and not yet added to receipts


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
    )
