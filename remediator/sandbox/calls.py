"""The record of every gateway call, for tests, the admin API and the command line."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from remediator.sandbox.operations import ACTIONS


@dataclass(frozen=True)
class RecordedCall:
    """One request to the gateway and what the sandbox did with it."""

    time: float  # sandbox clock, epoch seconds, when the request arrived
    method: str
    target: str  # the raw request target (path and query) as received
    operation: str | None  # None when the path names no operation
    cluster_no: str | None
    verified: bool  # the signature, key and timestamp passed
    reason: str | None  # why it was rejected or not answered normally
    http_status: int | None  # None when the connection was closed without a response
    error_code: str | None  # the gateway errorCode, for gateway errors
    code: int | None  # the envelope code, for 200 answers
    applied: bool  # the cluster state changed
    request_id: str | None
    fault: str | None = None  # the injected fault that acted on this call
    detail: str | None = None  # more about `reason` (e.g. the measured timestamp offset)
    body: str | None = None  # the request body as sent (its first 2000 characters), if any


Listener = Callable[[RecordedCall], None]


class CallLog:
    """Recorded calls in arrival order; thread-safe; listeners hear each one as it is recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every call recorded from now on."""
        with self._lock:
            self._listeners.append(listener)

    def record(self, call: RecordedCall) -> None:
        """Add a call and tell the listeners."""
        with self._lock:
            self._calls.append(call)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(call)

    def snapshot(self) -> list[RecordedCall]:
        """Every call so far."""
        with self._lock:
            return list(self._calls)

    def actions(self, cluster_no: str | None = None) -> list[RecordedCall]:
        """Authenticated restart calls (whatever their answer), optionally for one cluster.

        A rolling restart names its cluster in the body; it counts when that names one.
        """
        return [
            c
            for c in self.snapshot()
            if c.verified
            and c.operation in ACTIONS
            and (cluster_no is None or c.cluster_no == cluster_no)
        ]

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._calls.clear()
