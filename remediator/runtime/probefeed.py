"""Hands the scheduled probes' results from the probe loop to the driver, on one thread.

The loop only queues a result; counting, logging and the engine (whose lock an alert storm or a
ledger write may hold) happen here, so that they never delay a probe. One thread: a target's
results reach the engine in the order they were taken.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from remediator.core.events import ProbeResult

log = logging.getLogger("remediator.runtime.daemon")

_STOP = object()


class ProbeFeed:
    """A queue of probe results and the thread that takes them, in order."""

    def __init__(self, take: Callable[[ProbeResult], object]) -> None:
        self._take = take
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def put(self, result: ProbeResult) -> None:
        """Queue a result (from any thread; never blocks)."""
        self._queue.put(result)

    def start(self) -> None:
        """Start taking results."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="probe-feed", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Take what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def _drain(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            assert isinstance(item, ProbeResult)
            try:
                self._take(item)
            except Exception:  # the next result must still be taken
                log.exception(
                    f"could not take the probe result of {item.target}",
                    extra={"event": "probe", "target": item.target},
                )
