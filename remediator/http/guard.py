"""The listener's defences below the WSGI app: what waitress does before a request reaches it.

waitress reads a request's whole body before it calls the app, keeps a connection for as long
as bytes trickle in, and stops accepting at `connection_limit`: 100 sockets that send nothing,
or a byte now and then, took `/metrics`, `/-/ready` and the webhook down. Here:

- a gate per route (the webhook's and the admin routes' bearer token and body limit) is asked
  as soon as a request's headers are in, so that a body is read only for a request that
  passed it; a refused request is answered at once and its connection closed;
- every request must arrive whole within `REQUEST_TIMEOUT` of its first byte, and a connection
  must start one within `IDLE_TIMEOUT` of opening or of its last answer — on the monotonic
  clock, so that a step of the wall clock neither frees nor keeps them;
- at the connection limit, the connection that has been waiting longest without a request
  being served makes room for a new one, so that idle sockets never lock the listener;
- `poll()` instead of `select()`, whose descriptors stop at 1024.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.utilities import Error

# (HTTP status, JSON body, extra headers) of a refusal.
Refusal = tuple[int, dict[str, object], list[tuple[str, str]]]
# Asked with a request's headers (waitress' names: AUTHORIZATION, CONTENT_LENGTH, ...) before
# its body is read: a refusal, or None to read the body and call the app.
Gate = Callable[[Mapping[str, str]], Refusal | None]
Gates = Mapping[tuple[str, str], Gate]

CONNECTION_LIMIT = 1000
REQUEST_TIMEOUT = 15.0
IDLE_TIMEOUT = 30.0

_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


class _Refused(Error):
    """A gate's refusal, answered by waitress' error task (which also closes the connection)."""

    def __init__(self, refusal: Refusal) -> None:
        code, body, headers = refusal
        super().__init__(json.dumps(body, sort_keys=True))
        self.code, self.extra = code, headers
        self.reason = _REASONS.get(code, "Refused")

    def to_response(self, ident: str | None = None) -> Any:
        headers = [("Content-Type", "application/json"), *self.extra]
        return f"{self.code} {self.reason}", headers, self.body.encode("utf-8")


def gate_for(gates: Gates, method: str, path: str) -> Gate | None:
    """The gate of (method, path): an exact route's, or a prefix's (a key ending in "/", as
    `server.Routes.prefixed`) that `path` is under."""
    gate = gates.get((method, path))
    if gate is not None:
        return gate
    return next(
        (
            g
            for (m, prefix), g in gates.items()
            if m == method
            and prefix.endswith("/")
            and path.startswith(prefix)
            and len(path) > len(prefix)
        ),
        None,
    )


def guarded_server(  # noqa: PLR0913 - the listener's parts, by keyword
    app: Callable[..., Iterable[bytes]],
    *,
    host: str,
    port: int,
    threads: int,
    gates: Gates,
    monotonic: Callable[[], float],
    socket_map: dict[int, Any],
    **adjustments: Any,
) -> TcpWSGIServer:
    """A waitress server on (host, port) with the gates, deadlines and eviction above."""

    class Parser(HTTPRequestParser):
        """Asks the route's gate once the headers are in, before the body is read."""

        gated = False

        def received(self, data: bytes) -> int:
            consumed = int(super().received(data))
            if self.gated or not self.headers_finished or self.completed or self.error:
                return consumed
            self.gated = True
            parsed: Any = self  # waitress' stubs miss `path` and give `command` as bytes
            gate = gate_for(gates, str(parsed.command), str(parsed.path))
            refusal = None if gate is None else gate(self.headers)
            if refusal is None:
                return consumed
            self.error = _Refused(refusal)
            self.completed = True
            return len(data)  # the rest of this read is the body it will not read

    class Channel(HTTPChannel):
        """Remembers, on the monotonic clock, when it opened, its request began, it was served."""

        parser_class = Parser

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.began: float | None = None  # the first byte of the request being read
            self.idle_since = monotonic()

        def received(self, data: bytes) -> bool:
            reading = self.request
            result = bool(super().received(data))
            if self.request is None:
                self.began = None
            elif self.request is not reading or self.began is None:
                self.began = monotonic()
            return result

        def service(self) -> None:
            super().service()
            self.idle_since = monotonic()

    class Server(TcpWSGIServer):
        """Closes connections past their deadlines; at the limit, makes room for a new one."""

        channel_class = Channel
        next_expiry = 0.0

        def _channels(self) -> list[Any]:
            channels: dict[int, Any] = self.active_channels  # type: ignore[assignment]
            return list(channels.values())

        def _expire(self, mono: float) -> None:
            """Close the connections past their deadline (waitress' own runs on wall time)."""
            for channel in self._channels():
                if channel.requests:  # being served
                    continue
                if channel.began is not None:
                    late = mono - channel.began > REQUEST_TIMEOUT
                else:
                    late = mono - channel.idle_since > IDLE_TIMEOUT
                if late:
                    channel.will_close = True

        def readable(self) -> bool:  # called by the loop at least once a second
            mono = monotonic()
            if mono >= self.next_expiry:
                self.next_expiry = mono + 1.0
                self._expire(mono)
            if self.accepting and len(self._channels()) >= self.adj.connection_limit:
                self._make_room()
            return bool(super().readable())

        def _make_room(self) -> None:
            """Close the connections waiting longest with nothing being served."""
            channels = self._channels()
            waiting = sorted(
                (c for c in channels if not c.requests),
                key=lambda c: c.idle_since if c.began is None else c.began,
            )
            excess = len(channels) - self.adj.connection_limit + 1
            for channel in waiting[: max(1, excess)]:
                channel.handle_close()

    adj = Adjustments(
        host=host,
        port=port,
        threads=threads,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT,
        cleanup_interval=1,
        asyncore_use_poll=True,
        **adjustments,
    )
    return Server(app, map=socket_map, adj=adj)
