"""The probes' event loop: one thread that does every probe's I/O, and the HTTP client they
share (its kept-alive connections).

While it runs (`start` to `stop`), `run` from any other thread hands a coroutine to it and
waits; while it does not (tests, offline commands), `run` uses a loop and a client of its own
for that one call.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from remediator.probe.client import HttpClient

log = logging.getLogger("remediator.probe")

T = TypeVar("T")
Work = Callable[[HttpClient], Coroutine[Any, Any, T]]
# Sockets besides the probes' own: the listener, its clients, the ledger, the signed clients.
_SPARE_FILES = 512


class ProbeLoop:
    """An asyncio loop on its own thread, with the probes' HTTP client."""

    def __init__(
        self, new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    ) -> None:
        self._new_loop = new_loop  # tests pass a loop whose time is a FakeClock's
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: HttpClient | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the loop's thread runs."""
        return self._client is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (only while `running`)."""
        if self._loop is None:
            raise RuntimeError("the probe loop is not running")
        return self._loop

    @property
    def client(self) -> HttpClient:
        """The probes' HTTP client (only on the loop, while `running`)."""
        if self._client is None:
            raise RuntimeError("the probe loop is not running")
        return self._client

    def start(self, sockets: int = 0) -> None:
        """Start the thread with a new client; `sockets`: how many probes may be in flight
        at once, for the limit on open files."""
        if self._thread is not None:
            return
        _allow_open_files(sockets + _SPARE_FILES)
        loop = self._new_loop()
        thread = threading.Thread(target=loop.run_forever, name="probes", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        self._client = HttpClient(loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the probes in flight, close the client's connections and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        # The client stays until every task is done: a probe starting meanwhile still has it.
        asyncio.run_coroutine_threadsafe(_close(self._client), loop).result(timeout)
        self._client = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()
        self._loop = self._thread = None

    def call(self, callback: Callable[..., object], *args: object) -> None:
        """Have the loop call `callback(*args)` soon (from any thread)."""
        self.loop.call_soon_threadsafe(callback, *args)

    def run(self, work: Work[T]) -> T:
        """`work(client)` run to its end, from a thread other than the loop's."""
        loop, client = self._loop, self._client
        if loop is not None and client is not None:
            if threading.current_thread() is self._thread:
                raise RuntimeError("ProbeLoop.run called on the probe loop itself")
            return asyncio.run_coroutine_threadsafe(work(client), loop).result()
        return asyncio.run(_once(work))


async def _close(client: HttpClient | None) -> None:
    current = asyncio.current_task()
    # Again until none is left: a cancelled run may have been waiting to start another.
    while tasks := [t for t in asyncio.all_tasks() if t is not current]:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if client is not None:
        client.close()
        await asyncio.sleep(0)  # the closed connections' sockets are released on the next turn


async def _once(work: Work[T]) -> T:
    client = HttpClient(asyncio.get_running_loop())
    try:
        return await work(client)
    finally:
        client.close()
        await asyncio.sleep(0)


def _allow_open_files(wanted: int) -> None:
    """Raise the soft limit on open files towards `wanted` (within the hard limit): each probe
    in flight holds a socket, and a thousand hanging targets must not starve the listener."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning(
                f"could not raise the limit on open files from {soft} to {target}: {exc}",
                extra={"event": "probe"},
            )
