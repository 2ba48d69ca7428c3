"""Slow-connection floods: many sockets that send nothing, or trickle a byte now and then, while
the listener's own users (a Prometheus scrape, a readiness check, Alertmanager) time their
requests. Sockets the listener closes are opened again, so the pressure stays for the whole run.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests

from remediator.clock import SystemClock

CLOCK = SystemClock()

# What a trickling socket sends, one byte at a time: a webhook request with a wrong token and a
# body it never finishes (2 MiB promised), or a request line it never ends.
_TRICKLES = (
    b"POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n" + b"{" * 4096,
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 8192,
)
# An unauthenticated 2 MiB body sent at full speed: read, or refused from its headers.
_BIG = (
    b"POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2097152\r\n\r\n"
)


@dataclass
class FloodResult:
    """What the listener's users saw during a flood."""

    idle: int
    trickling: int
    seconds: float
    reopened: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    big_body_refused_in: float | None = None

    def worst(self, what: str) -> float:
        """The slowest answer of `what` (inf when one failed)."""
        if self.failures.get(what):
            return float("inf")
        return max(self.latencies.get(what, [float("inf")]))


class _Attackers:
    """Keeps `idle` silent sockets and `trickling` slow ones open against (host, port)."""

    def __init__(self, host: str, port: int, idle: int, trickling: int) -> None:
        self.address = (host, port)
        self.idle, self.trickling = idle, trickling
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.reopened = 0
        self.sockets: dict[socket.socket, tuple[str, int]] = {}  # kind, bytes sent

    def _open(self, kind: str) -> None:
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(self.address)
        self.sockets[s] = (kind, 0)
        self.selector.register(s, selectors.EVENT_READ)

    def _close(self, s: socket.socket) -> None:
        self.selector.unregister(s)
        self.sockets.pop(s, None)
        s.close()

    def run(self, trickle_every: float) -> None:
        for _ in range(self.idle):
            self._open("idle")
        for _ in range(self.trickling):
            self._open("trickle")
        next_byte = CLOCK.monotonic()
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:  # closed by the listener: come back at once
                    kind = self.sockets[s][0]
                    self._close(s)
                    self._open(kind)
                    self.reopened += 1
            if CLOCK.monotonic() >= next_byte:
                next_byte = CLOCK.monotonic() + trickle_every
                for s, (kind, sent) in list(self.sockets.items()):
                    if kind != "trickle":
                        continue
                    text = _TRICKLES[hash(s) % len(_TRICKLES)]
                    try:
                        s.send(text[sent % len(text) : sent % len(text) + 1])
                        self.sockets[s] = (kind, sent + 1)
                    except OSError:
                        pass
        for s in list(self.sockets):
            self._close(s)


def _timed(
    result: FloodResult, what: str, call: requests.Response | Exception, took: float
) -> None:
    if isinstance(call, Exception):
        result.failures.setdefault(what, []).append(repr(call))
    elif call.status_code != 200:
        result.failures.setdefault(what, []).append(f"HTTP {call.status_code}")
    else:
        result.latencies.setdefault(what, []).append(took)


def big_body_refusal(host: str, port: int) -> float:
    """Seconds until an unauthenticated 2 MiB webhook body is answered, sending only its headers."""
    with socket.create_connection((host, port), timeout=10) as s:
        start = CLOCK.monotonic()
        s.sendall(_BIG + b"{")
        answer = s.recv(200)
        took = CLOCK.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 401"), answer
    return took


def flood(
    host: str,
    port: int,
    *,
    token: str,
    webhook_body: Mapping[str, object],
    idle: int,
    trickling: int,
    seconds: float,
    every: float = 0.5,
    trickle_every: float = 1.0,
) -> FloodResult:
    """Hold `idle` + `trickling` slow sockets for `seconds`; every `every` s time /-/ready,
    /metrics and a valid webhook, each on a new connection."""
    result = FloodResult(idle=idle, trickling=trickling, seconds=seconds)
    attackers = _Attackers(host, port, idle, trickling)
    thread = threading.Thread(target=attackers.run, args=(trickle_every,), daemon=True)
    thread.start()
    base = f"http://{host}:{port}"
    data = json.dumps(webhook_body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        CLOCK.sleep(min(2.0, seconds / 4))  # let the sockets pile up first
        end = CLOCK.monotonic() + seconds
        while CLOCK.monotonic() < end:
            for what, method, path in (
                ("/-/ready", "GET", "/-/ready"),
                ("/metrics", "GET", "/metrics"),
                ("webhook", "POST", "/api/v1/alerts/alertmanager"),
            ):
                start = CLOCK.monotonic()
                try:
                    answer: requests.Response | Exception = requests.request(
                        method,
                        base + path,
                        data=data if method == "POST" else None,
                        headers=headers,
                        timeout=5,
                    )
                except requests.RequestException as exc:
                    answer = exc
                _timed(result, what, answer, CLOCK.monotonic() - start)
            result.big_body_refused_in = max(
                result.big_body_refused_in or 0.0, big_body_refusal(host, port)
            )
            CLOCK.sleep(every)
    finally:
        attackers.stop.set()
        thread.join(10)
    result.reopened = attackers.reopened
    return result
