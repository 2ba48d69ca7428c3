"""The one way tests wait: poll a condition on a real process or socket until it holds.

Only for what really happens elsewhere (a subprocess, a server thread, a socket); a test that
needs time to pass drives a FakeClock instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from remediator.clock import Clock, SystemClock

T = TypeVar("T")

REAL_TIME = SystemClock()


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str,
    detail: Callable[[], str] | None = None,
    clock: Clock = REAL_TIME,
) -> T:
    """The first truthy value of `condition()`, polled every `interval` s for `timeout` s.

    On timeout, fails naming `what`, the last value seen and, when given, `detail()` (read
    then, so that a log shows what happened while waiting). An exception from `condition`
    (e.g. an assertion that a process is still alive) ends the wait at once.
    """
    deadline = clock.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if clock.monotonic() >= deadline:
            message = f"timed out after {timeout}s waiting for {what}; last seen: {value!r}"
            if detail is not None:
                message += "\n" + detail()
            raise AssertionError(message)
        clock.sleep(interval)
