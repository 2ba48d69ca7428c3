"""One connection of the probes' HTTP client: an asyncio Protocol that carries one request at a
time and hands back the parsed response, or why there is none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from remediator.probe.wire import Response, WireError

Origin = tuple[str, str, int]  # scheme, host, port: what a connection is good for


class Stale(Exception):
    """A connection that had served a response before ended without a byte of the next one:
    the server closed it while it was idle, so the request may go again on a fresh one."""


class Connection(asyncio.Protocol):
    """A connection to `origin`; `closed` once either side ended it or it broke."""

    __slots__ = (
        "_forget",
        "_loop",
        "_response",
        "_transport",
        "_waiter",
        "closed",
        "idle",
        "origin",
        "served",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        forget: Callable[[Connection], None],
    ) -> None:
        self.origin = origin
        self.served = False  # it carried a whole response before
        self.closed = False
        self.idle: asyncio.TimerHandle | None = None  # closes it while it waits in the pool
        self._loop = loop
        self._forget = forget  # told when the connection is lost
        self._transport: asyncio.Transport | None = None
        self._response: Response | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def exchange(self, request: bytes, limit: int) -> Response:
        """Send `request` and wait for its response (at most `limit` bytes of its body)."""
        assert self._transport is not None, "not connected"
        response = Response(limit)
        waiter = self._loop.create_future()
        self._response, self._waiter = response, waiter
        self._transport.write(request)
        try:
            await waiter
        finally:
            self._response = self._waiter = None
        self.served = True
        return response

    def close(self) -> None:
        """End the connection now (no lingering TLS shutdown)."""
        self.closed = True
        if self.idle is not None:
            self.idle.cancel()
        if self._transport is not None:
            self._transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        response, waiter = self._response, self._waiter
        if response is None or waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: this connection carries no other request
            return
        try:
            if response.feed(data):
                waiter.set_result(None)
        except WireError as exc:
            waiter.set_exception(exc)

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self._forget(self)

    def _ended(self, exc: Exception | None) -> None:
        """The server closed the connection, or it broke (`exc`)."""
        self.closed = True
        response, waiter = self._response, self._waiter
        if response is None or waiter is None or waiter.done():
            return
        if self.served and not response.started:
            waiter.set_exception(Stale())
        elif exc is not None and response.in_head:
            waiter.set_exception(exc)
        else:
            # A body framed by the close ends here, even if the connection broke (as aiohttp
            # judged it); anything else was cut short.
            try:
                response.feed_eof()
            except WireError as error:
                waiter.set_exception(error)
            else:
                waiter.set_result(None)
