"""What operators already said, in the pure core: a look before acting that found a silence or a
maintenance window holds the trip, a ladder's next step, and an operator's restart — unless
forced. Each test feeds the engine the events a driver would, with explicit times."""

from __future__ import annotations

from dataclasses import replace

import pytest

from remediator.core.decisions import Act, CheckFirst, Decision
from remediator.core.engine import Engine
from remediator.core.events import HoldReason, ManualRestart, PreflightResult, Tick
from remediator.core.ladder import LOOK_AGAIN
from remediator.core.respect import respected
from remediator.runtime.eventlog import EventsError, event_from_json, event_to_json
from tests.test_ladder import T0, answer, broker_rule, cluster, engine, none_of, one, trip

SILENCE = "held by Alertmanager silence 9a7b by alice (broker disk swap; {cluster_no='145022751'})"


def held(
    c: CheckFirst, at: float, reason: HoldReason = "silenced", detail: str = SILENCE
) -> PreflightResult:
    return replace(answer(c, at, nodes=(145022778,)), held=reason, held_detail=detail)


def test_a_silence_holds_the_trip_once_and_a_clear_look_later_acts() -> None:
    e = engine(broker_rule("restart_kafka_node"))
    check = trip(e)
    assert check.respect
    outs = e.handle(held(check, T0 + 61), T0 + 61)
    d = one(outs, Decision)
    assert (d.outcome, d.reason, d.detail) == ("suppressed", "silenced", SILENCE)
    none_of(outs, Act)
    # the trip goes on: the next failing look asks again; still silenced, it is not said again
    again = one(e.handle(cluster("orders", False, T0 + 120), T0 + 120), CheckFirst)
    assert not e.handle(held(again, T0 + 121), T0 + 121)
    # the silence expired: the next look finds nothing holding the target
    last = one(e.handle(cluster("orders", False, T0 + 180), T0 + 180), CheckFirst)
    outs = e.handle(answer(last, T0 + 181, nodes=(145022778,)), T0 + 181)
    assert one(outs, Decision).outcome == "acted"
    assert one(outs, Act).nodes == (145022778,)


def test_a_maintenance_window_holds_with_its_own_reason() -> None:
    e = engine(broker_rule("restart_kafka_node"))
    detail = "inside maintenance window weekly-patching (2026-03-29T01:00:00Z to 02:00:00Z)"
    outs = e.handle(held(trip(e), T0 + 61, "maintenance", detail), T0 + 61)
    d = one(outs, Decision)
    assert (d.reason, d.detail) == ("maintenance", detail)


def test_a_ladders_next_step_waits_while_silenced_then_goes_on() -> None:
    e = engine(broker_rule("restart_kafka_node", "rolling_restart"))
    check = trip(e)
    outs = e.handle(answer(check, T0 + 61, nodes=()), T0 + 61)  # no unhealthy node: next step
    nxt = one(outs, CheckFirst)
    assert (nxt.action, nxt.respect) == ("rolling_restart", True)
    outs = e.handle(held(nxt, T0 + 62), T0 + 62)
    d = one(outs, Decision)
    assert (d.reason, d.action) == ("silenced", "rolling_restart")
    assert d.detail.startswith(f"rolling_restart waits: {SILENCE}; looking again in")
    none_of(outs, Act)
    look = one(e.handle(Tick(T0 + 62 + LOOK_AGAIN), T0 + 62 + LOOK_AGAIN), CheckFirst)
    at = T0 + 63 + LOOK_AGAIN
    outs = e.handle(answer(look, at, precheck=True, message="SUCCESS"), at)
    assert one(outs, Act).action == "rolling_restart"


def test_a_manual_restart_respects_silences_unless_forced() -> None:
    for force in (False, True):
        e: Engine = engine(broker_rule("restart_kafka_node"))
        outs = e.handle(ManualRestart("orders", "restart_kafka", "disk swap", T0, force), T0)
        check = one(outs, CheckFirst)
        assert check.respect is not force
        # a forced restart's look carries no hold: the driver does not ask
        look = held(check, T0 + 1) if check.respect else answer(check, T0 + 1)
        outs = e.handle(look, T0 + 1)
        d = one(outs, Decision)
        assert (d.outcome, d.reason) == (
            ("acted", "manual") if force else ("suppressed", "silenced")
        )


def test_respected_is_the_one_check_every_path_uses() -> None:
    check = trip(engine(broker_rule("restart_kafka_node")))
    assert respected(answer(check, T0)) is None
    assert respected(held(check, T0)) == ("silenced", SILENCE)
    assert respected(held(check, T0, "maintenance", "")) == (
        "maintenance",
        "held by a maintenance window",
    )


def test_a_held_look_is_recorded_and_read_back_for_explain() -> None:
    check = trip(engine(broker_rule("restart_kafka_node")))
    look = held(check, T0 + 61)
    assert event_from_json(event_to_json(look, T0 + 61)) == (look, T0 + 61)
    line = event_to_json(look, T0 + 61).replace('"held": "silenced"', '"held": "quiet"')
    with pytest.raises(EventsError, match='"held" must be null, silenced or maintenance'):
        event_from_json(line)
