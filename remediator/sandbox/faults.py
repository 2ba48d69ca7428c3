"""Gateway faults injected at run time: errors, latency, dropped connections, lost replies.

Faults act after the gateway has authenticated the request and found the operation (a
withdrawn or unknown operation answers 404 regardless and does not use up a fault). Each
call takes at most one fault: the oldest pending one whose `operation` matches.

Whether the backend ran:
- `error` with a 4xx status (429 throttling above all) never runs the action: the gateway
  rejects it before the backend. A 5xx (503/500, 504/510, 500/900) runs it only when
  `applied=True`, so tests can make an "unknown outcome" really have happened or not.
- `drop` closes the connection without running anything.
- `apply_then_timeout` runs the action, then holds the connection `seconds` and closes it
  without a response: the change happened but the client never hears of it.
- `latency` waits `seconds`, then handles the call normally (the action runs even if the
  client gave up meanwhile).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Literal

from remediator.sandbox import errortable
from remediator.sandbox.operations import OPERATIONS

FaultKind = Literal["error", "latency", "drop", "apply_then_timeout"]


@dataclass(frozen=True)
class Fault:
    """One injected fault; `count` is how many calls it affects."""

    kind: FaultKind
    count: int = 1
    operation: str | None = None
    http: int | None = None
    error_code: str | None = None
    retry_after: float | None = None
    applied: bool = False
    seconds: float = 0.0

    @classmethod
    def error(  # noqa: PLR0913 - a gateway fault's fields; options by keyword
        cls,
        http: int,
        error_code: str,
        *,
        count: int = 1,
        operation: str | None = None,
        retry_after: float | None = None,
        applied: bool = False,
    ) -> Fault:
        """A gateway error from the table for the next `count` calls."""
        row = errortable.lookup(http, str(error_code))
        if applied and http < 500:
            raise ValueError(f"a {http} is answered before the backend runs; it cannot be applied")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        return cls._checked(
            "error",
            count,
            operation,
            http=row.http,
            error_code=row.error_code,
            retry_after=retry_after,
            applied=applied,
        )

    @classmethod
    def latency(cls, seconds: float, count: int = 1, operation: str | None = None) -> Fault:
        """Answer the next `count` calls `seconds` late."""
        return cls._checked("latency", count, operation, seconds=seconds)

    @classmethod
    def drop(cls, count: int = 1, operation: str | None = None) -> Fault:
        """Close the connection of the next `count` calls without a response."""
        return cls._checked("drop", count, operation)

    @classmethod
    def apply_then_timeout(
        cls, count: int = 1, hold_seconds: float = 5.0, operation: str | None = None
    ) -> Fault:
        """Run the next `count` calls, then hold and close their connections unanswered."""
        return cls._checked("apply_then_timeout", count, operation, seconds=hold_seconds)

    @classmethod
    def _checked(  # noqa: PLR0913 - a fault's fields; options by keyword
        cls,
        kind: FaultKind,
        count: int,
        operation: str | None,
        *,
        http: int | None = None,
        error_code: str | None = None,
        retry_after: float | None = None,
        applied: bool = False,
        seconds: float = 0.0,
    ) -> Fault:
        if count < 1:
            raise ValueError("count must be at least 1")
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r} (one of {', '.join(OPERATIONS)})")
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return cls(kind, count, operation, http, error_code, retry_after, applied, seconds)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fault:
        """Build a fault from the admin API's JSON (`kind` plus the builder's arguments)."""
        args = dict(data)
        kind = args.pop("kind", None)
        builders = {
            "error": cls.error,
            "latency": cls.latency,
            "drop": cls.drop,
            "apply_then_timeout": cls.apply_then_timeout,
        }
        if not isinstance(kind, str) or kind not in builders:
            raise ValueError(f"kind must be one of {', '.join(builders)}")
        try:
            fault: Fault = builders[kind](**args)  # type: ignore[operator]
        except TypeError as e:
            raise ValueError(f"bad arguments for a {kind} fault: {e}") from None
        return fault


class FaultQueue:
    """Pending faults, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: list[tuple[int, Fault, int]] = []  # (id, fault, calls left)

    def add(self, fault: Fault) -> int:
        """Queue a fault; returns its id."""
        with self._lock:
            fault_id = next(self._ids)
            self._pending.append((fault_id, fault, fault.count))
            return fault_id

    def take(self, operation: str) -> Fault | None:
        """The fault for a call of `operation`, used up by one; None when there is none."""
        with self._lock:
            for i, (fault_id, fault, left) in enumerate(self._pending):
                if fault.operation in (None, operation):
                    if left <= 1:
                        del self._pending[i]
                    else:
                        self._pending[i] = (fault_id, fault, left - 1)
                    return fault
            return None

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[dict[str, object]]:
        """The pending faults as JSON-ready dicts, with `id` and `remaining`."""
        with self._lock:
            return [{"id": fid, **asdict(f), "remaining": left} for fid, f, left in self._pending]
