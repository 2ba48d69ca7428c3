"""The probes' HTTP client against raw socket servers: how a body is framed, when a connection
is kept, reused, resent on or dropped, and which reason each broken answer gives."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock
from remediator.config.health import HealthCheck, preset
from remediator.probe.client import IDLE_TIMEOUT, MAX_IDLE, HttpClient
from remediator.probe.judge import MAX_BODY
from remediator.probe.loop import ProbeLoop
from remediator.probe.runner import Prober
from remediator.probe.wire import MAX_HEAD
from tests.probing import FakeTimeLoop
from tests.waiting import wait_for

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy"


class Peer:
    """One connection the server accepted, as the server sees it."""

    def __init__(self, server: RawServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index  # 0 for the first connection accepted, 1 for the next...
        self.ended = threading.Event()  # the client closed it
        self._pending = b""

    def request(self) -> bytes | None:
        """The next request's head, or None once the client closed the connection."""
        while b"\r\n\r\n" not in self._pending:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.ended.set()
                return None
            self._pending += data
        head, _, self._pending = self._pending.partition(b"\r\n\r\n")
        self.server.requests.append((self.index, head))
        return head

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def serve(self, answer: bytes = OK) -> None:
        """Answer every request with `answer` until the client closes the connection."""
        while self.request() is not None:
            self.send(answer)

    def drop(self) -> None:
        """Close the connection (FIN)."""
        self.sock.close()

    def reset(self) -> None:
        """Abort the connection (RST)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def linger(self) -> None:
        """Read (and drop) whatever comes until the client closes the connection."""
        while self.request() is not None:
            pass

    def wait_closed(self) -> bool:
        """Whether the client closes this connection within a few seconds (seen by a handler
        that reads on: `serve` or `linger`)."""
        return self.ended.wait(5)


class RawServer:
    """A TCP server; each connection it accepts is handled by `handle(peer)` on a thread."""

    def __init__(self, handle: Callable[[Peer], None], host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, 0), family=family, backlog=64)
        self.port = self.sock.getsockname()[1]
        self.host = f"[{host}]" if ":" in host else host
        self.peers: list[Peer] = []
        self.requests: list[tuple[int, bytes]] = []  # (connection index, request head)
        self._handle = handle
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/health") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            peer = Peer(self, sock, len(self.peers))
            self.peers.append(peer)
            threading.Thread(target=self._run, args=(peer,), daemon=True).start()

    def _run(self, peer: Peer) -> None:
        with contextlib.suppress(OSError):
            self._handle(peer)

    def close(self) -> None:
        self.sock.close()
        for peer in self.peers:
            peer.sock.close()


Serve = Callable[..., RawServer]  # (handle, host="127.0.0.1") -> a started server


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[RawServer] = []

    def start(handle: Callable[[Peer], None], host: str = "127.0.0.1") -> RawServer:
        servers.append(RawServer(handle, host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def check(url: str, timeout: float = 5.0, **kw: object) -> HealthCheck:
    return preset("http", "t", url, timeout=timeout, interval=15.0, **kw)  # type: ignore[arg-type]


def healthy(url: str) -> HealthCheck:
    return check(url, expect_body=r"\Ahealthy\Z")


def idle(loop: ProbeLoop) -> int:
    async def count(client: HttpClient) -> int:
        return client.idle_connections

    return loop.run(count)


def answer(response: bytes) -> Callable[[Peer], None]:
    """A handler that answers every request with `response` and keeps the connection."""
    return lambda peer: peer.serve(response)


def once(response: bytes) -> Callable[[Peer], None]:
    """A handler that answers one request with `response`, then closes the connection."""

    def handle(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(response)
            peer.drop()

    return handle


# -- what is sent -------------------------------------------------------------------------------


def test_the_request_is_a_plain_get_that_says_who_it_is(prober: Prober, serve: Serve) -> None:
    server = serve(answer(OK))
    assert prober.probe(healthy(server.url("/health?deep=1"))).reason == "ok"
    (_, head), *_ = server.requests
    lines = head.decode().split("\r\n")
    assert lines[0] == "GET /health?deep=1 HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields.pop("User-Agent").startswith("remediator/")
    assert fields == {
        "Host": f"127.0.0.1:{server.port}",
        "Accept": "*/*",
        "Connection": "keep-alive",
    }


def test_a_url_that_is_not_ascii_is_sent_percent_encoded(prober: Prober, serve: Serve) -> None:
    server = serve(answer(OK))
    assert prober.probe(healthy(server.url("/santé?q=a b"))).reason == "ok"
    assert server.requests[0][1].split(b"\r\n")[0] == b"GET /sant%C3%A9?q=a%20b HTTP/1.1"


# -- how the body is framed ---------------------------------------------------------------------


def test_a_chunked_body_is_joined_and_the_connection_kept(prober: Prober, serve: Serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nheal\r\n3;ext=1\r\nthy\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    server = serve(answer(chunked))
    hc = healthy(server.url())
    assert [prober.probe(hc).reason for _ in range(2)] == ["ok", "ok"]
    assert len(server.peers) == 1


def test_a_body_without_length_is_read_until_the_close(prober: Prober, serve: Serve) -> None:
    server = serve(once(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhealthy"))
    hc = healthy(server.url())
    assert [prober.probe(hc).reason for _ in range(2)] == ["ok", "ok"]
    assert len(server.peers) == 2


def test_only_max_body_is_read_and_the_connection_is_not_reused(
    loop: ProbeLoop, prober: Prober, serve: Serve
) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 10) + b"x" * (
        MAX_BODY + 10
    )
    server = serve(answer(big))
    hc = check(server.url(), expect_body=rf"\Ax{{{MAX_BODY}}}\Z")
    assert prober.probe(hc).reason == "ok"
    assert idle(loop) == 0
    assert server.peers[0].wait_closed()
    assert prober.probe(hc).reason == "ok"
    assert len(server.peers) == 2


def test_a_body_of_exactly_max_body_keeps_the_connection(prober: Prober, serve: Serve) -> None:
    full = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % MAX_BODY + b"x" * MAX_BODY
    server = serve(answer(full))
    hc = check(server.url(), expect_body=rf"\Ax{{{MAX_BODY}}}\Z")
    assert [prober.probe(hc).reason for _ in range(2)] == ["ok", "ok"]
    assert len(server.peers) == 1


def test_interim_responses_are_skipped(prober: Prober, serve: Serve) -> None:
    server = serve(
        answer(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n" + OK
        )
    )
    assert prober.probe(healthy(server.url())).reason == "ok"


def test_101_is_a_status_like_any_other(prober: Prober, serve: Serve) -> None:
    server = serve(answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"))
    assert prober.probe(healthy(server.url())).reason == "status 101"


@pytest.mark.parametrize(
    ("response", "reused"),
    [
        (b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nhealthy", False),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 7\r\n\r\nhealthy", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\nhealthy", False),
        (b"HTTP/1.1 200 OK\nContent-Length: 7\n\nhealthy", True),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n", True),
    ],
    ids=["http/1.0", "http/1.0 keep-alive", "connection close", "bare LF", "204"],
)
def test_a_connection_is_kept_only_if_the_server_keeps_it(
    prober: Prober, serve: Serve, response: bytes, reused: bool
) -> None:
    server = serve(answer(response))  # the server never closes: the client decides
    hc = check(server.url(), expect_status=204 if b" 204 " in response else 200)
    assert [prober.probe(hc).reason for _ in range(2)] == ["ok", "ok"]
    assert len(server.peers) == (1 if reused else 2)
    if not reused:
        assert server.peers[0].wait_closed()


# -- keeping, resending, dropping ---------------------------------------------------------------


def test_kept_alive_connections_are_reused(prober: Prober, serve: Serve) -> None:
    server = serve(answer(OK))
    assert [prober.probe(healthy(server.url(f"/t/{n}"))).reason for n in range(3)] == ["ok"] * 3
    assert len(server.peers) == 1
    assert [index for index, _ in server.requests] == [0, 0, 0]


@pytest.mark.parametrize("close", [Peer.drop, Peer.reset], ids=["closed", "reset"])
def test_a_kept_connection_the_server_had_closed_is_retried_once_on_a_fresh_one(
    prober: Prober, serve: Serve, close: Callable[[Peer], None]
) -> None:
    def handle(peer: Peer) -> None:
        if peer.index > 0:
            peer.serve()
            return
        peer.request()
        peer.send(OK)
        peer.request()  # the next probe's request reaches it as the server's idle timer ends
        close(peer)

    server = serve(handle)
    hc = healthy(server.url())
    assert [prober.probe(hc).reason for _ in range(2)] == ["ok", "ok"]
    assert [index for index, _ in server.requests] == [0, 0, 1]


def test_the_retry_is_made_once_only(prober: Prober, serve: Serve) -> None:
    def handle(peer: Peer) -> None:
        if peer.index == 0:
            peer.request()
            peer.send(OK)
        peer.request()
        peer.drop()

    server = serve(handle)
    hc = healthy(server.url())
    reasons = [prober.probe(hc).reason for _ in range(2)]
    assert reasons == ["ok", "connection closed without a response"]
    assert [index for index, _ in server.requests] == [0, 0, 1]


@pytest.mark.parametrize(
    ("close", "reason"),
    [(Peer.drop, "connection closed without a response"), (Peer.reset, "connection reset")],
    ids=["closed", "reset"],
)
def test_no_retry_on_a_fresh_connection(
    prober: Prober, serve: Serve, close: Callable[[Peer], None], reason: str
) -> None:
    def handle(peer: Peer) -> None:
        peer.request()
        close(peer)

    server = serve(handle)
    assert prober.probe(healthy(server.url())).reason == reason
    assert len(server.requests) == 1


def test_a_connection_the_server_closes_while_idle_leaves_the_pool(
    loop: ProbeLoop, prober: Prober, serve: Serve
) -> None:
    server = serve(once(OK))
    hc = healthy(server.url())
    assert prober.probe(hc).reason == "ok"
    wait_for(lambda: idle(loop) == 0, timeout=5, what="the closed connection to leave the pool")
    assert prober.probe(hc).reason == "ok"
    assert [index for index, _ in server.requests] == [0, 1], "no request on a dead connection"


def test_a_probe_cancelled_mid_read_leaves_no_pooled_connection(
    loop: ProbeLoop, prober: Prober, serve: Serve
) -> None:
    def handle(peer: Peer) -> None:
        if peer.index > 0:
            peer.serve()
            return
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nheal")
        peer.linger()

    server = serve(handle)
    assert prober.probe(check(server.url(), timeout=0.3)).reason == "read timeout"
    assert idle(loop) == 0
    assert server.peers[0].wait_closed()
    assert prober.probe(healthy(server.url())).reason == "ok"
    assert len(server.peers) == 2


def test_idle_connections_are_capped_per_host(
    loop: ProbeLoop, prober: Prober, serve: Serve
) -> None:
    many = MAX_IDLE + 4
    together = threading.Barrier(many, timeout=10)

    def handle(peer: Peer) -> None:
        peer.request()
        together.wait()  # every probe holds its own connection at once
        peer.send(OK)
        peer.serve()

    server = serve(handle)
    hc = healthy(server.url())

    async def burst(client: HttpClient) -> list[str]:
        results = await asyncio.gather(*(prober.look(client, hc) for _ in range(many)))
        return [r.reason for r in results]

    assert loop.run(burst) == ["ok"] * many
    assert idle(loop) == MAX_IDLE
    wait_for(
        lambda: sum(peer.ended.is_set() for peer in server.peers) == many - MAX_IDLE,
        timeout=5,
        what="the connections past the cap to be closed",
    )


def test_idle_connections_close_after_the_idle_timeout(serve: Serve) -> None:
    clock = FakeClock()
    loop = ProbeLoop(lambda: FakeTimeLoop(clock))
    loop.start()
    try:
        server = serve(answer(OK))
        assert Prober(loop, clock).probe(healthy(server.url())).reason == "ok"
        clock.advance(IDLE_TIMEOUT - 1)
        loop.call(lambda: None)  # wakes the loop to its timers
        assert idle(loop) == 1
        clock.advance(1)
        loop.call(lambda: None)
        assert server.peers[0].wait_closed()
        assert idle(loop) == 0
    finally:
        loop.stop()


def test_stopping_the_loop_closes_idle_connections(serve: Serve) -> None:
    loop = ProbeLoop()
    loop.start()
    server = serve(answer(OK))
    assert Prober(loop, FakeClock()).probe(healthy(server.url())).reason == "ok"
    loop.stop()
    assert server.peers[0].wait_closed()


# -- broken answers and their reasons -----------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD - 100) + b"\r\n" + OK[17:], "ok"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n" + OK[17:], "connection error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\nhealthy", "ok"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\nhealthy",
            "connection error",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\nhealthy", "connection error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +7\r\n\r\nhealthy", "connection error"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"7\r\nhealthy\r\n0\r\n\r\n",
            "connection error",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "connection error"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "connection error"),
        (b"HTTP/2 200\r\nContent-Length: 7\r\n\r\nhealthy", "connection error"),
        (
            b"HTTP/1.1 200 OK\r\nBad Field: x\r\nContent-Length: 7\r\n\r\nhealthy",
            "connection error",
        ),
    ],
    ids=[
        "head under 64 KiB",
        "head over 64 KiB",
        "same length twice",
        "two lengths",
        "a list of lengths",
        "signed length",
        "length and chunked",
        "bad chunk size",
        "chunked twice",
        "not HTTP/1.x",
        "bad field name",
    ],
)
def test_how_an_answer_is_framed_decides_its_reason(
    prober: Prober, serve: Serve, response: bytes, reason: str
) -> None:
    server = serve(answer(response))
    assert prober.probe(healthy(server.url())).reason == reason


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (b"", "connection closed without a response"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "connection closed without a response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 70\r\n\r\nhealthy", "connection error"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nhealthy\r\n",
            "connection error",
        ),
    ],
    ids=["nothing", "half a head", "half a body", "chunks without their end"],
)
def test_an_answer_cut_short_by_the_close(
    prober: Prober, serve: Serve, response: bytes, reason: str
) -> None:
    server = serve(once(response))
    assert prober.probe(healthy(server.url())).reason == reason


def test_an_unknown_host_is_a_dns_error(prober: Prober) -> None:
    assert prober.probe(check("http://no-such-host.invalid/health")).reason == "dns error"


def test_an_ipv6_literal_url(prober: Prober, serve: Serve) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        server = serve(answer(OK), host="::1")
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1 here: {exc}")
    assert server.url().startswith("http://[::1]:")
    assert prober.probe(healthy(server.url())).reason == "ok"
    fields = server.requests[0][1].decode().split("\r\n")
    assert f"Host: [::1]:{server.port}" in fields


# -- https ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, and a certificate it signed for `localhost` (not for 127.0.0.1)."""
    here = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        try:
            subprocess.run(["openssl", *args], cwd=here, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"openssl could not make test certificates: {exc}")

    key = ["-newkey", "rsa:2048", "-nodes"]
    openssl("req", "-x509", *key, "-days", "2", "-subj", "/CN=test CA", "-keyout", "ca.key",
            "-out", "ca.pem")  # fmt: skip
    openssl("req", *key, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    (here / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    sign = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-extfile", "san.ext"]
    openssl("x509", "-req", "-in", "server.csr", *sign, "-days", "2", "-out", "server.pem")
    return here


@pytest.fixture
def tls_server(certificates: Path, serve: Serve) -> RawServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")

    def handle(peer: Peer) -> None:
        try:
            peer.sock = context.wrap_socket(peer.sock, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused the certificate
        peer.serve()

    return serve(handle)


def test_https_verifies_the_certificate_chain_and_the_host_name(
    certificates: Path, tls_server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    loop = ProbeLoop()
    loop.start()
    try:
        prober = Prober(loop, FakeClock())
        port = tls_server.port
        assert prober.probe(healthy(f"https://localhost:{port}/health")).reason == "ok"
        assert prober.probe(healthy(f"https://localhost:{port}/health")).reason == "ok"
        assert len(tls_server.peers) == 1, "kept alive over TLS too"
        # The certificate names localhost, not the address.
        assert prober.probe(healthy(f"https://127.0.0.1:{port}/health")).reason == "tls error"
    finally:
        loop.stop()


def test_https_refuses_a_certificate_from_an_unknown_ca(
    tls_server: RawServer, prober: Prober
) -> None:
    reason = prober.probe(healthy(f"https://localhost:{tls_server.port}/health")).reason
    assert reason == "tls error"
