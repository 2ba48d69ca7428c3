"""Fuzzed webhook bodies (issue 14, item 4), reduced: a few thousand mutations of the recorded
payloads through the daemon's app, a few hundred over its real listener. The full run (100,000)
is `make chaos`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.clock import FakeClock
from remediator.http.alertmanager import InvalidPayload, parse
from remediator.sandbox import Sandbox
from tests.chaos.fuzz import bodies, fuzz, post
from tests.harness import AK, SK, Harness

TOKEN = "fuzz-token"  # a test token, not a secret
# Any alert named CMAKDown that reached a target would be acted on at once.
RULE = """
  - name: cmak-down-alert
    targets: ["*"]
    trigger: {alert: {alertname: CMAKDown}}
    action: restart_cmak
"""


@pytest.fixture
def h(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Harness]:
    sb = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock).start()
    (tmp_path / "token").write_text(TOKEN)
    harness = Harness(
        tmp_path,
        sb,
        fake_clock,
        RULE,
        server=f'listen: "127.0.0.1:0", webhook_token: {{file: "{tmp_path / "token"}"}}',
    )
    try:
        yield harness
    finally:
        harness.daemon.ledger.close()
        sb.stop()


def test_fuzzed_bodies_get_no_5xx_no_action_and_bounded_logs(h: Harness) -> None:
    result = fuzz(h.daemon.http.app, TOKEN, bodies(2000, seed=1))
    h.executor.drain()
    assert result.five_hundreds == []
    assert set(result.codes) <= {200, 400, 413, 415}, result.codes
    assert result.codes[400] > 700 and result.codes[200] > 100, "both kinds were exercised"
    assert result.mapped == 0 and h.actions() == []
    assert h.metric("remediator_webhook_requests_total", code="500") == 0
    assert sum(result.codes.values()) == sum(
        h.metric("remediator_webhook_requests_total", code=str(c)) for c in result.codes
    ), "every answer is counted"
    assert result.max_log_lines <= 2 and result.max_log_bytes <= 2048


def test_fuzzed_bodies_over_the_real_listener(h: Harness) -> None:
    h.daemon.http.start()
    try:
        url = f"http://127.0.0.1:{h.daemon.http.port}/api/v1/alerts/alertmanager"
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        codes = {
            requests.post(url, data=body, headers=headers, timeout=10).status_code
            for body in bodies(150, seed=2)
        }
    finally:
        h.daemon.http.close()
    assert codes <= {200, 400, 413}, codes


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": '
        + b"9" * 5000
        + b"}",
        b'{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": 1e999}',
        b'{"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": '
        b'{"a": "\\u0000"}, "startsAt": "x", "fingerprint": "f"}]}',
        b'{"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": '
        b'{"a": "\\ud800"}, "startsAt": "x", "fingerprint": "f"}]}',
    ],
    ids=["deep", "huge-int", "inf", "nul", "surrogate"],
)
def test_what_used_to_answer_500_is_an_invalid_payload(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        parse(body)


def test_ten_thousand_unmatched_alerts_make_one_log_line(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    alert = {"status": "firing", "labels": {"alertname": "Elsewhere"}, "startsAt": "2027-01-15Z"}
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [dict(alert, fingerprint=f"f{i}") for i in range(10_000)],
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    assert 700_000 < len(body) < 1024 * 1024  # the issue's: 836 KB, 10,000 lines
    caplog.set_level("INFO", logger="remediator")
    code, _ = post(h.daemon.http.app, body, TOKEN)
    assert code == 200
    lines = [r for r in caplog.records if r.name.startswith("remediator")]
    assert len(lines) == 1, [r.getMessage()[:100] for r in lines[:5]]
    assert lines[0].getMessage().startswith("10000 alert(s) name no configured target")
