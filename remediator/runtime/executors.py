"""A deferred executor: work runs when `drain()` is called, in the caller's thread.

The one-shot operator commands (`remediator restart` with no daemon running) and the tests
use it to carry out the engine's requests in order, without threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class DeferredExecutor(Executor):
    """Queues submitted work; `drain()` runs it (and whatever it submits) to completion."""

    def __init__(self) -> None:
        self._queue: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.append((future, lambda: fn(*args, **kwargs), ()))
        return future

    def drain(self) -> None:
        while self._queue:
            future, fn, args = self._queue.popleft()
            future.set_result(fn(*args))  # an exception reaches drain()'s caller

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self._queue.clear()
        elif wait:
            self.drain()
