"""`run --record-events` records operator acts through the admin API; `explain` replays them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from remediator.cli import main
from remediator.cli.explain import replay
from remediator.clock import FakeClock
from remediator.config.loader import load_config
from remediator.core.decisions import Decision, Output
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    ApprovalAnswer,
    Event,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.rules import ACTIONS
from remediator.runtime.daemon import Daemon
from remediator.runtime.eventlog import (
    KINDS,
    EventsError,
    event_from_json,
    event_to_json,
    kind_of,
    read_events,
)
from remediator.runtime.executors import DeferredExecutor
from remediator.sandbox import Sandbox
from tests.harness import AK, CMAK_RULE, ORDERS, SK

ADMIN = "admin-test-token"  # a test token, not a secret
T0 = 1_795_748_400.0  # 2026-11-27T03:00:00Z

# -- the codec: every event type ------------------------------------------------------------


def test_every_event_type_is_written_as_its_own_kind_and_reads_back() -> None:
    probe = ProbeResult("orders", False, "connect timeout", T0, 0.5)
    samples: list[Event] = [
        probe,
        AlertEvent("orders", "CMAKDown", "firing", "fp", "s", T0, {"a": "b"}, T0 - 1),
        PreflightResult("manual", "orders", 1, T0, probe, False, "broker green"),
        ActionOutcome("manual", "orders", "restart_cmak", "success", T0),
        Tick(T0),
        Pause(None, T0 + 60, "freeze", T0),
        Resume("orders", T0, reset_breaker=True),
        ManualRestart("orders", "restart_kafka", "ticket 42", T0, True, True, True),
        ApprovalAnswer("1a2b3c4d", False, "bob@ops", "not during the sale", T0),
    ]
    assert {type(e) for e in samples} == set(get_args(Event))
    assert sorted(kind_of(e) for e in samples) == sorted(KINDS)
    for event in samples:
        assert event_from_json(event_to_json(event, T0 + 1)) == (event, T0 + 1)


@given(
    st.text(max_size=12),
    st.sampled_from(ACTIONS),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_a_manual_restart_round_trips_exactly(
    target: str, action: str, reason: str, at: float, force: bool, reset: bool, dry: bool
) -> None:
    event = ManualRestart(target, action, reason, at, force, reset, dry)
    assert event_from_json(event_to_json(event, at)) == (event, at)


def test_a_hand_written_manual_restart_takes_defaults_and_names_a_bad_action() -> None:
    line = '{"type": "manual", "target": "orders", "action": "restart_cmak", "now": 1795748400}'
    assert event_from_json(line) == (ManualRestart("orders", "restart_cmak", "", T0), T0)
    with pytest.raises(EventsError, match='"action" must be "restart_cmak" or'):
        event_from_json('{"type": "manual", "target": "orders", "action": "reboot", "now": 1}')


# -- through a running daemon ---------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Daemon]:
    """A daemon recording its events, serving the admin API on a real port; no probes run."""
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock).start()
    box.set_cmak_restart(ORDERS, "available")
    (tmp_path / "admin").write_text(ADMIN)
    (tmp_path / "rules").mkdir()
    rule = CMAK_RULE.replace('["orders", "analytics"]', '["orders"]')
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n" + rule)
    (tmp_path / "remediator.yaml").write_text(
        f"""
ncp: {{endpoint: "{box.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}, timeout: 2s}}
server: {{listen: "127.0.0.1:0", admin_token: {{file: "{tmp_path / "admin"}"}}}}
state: {{path: "{tmp_path / "state.db"}"}}
targets:
  - {{name: orders, cluster_no: "{ORDERS}", health: {{kind: cmak, url: "{box.tool_url(ORDERS)}"}}}}
rules: [rules/*.yaml]
"""
    )
    d = Daemon(
        load_config(tmp_path / "remediator.yaml"),
        clock=fake_clock,
        registry=CollectorRegistry(),
        environ={"AK": AK, "SK": SK},
        executor=DeferredExecutor(),
        record_events=tmp_path / "events.jsonl",
    )
    d.prepare()
    d.http.start()
    d.scheduler.start()  # no jobs: started only so that stop() runs as in production
    yield d
    d.stop()
    box.stop()


def post(d: Daemon, path: str, body: dict[str, object]) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{d.http.port}{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )


def test_an_operator_restart_through_the_admin_api_is_recorded_and_replays(
    daemon: Daemon, fake_clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    live: list[Output] = []
    daemon.driver.listeners.append(live.append)
    reply = post(daemon, "/api/v1/restart", {"target": "orders", "reason": "ticket 42"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["outcome"] == "acted"
    fake_clock.advance(60)
    assert post(daemon, "/api/v1/pause", {"target": "orders", "seconds": 600, "reason": "x"}).ok
    assert post(daemon, "/api/v1/resume", {"target": "orders", "reset_breaker": True}).ok

    recorded = read_events(daemon.config.path.parent / "events.jsonl")
    events = [e for _, e, _ in recorded]
    (manual,) = [e for e in events if isinstance(e, ManualRestart)]
    assert (manual.target, manual.action, manual.reason) == ("orders", "restart_cmak", "ticket 42")
    assert [type(e) for e in events if isinstance(e, Pause | Resume)] == [Pause, Resume]

    decided = [o for o in live if isinstance(o, Decision)]
    assert [(d.rule, d.outcome, d.reason) for d in decided] == [("manual", "acted", "manual")]
    replayed = replay(daemon.config.policy(), [(e, now) for _, e, now in recorded])
    assert [o for o in replayed if isinstance(o, Decision)] == decided

    config, path = daemon.config.path, daemon.config.path.parent / "events.jsonl"
    assert main(["explain", "-c", str(config), "--events", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "manual on orders: acted (manual): restart_cmak (tool): restarts CMAK only: "
        "requested by an operator: ticket 42" in (out)
    )
    assert "1 acted" in out
