"""The Alertmanager webhook over real HTTP: auth, limits, validation, mapping, dedup, crashes.

Payloads are the ones a real Alertmanager 0.25 sent (tests/fixtures/alertmanager/).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediator.clock import FakeClock
from remediator.core.alerts import EPISODE_MEMORY, EPISODE_SWEEP
from remediator.core.decisions import Output
from remediator.core.events import AlertEvent, Event
from remediator.sandbox import Sandbox
from remediator.timetext import parse_time
from tests.harness import AK, ORDERS, SK, Harness

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
FIRING: dict[str, Any] = json.loads((FIXTURES / "firing-v0.25.json").read_text())
RESOLVED: dict[str, Any] = json.loads((FIXTURES / "resolved-v0.25.json").read_text())
TOKEN = "test-webhook-token"  # a test token, not a secret

ALERT_RULE = """
  - name: cmak-down-alert
    targets: ["orders"]
    trigger: {alert: {alertname: CMAKDown}}
    action: restart_all_services
    max_blast_radius: cluster
    cooldown: 15m
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    try:
        yield box
    finally:
        box.stop()


class Hook:
    """A harness daemon with its listener up, and a client for the webhook."""

    def __init__(self, tmp: Path, sb: Sandbox, clock: FakeClock) -> None:
        (tmp / "token").write_text(TOKEN + "\n")
        self.h = Harness(
            tmp,
            sb,
            clock,
            ALERT_RULE,
            server=f'listen: "127.0.0.1:0", webhook_token: {{file: "{tmp / "token"}"}}',
        )
        self.sb = sb
        self._start()

    def _start(self) -> None:
        self.h.daemon.http.start()
        self.url = f"http://127.0.0.1:{self.h.daemon.http.port}/api/v1/alerts/alertmanager"

    def post(
        self, body: object, token: str | None = TOKEN, ctype: str = "application/json"
    ) -> requests.Response:
        headers = {"Content-Type": ctype}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = requests.post(self.url, data=data, headers=headers, timeout=5)
        return resp

    def crash_and_restart(self) -> None:
        self.h.daemon.http.close()
        self.h.restart_daemon()
        self._start()

    def metric(self, name: str, **labels: str) -> float:
        return self.h.metric(name, **labels)

    def calls(self) -> int:
        return len(self.sb.action_calls())

    def close(self) -> None:
        self.h.daemon.http.close()
        self.h.daemon.ledger.close()


@pytest.fixture
def hook(tmp_path: Path, sb: Sandbox, fake_clock: FakeClock) -> Iterator[Hook]:
    hk = Hook(tmp_path, sb, fake_clock)
    yield hk
    hk.close()


def with_cluster(payload: dict[str, Any], cluster_no: str, fingerprint: str) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    for alert in out["alerts"]:
        alert["labels"]["cluster_no"] = cluster_no
        alert["fingerprint"] = fingerprint
    return out


def test_a_firing_alert_is_recorded_then_acted_on_once(hook: Hook) -> None:
    resp = hook.post(FIRING)
    assert (resp.status_code, resp.json()["mapped"]) == (200, 1)
    assert hook.calls() == 0, "the reply never waits on the cloud"
    hook.h.executor.drain()
    (call,) = hook.sb.action_calls(ORDERS)
    assert (call.operation, call.verified) == ("restartAllServices", True)
    for _ in range(5):  # Alertmanager re-sends, repeats, and HA copies
        assert hook.post(FIRING).status_code == 200
        hook.h.executor.drain()
    assert hook.calls() == 1
    assert hook.metric("remediator_alerts_received_total", status="firing", outcome="matched") == 1
    assert (
        hook.metric("remediator_alerts_received_total", status="firing", outcome="duplicate") == 5
    )
    assert hook.metric("remediator_webhook_requests_total", code="200") == 6
    dup = {"rule": "cmak-down-alert", "target": "orders", "outcome": "suppressed"}
    assert hook.metric("remediator_decisions_total", reason="duplicate", **dup) == 1


def test_queued_alerts_reach_the_engine_in_order_through_one_drain(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    driver = hook.h.daemon.driver
    heard: list[str] = []
    driver.event_listeners.append(
        lambda e: heard.append(e.fingerprint) if isinstance(e, AlertEvent) else None
    )
    real_feed = driver.feed

    def feed(event: Event) -> list[Output]:
        if isinstance(event, AlertEvent) and event.fingerprint == "fp-bad":
            raise RuntimeError("a bug in the engine")
        return real_feed(event)

    driver.feed = feed  # type: ignore[method-assign]
    for fingerprints in (["fp-1", "fp-bad", "fp-2"], ["fp-3"], ["fp-4", "fp-5"]):
        payload = with_cluster(FIRING, ORDERS, fingerprints[0])
        payload["alerts"] = [with_cluster(FIRING, ORDERS, fp)["alerts"][0] for fp in fingerprints]
        assert hook.post(payload).json()["mapped"] == len(fingerprints)
    assert len(hook.h.executor._queue) == 1, "three requests, one drain task"
    hook.h.executor.drain()
    assert heard == ["fp-1", "fp-2", "fp-3", "fp-4", "fp-5"]
    assert "internal error while carrying out a decision" in caplog.text
    assert hook.calls() == 1, "fp-1 acted; the rest are held by the rule's guards"
    # The drain is over: the next request starts a new one.
    assert hook.post(with_cluster(FIRING, ORDERS, "fp-6")).status_code == 200
    assert len(hook.h.executor._queue) == 1
    hook.h.executor.drain()
    assert heard[-1] == "fp-6"


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_a_missing_or_wrong_token_is_401_and_nothing_happens(hook: Hook, token: str | None) -> None:
    resp = hook.post(FIRING, token=token)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert "error" in resp.json()
    hook.h.executor.drain()
    assert hook.calls() == 0
    assert hook.metric("remediator_webhook_requests_total", code="401") == 1
    assert hook.h.daemon.ledger.pending_alerts(0) == []


def test_limits_and_validation_answer_4xx_with_json(hook: Hook) -> None:
    big = hook.post(b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert (big.status_code, "error" in big.json()) == (413, True)
    assert hook.post(FIRING, ctype="text/plain").status_code == 415
    assert hook.post(b"not json").status_code == 400
    bad = copy.deepcopy(FIRING)
    bad["version"] = "3"
    assert "version" in hook.post(bad).json()["error"]
    no_fp = copy.deepcopy(FIRING)
    del no_fp["alerts"][0]["fingerprint"]
    assert hook.post(no_fp).status_code == 400
    hook.h.executor.drain()
    assert hook.calls() == 0


def test_an_alert_for_an_unconfigured_cluster_is_200_unmatched_and_never_acts(hook: Hook) -> None:
    resp = hook.post(with_cluster(FIRING, "9999999", "f00"))
    assert resp.status_code == 200, "a 4xx would make Alertmanager send it again"
    hook.h.executor.drain()
    assert hook.calls() == 0
    assert (
        hook.metric("remediator_alerts_received_total", status="firing", outcome="unmatched") == 1
    )


def test_resolved_before_the_action_is_dropped(hook: Hook) -> None:
    assert hook.post(FIRING).status_code == 200
    assert hook.post(RESOLVED).status_code == 200
    hook.h.executor.drain()
    assert hook.calls() == 0
    rec = {"rule": "cmak-down-alert", "target": "orders", "outcome": "suppressed"}
    assert hook.metric("remediator_decisions_total", reason="recovered", **rec) == 1
    assert (
        hook.metric("remediator_alerts_received_total", status="resolved", outcome="matched") == 1
    )


def test_a_crash_after_the_200_acts_once_after_restart(hook: Hook) -> None:
    assert hook.post(FIRING).status_code == 200
    hook.crash_and_restart()  # the queued work died with the process; the ledger did not
    hook.h.executor.drain()
    assert hook.calls() == 1
    hook.crash_and_restart()
    assert hook.post(FIRING).status_code == 200
    hook.h.executor.drain()
    assert hook.calls() == 1, "a decided episode stays decided across restarts"


def test_a_long_running_daemon_forgets_episodes_after_a_week(
    hook: Hook, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = hook.h.daemon
    assert hook.post(FIRING).status_code == 200
    hook.h.executor.drain()
    assert hook.calls() == 1
    daemon.tick()
    assert len(daemon.engine.episodes) == 1
    fake_clock.advance(EPISODE_MEMORY + EPISODE_SWEEP)
    with caplog.at_level(logging.INFO, logger="remediator"):
        daemon.tick()
    assert daemon.engine.episodes == {}, "the engine forgot it"
    assert daemon.ledger.settled_episodes(0) == [], "and so did the ledger"
    assert "forgot 1 alert episode(s) not seen for 7 days" in caplog.text
    # Still firing a week later (a silence expired, say): judged again, and the action of a
    # week ago, after the alert began, still answers it.
    with caplog.at_level(logging.INFO, logger="remediator"):
        assert hook.post(FIRING).status_code == 200
        hook.h.executor.drain()
    assert hook.calls() == 1
    assert "which answers it" in caplog.text


def test_a_crash_after_the_200_then_resolved_never_acts(hook: Hook) -> None:
    assert hook.post(FIRING).status_code == 200
    assert hook.post(RESOLVED).status_code == 200
    hook.crash_and_restart()  # both were recorded; neither was acted on before the crash
    hook.h.executor.drain()
    assert hook.calls() == 0
    assert hook.post(FIRING).status_code == 200  # a late copy of the firing message
    hook.h.executor.drain()
    assert hook.calls() == 0


def test_truncated_alerts_are_counted(hook: Hook) -> None:
    payload = copy.deepcopy(FIRING)
    payload["truncatedAlerts"] = 7
    assert hook.post(payload).status_code == 200
    assert hook.metric("remediator_alerts_truncated_total") == 7


def test_alertmanager_times_parse_with_nanoseconds() -> None:
    assert parse_time("2026-11-27T04:55:40.821603757Z") == pytest.approx(
        1795755340.821603, abs=1e-5
    )
    assert parse_time("0001-01-01T00:00:00Z") is not None
    assert parse_time("yesterday") is None
    assert parse_time("2026-11-27T04:55:40") is None  # no zone: not Alertmanager's


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def fuzz_hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hook]:
    """One daemon for every generated example (examples must stay fast)."""
    clock = FakeClock()
    box = Sandbox(access_key=AK, secret_key=SK, clock=clock).start()
    hk = Hook(tmp_path_factory.mktemp("fuzz"), box, clock)
    yield hk
    hk.close()
    box.stop()


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_hostile_payloads_get_4xx_never_5xx_never_a_call(
    fuzz_hook: Hook, data: st.DataObject
) -> None:
    hook = fuzz_hook
    payload = data.draw(_mutations_bytes())
    resp = hook.post(payload)
    assert resp.status_code < 500
    if resp.status_code != 200:
        assert 400 <= resp.status_code < 500 and "error" in resp.json()
    hook.h.executor.drain()
    assert hook.calls() == 0
    assert requests.get(hook.url.replace("/api/v1/alerts/alertmanager", "/metrics"), timeout=5).ok


def _mutations_bytes() -> st.SearchStrategy[bytes]:
    """A real payload with one part replaced by arbitrary JSON, or arbitrary bytes."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        payload = copy.deepcopy(FIRING)
        where = draw(st.sampled_from(["root", "alert", "labels", "raw"]))
        if where == "raw":
            return draw(st.binary(max_size=300))
        value = draw(_json)
        if where == "root":
            payload[draw(st.sampled_from([*payload.keys(), "extra"]))] = value
        elif where == "alert":
            alert = payload["alerts"][0]
            alert[draw(st.sampled_from([*alert.keys(), "extra"]))] = value
        else:
            payload["alerts"][0]["labels"] = value
        # never aim at a configured cluster: a valid alert for one would rightly act
        body = json.dumps(payload).replace('"1484848"', '"0000000"')
        return body.encode()

    return build()
