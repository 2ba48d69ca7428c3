"""The probe loop against real sockets: hanging targets cost no thread and are probed together,
each ends at its deadline with the reason it had before, and connections are kept per host."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

import pytest

from remediator.clock import FakeClock
from remediator.config.health import HealthCheck, preset
from remediator.core.events import ProbeResult
from remediator.probe.client import HttpClient
from remediator.probe.loop import ProbeLoop
from remediator.probe.runner import Prober
from remediator.probe.schedule import ProbeSchedule
from tests.waiting import wait_for


def check(url: str, timeout: float = 0.3) -> HealthCheck:
    return preset("http", "t", url, timeout=timeout, interval=15.0)


class Silent:
    """Accepts connections and never answers (a target whose service hangs)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class RecordingServer(ThreadingHTTPServer):
    """Notes each request's client port and headers."""

    daemon_threads = True
    seen: list[tuple[int, dict[str, str]]]


class Recording(BaseHTTPRequestHandler):
    """200 on every GET, HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        seen = cast(RecordingServer, self.server).seen
        seen.append((self.client_address[1], dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def recording() -> Iterator[tuple[str, list[tuple[int, dict[str, str]]]]]:
    server = RecordingServer(("127.0.0.1", 0), Recording)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.seen
    server.shutdown()
    server.server_close()


def test_hanging_targets_are_probed_all_at_once_and_fail_at_their_deadline(
    loop: ProbeLoop, prober: Prober
) -> None:
    silent = Silent()
    try:
        hc = check(f"http://127.0.0.1:{silent.port}/health")

        async def many(client: HttpClient) -> list[ProbeResult]:
            return await asyncio.gather(*(prober.look(client, hc) for _ in range(200)))

        results = loop.run(many)
        # All 200 were connected at once: no pool of threads (64 before) held them back.
        assert len(silent.accepted) == 200
    finally:
        silent.close()
    assert {r.reason for r in results} == {"read timeout"}


def test_a_connection_that_cannot_be_made_is_a_connect_timeout(prober: Prober) -> None:
    # A listener whose accept queue is full drops new SYNs: the connection hangs half-made.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as full:
        port = full.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                fillers.append(s)
            assert prober.probe(check(f"http://127.0.0.1:{port}/")).reason == "connect timeout"
        finally:
            for s in fillers:
                s.close()


def test_connections_are_kept_per_host_and_the_probe_says_who_it_is(
    prober: Prober, recording: tuple[str, list[tuple[int, dict[str, str]]]]
) -> None:
    url, seen = recording
    for n in range(3):
        assert prober.probe(check(f"{url}/t/{n}", timeout=2.0)).reason == "ok"
    ports = {port for port, _ in seen}
    assert len(seen) == 3 and len(ports) == 1, "three probes over one kept-alive connection"
    assert seen[0][1]["User-Agent"].startswith("remediator/")
    assert "Cookie" not in seen[-1][1]


def test_proxies_from_the_environment_are_not_used(
    prober: Prober,
    recording: tuple[str, list[tuple[int, dict[str, str]]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url, seen = recording
    assert Prober(ProbeLoop(), FakeClock()).probe(check(f"{url}/x", timeout=2.0)).reason == "ok"
    assert prober.probe(check(f"{url}/y", timeout=2.0)).reason == "ok"
    assert len(seen) == 2


def test_run_from_the_loop_itself_is_refused(loop: ProbeLoop, prober: Prober) -> None:
    async def nested(client: HttpClient) -> str:
        try:
            prober.probe(check("http://127.0.0.1:1/"))
        except RuntimeError as exc:
            return str(exc)
        return "ran"

    assert "probe loop itself" in loop.run(nested)


def test_stopping_with_probes_in_flight_and_due_says_nothing_wrong(
    caplog: pytest.LogCaptureFixture,
) -> None:
    silent = Silent()
    try:
        for _ in range(3):
            loop = ProbeLoop()
            loop.start(1000)
            results: list[ProbeResult] = []
            prober = Prober(loop, FakeClock())
            schedule = ProbeSchedule(loop, prober.probe_async, results.append)
            schedule.set(
                [
                    preset(
                        "http",
                        f"t{n}",
                        f"http://127.0.0.1:{silent.port}/",
                        timeout=0.15,
                        interval=0.2,
                    )
                    for n in range(300)
                ]
            )
            with caplog.at_level(logging.WARNING):
                schedule.start()
                wait_for(partial(_at_least, results, 300), timeout=10, what="300 probes")
                schedule.stop()
                loop.stop()
                gc.collect()  # an abandoned task would say so when collected
            assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
            assert {r.reason for r in results} == {"read timeout"}
    finally:
        silent.close()


def _at_least(results: list[ProbeResult], n: int) -> bool:
    return len(results) >= n
