"""The fast local HTTP target of the probe benchmark: 200 on `/t/<n>`, arrival times kept.

With `--hang-fraction F`, a fraction F of the targets (spread evenly: `common.hangs`) accept
the connection, read the request and never answer: the handler waits `HANG` seconds (longer
than any probe timeout) and closes the connection, as a service behind a broken subnet or
security group would look to a prober. Their arrivals are recorded like the others'.

Run by `bench/probes.py` in its own process, so that its CPU is not counted against the prober
being measured. It binds 127.0.0.1 on a free port and prints the port on the first line of
stdout. `GET /_arrivals` returns every arrival so far as JSON columns: `t` (CLOCK_MONOTONIC
seconds, comparable across processes on Linux), `n` (the target number, -1 for a CDSS call) and
`ua` (`r` for remediator, `b` for the blackbox exporter, `c` for a CDSS call, `o` otherwise).

It also stands in for the CDSS API gateway, answering `getClusterStatus` with an all-green
success envelope (no signature check: the gateway's work is not the daemon's), so that the
daemon's periodic signed read-only call per target completes as it would against NCP.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import hangs

from remediator.clock import SystemClock

CLOCK = SystemClock()
HANG = 20.0
BODY = b"ok\n"
STATUS_PATH = "/api/v1/cluster/getClusterStatus/"
CLUSTER_STATUS = json.dumps(
    {
        "code": 0,
        "message": "SUCCESS",
        "requestId": "bench",
        "result": {"brokerStatus": "green", "zookeeperStatus": "green", "cmakStatus": "green"},
    }
).encode()


class Arrivals:
    """Arrival columns, appended from many handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.t: list[float] = []
        self.n: list[int] = []
        self.ua: list[str] = []

    def add(self, t: float, n: int, user_agent: str) -> None:
        """Record one probe of target `n` (-1: a CDSS call)."""
        if n < 0:
            who = "c"
        elif user_agent.startswith("remediator/"):
            who = "r"
        else:
            who = "b" if "Blackbox" in user_agent else "o"
        with self.lock:
            self.t.append(t)
            self.n.append(n)
            self.ua.append(who)

    def dump(self) -> bytes:
        """Every arrival so far, as JSON columns."""
        with self.lock:
            data = {"t": list(self.t), "n": list(self.n), "ua": "".join(self.ua)}
        return json.dumps(data, separators=(",", ":")).encode()


ARRIVALS = Arrivals()


class Handler(BaseHTTPRequestHandler):
    """200 `ok` on /t/<n>; the arrivals on /_arrivals; 404 otherwise. Keep-alive (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms on Linux) on a kept-alive connection, which is not the prober's time.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        arrived = CLOCK.monotonic()
        path = self.path.split("?", 1)[0]
        if path.startswith("/t/") and path[3:].isdigit():
            n = int(path[3:])
            ARRIVALS.add(arrived, n, self.headers.get("User-Agent", ""))
            if hangs(n, self.server.hang_fraction):  # type: ignore[attr-defined]
                CLOCK.sleep(HANG)
                self.close_connection = True
                return
            self._send(200, BODY, "text/plain")
        elif path.startswith(STATUS_PATH):
            ARRIVALS.add(arrived, -1, "")
            self._send(200, CLUSTER_STATUS, "application/json")
        elif path == "/_arrivals":
            self._send(200, ARRIVALS.dump(), "application/json")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a line per request would cost more than the answer."""


class Server(ThreadingHTTPServer):
    """A thread per connection; a deep accept backlog for the exporter's new connections."""

    daemon_threads = True
    request_queue_size = 1024
    hang_fraction = 0.0


def main() -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description="The probe benchmark's target server.")
    parser.add_argument("--hang-fraction", type=float, default=0.0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.hang_fraction = args.hang_fraction
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
