"""Whether the ledger takes writes, and what to do while it does not.

A ledger can stop taking writes while the daemon runs: a full disk, another process holding
SQLite's write lock (a backup, an `sqlite3` shell), PostgreSQL down. Then:

- an intent cannot be written, so its action is not sent (`required` raises; the engine is
  told, and tries the step again later — see `core.verification.unsent`);
- every other record (an outcome, a verified remediation, a breaker) is kept in memory, in
  order, and written once the ledger takes writes again (`record`); nothing new is written
  before them, so a remediation's end never lands on the wrong row;
- `/-/ready` answers 503 and `remediator_ledger_writable` is 0, and one log line says so
  (one more when it is back);
- `check`, run every few seconds, writes what is kept, or a heartbeat row, to find out when
  the ledger is back.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from remediator.clock import Clock
from remediator.errors import LedgerError
from remediator.metrics import Metrics
from remediator.store import Ledger

log = logging.getLogger("remediator.runtime.daemon")

T = TypeVar("T")
# Records kept while the ledger is unwritable; past this the oldest are dropped (and said).
DEFERRED_LIMIT = 10_000


class LedgerWatch:
    """The ledger's writability, and the records waiting for it."""

    def __init__(
        self, ledger: Ledger, metrics: Metrics, clock: Clock, *, limit: int = DEFERRED_LIMIT
    ) -> None:
        self.ledger, self.metrics, self.clock = ledger, metrics, clock
        self._limit = limit
        self._lock = threading.RLock()
        self._deferred: deque[tuple[str, Callable[[], object]]] = deque()
        self._dropped = 0
        self.writable = True
        self.down_since: float | None = None
        self.last_error = ""
        metrics.ledger_writable.set(1)

    def required(self, record: str, write: Callable[[], T]) -> T:
        """`write()`, which must be durable before going on (an intent): its result, or
        LedgerError — at once, without trying, while the ledger is known to be unwritable."""
        with self._lock:
            if not self.writable or not self._flush():
                raise LedgerError(
                    f"the ledger has not taken writes since {self._since()} ({self.last_error})"
                )
            try:
                result = write()
            except LedgerError as exc:
                self._failed(record, exc)
                raise
            return result

    def record(self, record: str, write: Callable[[], object]) -> None:
        """`write()` now, or once the ledger takes writes again (after those kept before it)."""
        with self._lock:
            if len(self._deferred) >= self._limit:
                self._deferred.popleft()
                self._dropped += 1
            self._deferred.append((record, write))
            if self.writable:
                self._flush()
            self.metrics.ledger_deferred.set(len(self._deferred))

    def failed(self, record: str, exc: LedgerError) -> None:
        """A write made elsewhere (the webhook's receipts) failed."""
        with self._lock:
            self._failed(record, exc)

    def check(self) -> bool:
        """Write what is kept, or else a heartbeat; whether the ledger takes writes now."""
        with self._lock:
            if self._deferred:
                return self._flush()
            try:
                self.ledger.touch(self.clock.now())
            except LedgerError as exc:
                self._failed("heartbeat", exc)
                return False
            self._back()
            return True

    def _flush(self) -> bool:
        while self._deferred:
            record, write = self._deferred[0]
            try:
                write()
            except LedgerError as exc:
                self._failed(record, exc)
                return False
            self._deferred.popleft()
        self.metrics.ledger_deferred.set(0)
        self._back()
        return True

    def _failed(self, record: str, exc: LedgerError) -> None:
        self.metrics.ledger_write_failures.labels(record=record).inc()
        self.last_error = str(exc)
        if not self.writable:
            return
        self.writable = False
        self.down_since = self.clock.now()
        self.metrics.ledger_writable.set(0)
        log.error(
            f"the ledger cannot be written ({record}: {exc}): no action is sent until it can; "
            "other records are kept in memory and written when it is back; /-/ready answers 503",
            extra={"event": "ledger", "writable": False, "record": record},
        )

    def _back(self) -> None:
        if self.writable:
            return
        self.writable = True
        down = self.clock.now() - (self.down_since or self.clock.now())
        self.down_since = None
        self.metrics.ledger_writable.set(1)
        lost = (
            f"; {self._dropped} record(s) were dropped (over {self._limit})"
            if self._dropped
            else ""
        )
        self._dropped = 0
        log.info(
            f"the ledger takes writes again after {down:.0f}s; the records kept meanwhile are "
            f"written{lost}",
            extra={"event": "ledger", "writable": True},
        )

    def _since(self) -> str:
        from remediator.timetext import iso  # noqa: PLC0415 - only for this message

        return iso(self.down_since) if self.down_since is not None else "now"
