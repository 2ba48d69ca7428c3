"""The sandbox's HTTP server: one loopback listener, a thread per connection, HTTP/1.1.

It sends `Date` from the sandbox clock (so a test can simulate a skewed gateway), routes
`/_sandbox/` to the admin API, `/clusters/` to the manager tools and everything else to the
gateway, and carries out `Close` outcomes at the socket: hold (interruptibly), then close
without a response, or reset. It tracks open connections so that stopping also ends idle
keep-alive ones: a stopped sandbox answers nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from remediator import __version__
from remediator.clock import Clock
from remediator.sandbox.admin import PREFIX as ADMIN_PREFIX
from remediator.sandbox.admin import Admin
from remediator.sandbox.gateway import Gateway, Request
from remediator.sandbox.replies import Close, Outcome, Reply
from remediator.sandbox.tools import Tools

log = logging.getLogger("remediator.sandbox")

MAX_BODY = 1024 * 1024


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows the sandbox's parts and its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(  # noqa: PLR0913 - the server's collaborators
        self,
        address: tuple[str, int],
        *,
        clock: Clock,
        stopping: threading.Event,
        gateway: Gateway,
        tools: Tools,
        admin: Admin,
    ) -> None:
        self.clock = clock
        self.stopping = stopping
        self.gateway = gateway
        self.tools = tools
        self.admin = admin
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, SandboxHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection (idle keep-alive ones included)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class SandboxHandler(BaseHTTPRequestHandler):
    """Reads one request, asks the right part for an outcome, and carries it out."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections end after this
    # Headers and body go out in separate writes; without this Nagle and delayed ACKs
    # add ~40 ms to every keep-alive exchange.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        """The `Server` header."""
        return f"remediator-sandbox/{__version__}"

    @property
    def _server(self) -> SandboxHTTPServer:
        return cast(SandboxHTTPServer, self.server)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, from the sandbox clock."""
        return formatdate(self._server.clock.now() if timestamp is None else timestamp, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _raw_target(self) -> str:
        # self.path has had a leading "//" collapsed by http.server; the signature covers
        # the target exactly as sent, so take it from the request line itself.
        raw: bytes = getattr(self, "raw_requestline", b"")
        words = str(raw, "iso-8859-1").rstrip("\r\n").split()
        return words[1] if len(words) >= 2 else self.path

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            return None
        if size < 0 or size > MAX_BODY:
            return None
        return self.rfile.read(size)

    def _dispatch(self) -> None:
        srv = self._server
        target = self._raw_target()
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(Reply.json(400, {"error": "bad or too large Content-Length"}))
            return
        path = target.split("?", 1)[0]
        headers = {k: v for k, v in self.headers.items()}
        outcome: Outcome
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                outcome = Reply.json(403, {"error": "the admin API answers loopback clients only"})
            else:
                outcome = srv.admin.handle(self.command, target, body)
        elif path.startswith("/clusters/"):
            outcome = srv.tools.handle(self.command, target, headers)
        else:
            outcome = srv.gateway.handle(Request(self.command, target, headers, body))
        if isinstance(outcome, Close):
            self._close(outcome)
        else:
            self._send(outcome)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def _close(self, close: Close) -> None:
        if close.hold > 0:
            self._server.stopping.wait(close.hold)
        if close.abort:
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.close_connection = True
