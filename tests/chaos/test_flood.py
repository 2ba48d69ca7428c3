"""Slow-connection floods against the daemon's one listener (issue 14, item 2), reduced: more
idle and trickling sockets than waitress' old connection limit (100), for a few seconds. The
full run (500 sockets, 60 s, a daemon process) is `make chaos`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.chaos.flood import big_body_refusal, flood
from tests.harness import AK, SK, Harness

TOKEN = "flood-token"  # a test token, not a secret
RULE = """
  - name: cmak-down-alert
    targets: ["orders"]
    trigger: {alert: {alertname: CMAKDown}}
    action: restart_cmak
"""
ALERT = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "Unrelated", "cluster_no": "999"},
            "startsAt": "2027-01-15T08:00:00Z",
            "fingerprint": "f1",
        }
    ],
}


@pytest.fixture
def listener(tmp_path: Path, fake_clock: FakeClock) -> Iterator[tuple[str, int]]:
    sb = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock).start()
    (tmp_path / "token").write_text(TOKEN)
    h = Harness(
        tmp_path,
        sb,
        fake_clock,
        RULE,
        server=f'listen: "127.0.0.1:0", webhook_token: {{file: "{tmp_path / "token"}"}}',
    )
    h.daemon._ready = True
    h.daemon.http.start()
    try:
        yield "127.0.0.1", h.daemon.http.port
    finally:
        h.daemon.http.close()
        h.daemon.ledger.close()
        sb.stop()


def test_idle_and_trickling_sockets_never_keep_the_listener_from_its_users(
    listener: tuple[str, int],
) -> None:
    host, port = listener
    result = flood(
        host, port, token=TOKEN, webhook_body=ALERT, idle=120, trickling=40, seconds=2, every=0.2
    )
    assert result.failures == {}
    for what in ("/-/ready", "/metrics", "webhook"):
        assert result.worst(what) < 1.0, (what, result.latencies[what])


def test_an_unauthenticated_body_is_refused_from_its_headers_without_reading_it(
    listener: tuple[str, int],
) -> None:
    assert big_body_refusal(*listener) < 1.0
