"""Webhook alert receipts in the ledger: written in group commits, and re-sends of episodes
already on disk answered from memory.

`AlertReceipts` is the alert half of `sql.SqlLedger`, apart because it is a concern of its own
(threads waiting on one commit, a memory that must never claim what is not on disk). It runs
its statements through the hooks a backend provides (see `sql.py`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from remediator.core.events import AlertEvent
from remediator.errors import LedgerError

Row = tuple[object, ...]

# A re-send of an episode whose receipt is on disk changes nothing durable when it comes
# within this long of the last written receipt: it is answered from memory and only counted
# (the count joins the next write of the episode, or close()). So last_seen is exact to a
# minute, well inside the week of episode memory it serves, and a storm of re-sends (each
# Alertmanager notification carries its whole group) costs no fsync.
RESEND_WINDOW = 60.0
# Episodes remembered that way, by default; past this, the least recently written are
# forgotten: their next receipt is written again, and the re-sends counted since their last
# write (a statistic, `receipts`) are lost.
KNOWN_EPISODES = 100_000


class AlertReceipts:
    """`record_alerts` and what serves it; the ledger's connection comes from a subclass.

    `known_episodes` caps the episodes remembered for answering re-sends from memory (0: none).
    """

    def __init__(self, *, known_episodes: int = KNOWN_EPISODES) -> None:
        self._known_episodes = known_episodes
        self._lock = threading.Lock()  # the connection: one statement or transaction at a time
        self._queue_lock = threading.Lock()
        self._queue: list[_Receipt] = []
        self._committing = False
        self._known_lock = threading.Lock()
        self._known: dict[tuple[str, str], _Known] = {}

    # -- what a backend provides (called with `_lock` held) ------------------------------

    # The driver's exceptions that mean the ledger failed (disk full, locked, connection lost);
    # they reach callers as `LedgerError`.
    _errors: tuple[type[Exception], ...] = ()

    def _failed(self, exc: Exception) -> LedgerError:
        """`exc`, a driver's error, as the `LedgerError` callers see."""
        return LedgerError(f"ledger: {exc}")

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
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

    # -- receipts ------------------------------------------------------------------------

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
                error = self._failed(exc) if isinstance(exc, self._errors) else exc
                for receipt in batch:
                    receipt.error = error
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
                self._commit()
            except BaseException:
                self._rollback()
                for receipt in batch:
                    receipt.news.clear()
                raise
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
            while len(self._known) > self._known_episodes:
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
        if not rows:
            return
        with self._lock:
            try:
                self._begin()
                try:
                    for row in rows:
                        self._execute(
                            "UPDATE alert_episodes SET receipts = receipts + ?, "
                            "last_seen = MAX(last_seen, ?) WHERE fingerprint = ? AND starts_at = ?",
                            row,
                        )
                    self._commit()
                except BaseException:
                    self._rollback()
                    raise
            except self._errors as exc:
                raise self._failed(exc) from exc


class Cursor(Protocol):
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
