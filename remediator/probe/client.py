"""The probes' HTTP client: GETs over kept-alive connections, pooled per (scheme, host, port).

It follows no redirect, keeps no cookies, reads no proxy or netrc from the environment, and
checks https certificates and host names against the system's CAs (one TLS context, made on
first use). A connection goes back to the pool only when its response was read to the end and
the server keeps it open; one that the server had closed while it was idle is found out on the
next request, which then goes once more on a fresh connection (as aiohttp did). Idle
connections are closed after `IDLE_TIMEOUT`, or at once when the server closes them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from remediator import __version__
from remediator.probe.connection import Connection, Origin, Stale
from remediator.probe.judge import MAX_BODY
from remediator.probe.wire import Response, request

USER_AGENT = f"remediator/{__version__}"
# Long enough for a target probed every 15 s (the default) to keep its connection; a target
# probed less often connects again rather than hold a socket that idles most of the time.
IDLE_TIMEOUT = 30.0
# Idle connections kept per origin: more than that many probes at once to one host is a burst.
MAX_IDLE = 16
# The probe's own deadline ends a handshake first (asyncio's default of 60 s would not).
_TLS_HANDSHAKE_TIMEOUT = 300.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_Address = tuple[int, int, int, str, tuple[Any, ...]]  # family, type, proto, -, sockaddr


class DnsError(Exception):
    """The host name did not resolve."""


class ConnectError(Exception):
    """No connection could be made; `errors` says why, one per address tried."""

    def __init__(self, errors: list[OSError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class TlsError(Exception):
    """The TLS handshake failed, or the certificate did not verify."""


class Progress:
    """How far one request got: `connected` once it has a connection."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


class HttpClient:
    """GETs for the probes, on `loop` (and only from there)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        user_agent: str = USER_AGENT,
        limit: int = MAX_BODY,
    ) -> None:
        self._loop = loop
        self._user_agent = user_agent
        self._limit = limit
        self._idle: dict[Origin, list[Connection]] = {}
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def get(self, url: str, authorization: str | None, progress: Progress) -> Response:
        """GET `url` (with an Authorization field if given); the response, at most `limit`
        bytes of its body."""
        if self._closed:
            raise RuntimeError("the probes' HTTP client is closed")
        origin, target, host = _split(url)
        message = request(target, host, self._user_agent, authorization)
        connection = self._pooled(origin)
        if connection is not None:
            progress.connected = True
            try:
                return await self._exchange(connection, message)
            except Stale:
                pass  # closed by the server while idle: once more, on a fresh connection
        connection = await self._connect(origin)
        progress.connected = True
        return await self._exchange(connection, message)

    @property
    def idle_connections(self) -> int:
        """How many connections wait in the pool."""
        return sum(len(idle) for idle in self._idle.values())

    def close(self) -> None:
        """Close every idle connection; nothing goes back to the pool afterwards."""
        self._closed = True
        for idle in list(self._idle.values()):
            for connection in list(idle):
                connection.close()
        self._idle.clear()

    async def _exchange(self, connection: Connection, message: bytes) -> Response:
        try:
            response = await connection.exchange(message, self._limit)
        except BaseException:
            connection.close()  # failed, or cancelled mid-way: never reused
            raise
        if response.reusable:
            self._release(connection)
        else:
            connection.close()
        return response

    def _pooled(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()  # the most recent: the older ones may expire unused
            if not idle:
                del self._idle[origin]
            if connection.idle is not None:
                connection.idle.cancel()
            if not connection.closed:
                return connection
        return None

    def _release(self, connection: Connection) -> None:
        idle = self._idle.get(connection.origin, [])
        if self._closed or connection.closed or len(idle) >= MAX_IDLE:
            connection.close()
            return
        self._idle[connection.origin] = idle
        connection.idle = self._loop.call_later(IDLE_TIMEOUT, connection.close)
        idle.append(connection)

    def _forget(self, connection: Connection) -> None:
        """A connection was lost: it is no longer in the pool."""
        idle = self._idle.get(connection.origin)
        if idle is not None and connection in idle:
            idle.remove(connection)
            if not idle:
                del self._idle[connection.origin]

    async def _connect(self, origin: Origin) -> Connection:
        scheme, host, port = origin
        tls = self._tls_context() if scheme == "https" else None
        sock = await self._dial(await self._resolve(host, port))
        try:
            _, connection = await self._loop.create_connection(
                lambda: Connection(self._loop, origin, self._forget),
                sock=sock,
                ssl=tls,
                server_hostname=host if tls is not None else None,
                ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT if tls is not None else None,
            )
        except ssl.SSLError as exc:
            sock.close()
            raise TlsError(str(exc)) from exc
        except BaseException:
            sock.close()
            raise
        return connection

    async def _resolve(self, host: str, port: int) -> Sequence[_Address]:
        """The addresses to try, in order: an IP address as it is, a name by getaddrinfo (on
        the loop's executor, as aiohttp's default resolver did)."""
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.inet_pton(family, host)
            except OSError:
                continue
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
        try:
            found = await self._loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
            )
        except (OSError, UnicodeError) as exc:
            raise DnsError(str(exc)) from exc
        if not found:
            raise DnsError(f"no address for {host}")
        return found

    async def _dial(self, addresses: Sequence[_Address]) -> socket.socket:
        """A socket connected to the first address that takes the connection."""
        errors: list[OSError] = []
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await self._loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                errors.append(exc)
            except BaseException:
                sock.close()
                raise
            else:
                return sock
        raise ConnectError(errors)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _split(url: str) -> tuple[Origin, str, str]:
    """`url` → its origin, the request target (path and query) and the Host field."""
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    default = _DEFAULT_PORTS[scheme]
    port = parts.port or default
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if not target.isascii() or not target.isprintable() or " " in target:
        target = quote(target, safe="/?&=%:@!$'()*+,;~[]")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise DnsError(f"invalid host name: {exc}") from exc
    field = f"[{host}]" if ":" in host else host
    if port != default:
        field += f":{port}"
    return (scheme, host, port), target, field
