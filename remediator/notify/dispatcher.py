"""The sender: a thread of its own that delivers the outbox, at least once, in order per sink.

It never runs on the probe or action threads, so a slow or dead receiver delays nothing but
notifications. Each round reads the pending notifications (`Ledger.due_notifications`) and
sends each sink's in the order they were made: when a sink's oldest one must wait for a retry,
the sink's others wait behind it. Every attempt is recorded in the ledger before the next, so a
restarted daemon goes on where this one stopped, with the same ids.

Retries back off exponentially with jitter (tenacity's `wait_exponential_jitter`, from 2 s to
5 min, or the receiver's `Retry-After`) until `give_up_after` from the notification's making.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

import requests
from tenacity import RetryCallState, Retrying
from tenacity.wait import wait_exponential_jitter

from remediator.clock import Clock
from remediator.metrics import Metrics
from remediator.notify.sender import Answer, send
from remediator.notify.sinks import Router, Sink

log = logging.getLogger("remediator.notify")

IDLE = 5.0  # how often an idle sender looks at the outbox (another process may write to it)
KEEP = 7 * 86400.0  # sent and failed notifications are kept this long, then forgotten
SWEEP = 3600.0
_BACKOFF = wait_exponential_jitter(multiplier=2.0, max=300.0, jitter=1.0)
_RETRYING = Retrying()


class Pending(Protocol):
    """A pending notification as the outbox gives it (`store.outbox.PendingNotification`)."""

    @property
    def id(self) -> str: ...

    @property
    def sink(self) -> str: ...

    @property
    def event(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def created_at(self) -> float: ...

    @property
    def next_at(self) -> float: ...

    @property
    def attempts(self) -> int: ...


class OutboxStore(Protocol):
    """What the sender needs of the ledger."""

    def due_notifications(self, limit: int = 500) -> Sequence[Pending]: ...

    def notification_sent(self, id: str, sink: str, *, at: float, attempts: int) -> None: ...

    def notification_retry(
        self, id: str, sink: str, *, attempts: int, next_at: float, error: str
    ) -> None: ...

    def notification_failed(
        self, id: str, sink: str, *, at: float, attempts: int, error: str
    ) -> None: ...

    def pending_notifications(self) -> int: ...

    def forget_notifications(self, before: float) -> int: ...


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    state = RetryCallState(retry_object=_RETRYING, fn=None, args=(), kwargs={})
    state.attempt_number = attempts
    return float(_BACKOFF(state))


class Dispatcher:
    """Delivers the outbox to the sinks of `router` (see the module docstring)."""

    def __init__(  # noqa: PLR0913 - injected collaborators, by keyword
        self,
        outbox: OutboxStore,
        router: Router,
        *,
        clock: Clock,
        metrics: Metrics,
        session: requests.Session | None = None,
        batch: int = 500,
    ) -> None:
        self.outbox, self.clock, self.metrics = outbox, clock, metrics
        self.session = session or requests.Session()
        self.batch = batch
        self.router = router
        router.wake = self.wake
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swept_at = -SWEEP

    def rewire(self, router: Router) -> None:
        """Send to a reloaded configuration's sinks from now on."""
        router.wake = self.wake
        self.router = router
        self.wake()

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        """Start sending, in a thread of its own."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the attempt under way (what is pending stays in the outbox)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.session.close()

    def wake(self) -> None:
        """Something was written to the outbox: look now."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due = self.run_once()
            except Exception:  # the ledger failed: the next round tries again
                log.exception("could not deliver notifications", extra={"event": "notify"})
                due = None
            wait = IDLE if due is None else min(IDLE, max(0.0, due - self.clock.now()))
            self._wake.wait(wait)
            self._wake.clear()

    # -- one round -----------------------------------------------------------------------

    def run_once(self) -> float | None:
        """Send what is due now; when the next pending one is due (None: nothing pending)."""
        now = self.clock.now()
        if now >= self._swept_at + SWEEP:
            self._swept_at = now
            self.outbox.forget_notifications(now - KEEP)
        rows = self.outbox.due_notifications(self.batch)
        next_due: float | None = now if len(rows) >= self.batch else None
        waiting: set[str] = set()
        for row in rows:
            if self._stop.is_set():
                break
            if row.sink in waiting:
                continue
            sink = self.router.sinks.get(row.sink)
            if sink is None:
                self._give_up(row, "its sink is no longer configured")
                continue
            if row.next_at > now:
                waiting.add(row.sink)
                next_due = row.next_at if next_due is None else min(next_due, row.next_at)
                continue
            retry_at = self._attempt(sink, row)
            now = self.clock.now()
            if retry_at is not None:
                waiting.add(row.sink)
                next_due = retry_at if next_due is None else min(next_due, retry_at)
        self.metrics.notifications_pending.set(self.outbox.pending_notifications())
        return next_due

    def _attempt(self, sink: Sink, row: Pending) -> float | None:
        """Send `row` once and record what came of it; when to retry (None: done)."""
        answer = send(self.session, sink, row.body, row.id)
        now = self.clock.now()
        attempts = row.attempts + 1
        extra = {"event": "notify", "sink": sink.name, "notification": row.id, "attempts": attempts}
        what = f"notification {row.id} ({row.event}) to {sink.name}"
        if answer.result == "sent":
            self.outbox.notification_sent(row.id, row.sink, at=now, attempts=attempts)
            self._count(sink, row, "sent")
            log.info(f"{what} sent ({answer.detail})", extra=extra)
            return None
        deadline = row.created_at + sink.give_up_after
        if answer.result == "failed" or now >= deadline:
            self._give_up(row, _why(answer, attempts, sink), attempts)
            return None
        next_at = min(now + (answer.retry_after or backoff(attempts)), deadline)
        self.outbox.notification_retry(
            row.id, row.sink, attempts=attempts, next_at=next_at, error=answer.detail
        )
        self._count(sink, row, "retried")
        level = logging.WARNING if attempts == 1 else logging.INFO
        log.log(
            level,
            f"{what} not delivered ({answer.detail}); retrying in {next_at - now:.0f}s",
            extra=extra,
        )
        return next_at

    def _give_up(self, row: Pending, why: str, attempts: int | None = None) -> None:
        tried = row.attempts if attempts is None else attempts
        self.outbox.notification_failed(
            row.id, row.sink, at=self.clock.now(), attempts=tried, error=why
        )
        self.metrics.notifications.labels(sink=row.sink, event=row.event, result="failed").inc()
        log.error(
            f"notification {row.id} ({row.event}) to {row.sink} given up: {why}",
            extra={"event": "notify", "sink": row.sink, "notification": row.id},
        )

    def _count(self, sink: Sink, row: Pending, result: str) -> None:
        self.metrics.notifications.labels(sink=sink.name, event=row.event, result=result).inc()


def _why(answer: Answer, attempts: int, sink: Sink) -> str:
    if answer.result == "failed":
        return f"refused: {answer.detail}"
    return (
        f"still failing after {attempts} attempts in {sink.give_up_after:g}s "
        f"(give_up_after): {answer.detail}"
    )
