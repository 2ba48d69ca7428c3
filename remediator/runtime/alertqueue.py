"""Webhook alerts waiting for the engine, fed off the request thread by one drain task at a time.

Under a burst of requests, a request only appends its batch (no thread woken per request); the
drain under way feeds every batch queued, in the order they came.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from remediator.core.events import AlertEvent


class AlertQueue:
    """Batches of alerts for `feed`, drained by work handed to `submit`."""

    def __init__(
        self, submit: Callable[[Callable[[], None]], object], feed: Callable[[AlertEvent], object]
    ) -> None:
        self._submit = submit
        self._feed = feed
        self._lock = threading.Lock()
        self._batches: list[list[AlertEvent]] = []
        self._draining = False

    def put(self, alerts: list[AlertEvent]) -> None:
        """Queue one request's alerts; start a drain unless one is under way."""
        with self._lock:
            self._batches.append(alerts)
            if self._draining:
                return
            self._draining = True
        try:
            self._submit(self._drain)
        except BaseException:
            with self._lock:
                self._draining = False
            raise

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    batches, self._batches = self._batches, []
                    if not batches:
                        self._draining = False
                        return
                for batch in batches:
                    for alert in batch:
                        self._feed(alert)
        except BaseException:
            with self._lock:  # the next batch starts a new drain
                self._draining = False
            raise
