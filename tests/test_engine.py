"""The pure decision core, driven with explicit times: no I/O, no sleeping."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from remediator.core.alerts import EPISODE_MEMORY, EPISODE_SWEEP
from remediator.core.decisions import Act, BreakerChanged, CheckFirst, Decision, Output, Remediated
from remediator.core.engine import Engine
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    Event,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.rules import (
    AlertTrigger,
    Budget,
    Guardrails,
    Policy,
    ProbeTrigger,
    Rule,
    TargetRef,
    Verify,
)
from remediator.core.state import ActionRecord, PauseRecord
from remediator.runtime.runner import Runner

T0 = 1_800_000_000.0


def probe_rule(**kw: object) -> Rule:
    base: dict[str, object] = {
        "name": "cmak-unhealthy",
        "targets": ("*",),
        "trigger": ProbeTrigger(failures=3, of=3),
        "action": "restart_cmak",
        "fallback_action": "restart_all_services",
        "cooldown": 900.0,
        "budget": Budget(max=3, per=6 * 3600.0),
        "verify": Verify(grace=60.0, successes=2, timeout=600.0),
    }
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def alert_rule(**kw: object) -> Rule:
    base: dict[str, object] = {
        "name": "cmak-down-alert",
        "targets": ("*",),
        "trigger": AlertTrigger(alertname="CMAKDown"),
        "action": "restart_cmak",
        "cooldown": 900.0,
    }
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def policy(*rules: Rule, targets: int = 1, guardrails: Guardrails | None = None) -> Policy:
    names = ["orders", "payments", "analytics", "billing", "search", "logs"][:targets]
    refs = tuple(TargetRef(name=n, cluster_no=str(1484848 + i)) for i, n in enumerate(names))
    return Policy(targets=refs, rules=rules, guardrails=guardrails or Guardrails())


@dataclass
class Sim:
    """A synchronous driver: answers CheckFirst and Act at once from the given world functions."""

    engine: Engine
    now: float = T0
    healthy: Callable[[str, float], bool] = lambda _t, _now: True
    busy: Callable[[str, float], bool] = lambda _t, _now: False
    action_result: Callable[[Act], str] = lambda _a: "success"
    outputs: list[Output] = field(default_factory=list)

    def feed(self, event: Event) -> list[Output]:
        runner = Runner(
            lambda e: self.engine.handle(e, self.now), check_first=self.look, act=self.send
        )
        produced = runner.feed(event)
        self.outputs.extend(produced)
        return produced

    def look(self, o: CheckFirst) -> PreflightResult:
        fresh = (
            ProbeResult(o.target, self.healthy(o.target, self.now), "fresh", self.now)
            if o.probe
            else None
        )
        return PreflightResult(
            rule=o.rule,
            target=o.target,
            token=o.token,
            at=self.now,
            probe=fresh,
            cluster_busy=self.busy(o.target, self.now),
        )

    def send(self, o: Act) -> ActionOutcome:
        result = self.action_result(o)
        return ActionOutcome(o.rule, o.target, o.action, result, self.now)  # type: ignore[arg-type]

    def probe_all(self) -> list[Output]:
        out: list[Output] = []
        for t in self.engine.targets:
            ok = self.healthy(t, self.now)
            out += self.feed(ProbeResult(t, ok, "ok" if ok else "status 503", self.now))
        return out

    def run(self, seconds: float, interval: float = 15.0) -> list[Output]:
        out: list[Output] = []
        end = self.now + seconds
        while self.now < end:
            out += self.probe_all()
            self.now += interval
        return out


def acts(outs: list[Output]) -> list[Act]:
    return [o for o in outs if isinstance(o, Act)]


def decisions(outs: list[Output], reason: str | None = None) -> list[Decision]:
    return [o for o in outs if isinstance(o, Decision) and (reason is None or o.reason == reason)]


def down_until(t_end: float) -> Callable[[str, float], bool]:
    return lambda _t, now: now >= t_end


def test_three_failures_trip_one_action_then_verified_recovery() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    broken_until = T0 + 10 * 15
    sim.healthy = lambda _t, now: not (T0 <= now < broken_until) or now >= sim.fixed_at  # type: ignore[attr-defined]
    sim.fixed_at = float("inf")  # type: ignore[attr-defined]

    def act(a: Act) -> str:
        sim.fixed_at = sim.now + 30  # type: ignore[attr-defined]
        return "success"

    sim.action_result = act
    out = sim.run(15 * 3)
    assert len(acts(out)) == 1
    (decision,) = decisions(out)
    assert decision.outcome == "acted"
    assert "3 of the last 3 probes failed" in decision.detail
    out = sim.run(600)
    rem = [o for o in out if isinstance(o, Remediated)]
    assert [r.outcome for r in rem] == ["recovered"]
    assert acts(out) == []


def test_two_failures_of_three_do_not_trip() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    pattern = iter([False, False, True] * 10)
    sim.healthy = lambda _t, _now: next(pattern)
    out = sim.run(15 * 30)
    assert out == []


def test_second_break_inside_cooldown_is_suppressed_once_with_reason() -> None:
    sim = Sim(Engine(policy(probe_rule(verify=Verify(grace=0, successes=1, timeout=60)))))
    sim.healthy = lambda _t, now: not (T0 <= now < T0 + 45 or T0 + 200 <= now < T0 + 400)
    out = sim.run(600)
    assert len(acts(out)) == 1
    cooldowns = decisions(out, "cooldown")
    assert len(cooldowns) == 1, "a suppression is said once per trip"
    assert cooldowns[0].outcome == "suppressed"


def test_after_cooldown_a_still_failing_target_is_acted_on_again() -> None:
    rule = probe_rule(cooldown=300.0, verify=Verify(grace=0, successes=1, timeout=60))
    sim = Sim(Engine(policy(rule)))
    sim.healthy = lambda _t, _now: False
    out = sim.run(1000)
    times = [a.at for a in acts(out)]
    assert len(times) == 3  # budget 3 per 6 h
    assert all(b - a >= 300 for a, b in itertools.pairwise(times))


def test_fresh_probe_healthy_suppresses_recovered() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    sim.healthy = lambda _t, _now: True  # only the fresh probe asks: the tool came back
    for _ in range(3):
        sim.feed(ProbeResult("orders", False, "status 503", sim.now))
        sim.now += 15
    assert acts(sim.outputs) == []
    (d,) = decisions(sim.outputs)
    assert (d.outcome, d.reason) == ("suppressed", "recovered")


def test_cluster_busy_suppresses_then_acts_once_running() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    sim.healthy = lambda _t, _now: False
    sim.busy = lambda _t, now: now < T0 + 100
    out = sim.run(200)
    assert [d.reason for d in decisions(out)][:2] == ["cluster_busy", "probe"]
    assert len(decisions(out, "cluster_busy")) == 1
    (act,) = acts(out)
    assert act.at >= T0 + 100


def test_not_recovering_spends_budget_then_opens_breaker() -> None:
    rule = probe_rule(cooldown=300.0, verify=Verify(grace=30, successes=2, timeout=120))
    sim = Sim(Engine(policy(rule)))
    sim.healthy = lambda _t, _now: False
    out = sim.run(6 * 3600)
    assert len(acts(out)) == 3
    rems = [o for o in out if isinstance(o, Remediated)]
    assert [r.outcome for r in rems] == ["not_recovered"] * 3
    breakers = [o for o in out if isinstance(o, BreakerChanged)]
    assert [b.open for b in breakers] == [True]
    assert "a human must look" in breakers[0].detail
    assert decisions(out, "budget")
    # once the budget window has passed, the breaker still holds the line
    out = sim.run(3600)
    assert acts(out) == []
    assert decisions(out, "breaker")


def test_breaker_closes_after_a_healthy_cooldown_and_on_reset() -> None:
    rule = probe_rule(cooldown=300.0, budget=Budget(max=1, per=3600), verify=Verify(0, 1, 60))
    sim = Sim(Engine(policy(rule)))
    sim.healthy = lambda _t, now: now >= T0 + 1000
    out = sim.run(2000)
    assert [b.open for b in out if isinstance(b, BreakerChanged)] == [True, False]
    closed = next(b for b in out if isinstance(b, BreakerChanged) and not b.open)
    assert closed.at >= T0 + 1000 + 300
    engine = Engine(policy(rule))
    engine.restore([], breakers=[("cmak-unhealthy", "orders")], now=T0)
    out2 = engine.handle(Resume("orders", T0, reset_breaker=True), T0)
    assert [(b.open, b.detail) for b in out2 if isinstance(b, BreakerChanged)] == [
        (False, "reset by an operator")
    ]


def test_withdrawn_action_falls_back_once() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    sim.healthy = lambda _t, now: now < T0 or now >= T0 + 300
    sim.action_result = lambda a: "not_available" if a.action == "restart_cmak" else "success"
    out = sim.run(600)
    sent = acts(out)
    assert [(a.action, a.fallback_of) for a in sent] == [
        ("restart_cmak", None),
        ("restart_all_services", "restart_cmak"),
    ]
    assert [r.outcome for r in out if isinstance(r, Remediated)] == ["recovered"]


def test_withdrawn_without_fallback_is_a_failure() -> None:
    sim = Sim(Engine(policy(probe_rule(fallback_action=None))))
    sim.healthy = lambda _t, _now: False
    sim.action_result = lambda _a: "not_available"
    out = sim.run(60)
    assert len(acts(out)) == 1
    (rem,) = [r for r in out if isinstance(r, Remediated)]
    assert rem.outcome == "not_recovered"


def test_unknown_outcome_is_verified_never_resent() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    sim.healthy = lambda _t, now: now < T0 or now >= T0 + 200
    sim.action_result = lambda _a: "unknown"
    out = sim.run(800)
    assert len(acts(out)) == 1
    assert [r.outcome for r in out if isinstance(r, Remediated)] == ["recovered"]


def test_shadow_mode_decides_and_never_acts() -> None:
    sim = Sim(Engine(policy(probe_rule(mode="shadow"))))
    sim.healthy = lambda _t, _now: False
    out = sim.run(3600)
    assert acts(out) == []
    shadows = [d for d in decisions(out) if d.outcome == "shadow"]
    assert len(shadows) == 3  # the cooldown and the budget are rehearsed too
    assert "would restart_cmak" in shadows[0].detail


def test_mass_failure_holds_every_action() -> None:
    sim = Sim(Engine(policy(probe_rule(), targets=4)))
    sim.healthy = lambda t, _now: t == "billing"
    out = sim.run(600)
    assert acts(out) == []
    assert {d.target for d in decisions(out, "mass_failure")} == {"orders", "payments", "analytics"}


def test_fleet_limit_one_action_at_a_time() -> None:
    sim = Sim(Engine(policy(probe_rule(), targets=4)))
    sim.healthy = lambda t, now: t != "orders" and (t != "payments" or now >= T0 + 600)
    sim.action_result = lambda _a: "success"
    out = sim.run(90)
    assert [a.target for a in acts(out)] == ["orders"]
    assert [d.target for d in decisions(out, "fleet_limit")] == ["payments"]


def test_fleet_hourly_limit() -> None:
    g = Guardrails(max_concurrent_actions=5, max_actions_per_hour=2, mass_failure_min_unhealthy=9)
    sim = Sim(Engine(policy(probe_rule(), targets=3, guardrails=g)))
    sim.healthy = lambda _t, _now: False
    out = sim.run(120)
    assert len(acts(out)) == 2
    assert "max_actions_per_hour 2" in decisions(out, "fleet_limit")[0].detail


def test_probe_and_alert_for_one_incident_give_one_action() -> None:
    sim = Sim(Engine(policy(probe_rule(), alert_rule())))
    sim.healthy = lambda _t, _now: False
    sim.run(45)
    assert len(acts(sim.outputs)) == 1
    out = sim.feed(
        AlertEvent("orders", "CMAKDown", "firing", "fp1", "2026-11-27T04:55:40Z", sim.now)
    )
    assert acts(out) == []
    assert [d.reason for d in decisions(out)] == ["in_progress"]


def test_alert_episode_acts_once_however_often_it_is_resent() -> None:
    sim = Sim(Engine(policy(alert_rule())))
    alert = AlertEvent("orders", "CMAKDown", "firing", "fp1", "2026-11-27T04:55:40Z", T0)
    out: list[Output] = []
    for i in range(20):
        sim.now = T0 + i * 60
        out += sim.feed(alert)
    assert len(acts(out)) == 1
    assert len(decisions(out, "duplicate")) == 1


def test_alert_resolved_before_acting_is_dropped_as_recovered() -> None:
    engine = Engine(policy(alert_rule()))
    firing = AlertEvent("orders", "CMAKDown", "firing", "fp1", "s1", T0)
    (check,) = engine.handle(firing, T0)
    assert isinstance(check, CheckFirst) and check.probe is False
    engine.handle(AlertEvent("orders", "CMAKDown", "resolved", "fp1", "s1", T0 + 1), T0 + 1)
    out = engine.handle(PreflightResult("cmak-down-alert", "orders", check.token, T0 + 2), T0 + 2)
    assert acts(out) == []
    assert [d.reason for d in decisions(out)] == ["recovered"]


def test_corroborated_alert_needs_a_failing_probe() -> None:
    rule = alert_rule(trigger=AlertTrigger(alertname="CMAKDown", corroborate=True))
    sim = Sim(Engine(policy(rule)))
    out = sim.feed(AlertEvent("orders", "CMAKDown", "firing", "fp1", "s1", T0))
    assert [d.reason for d in decisions(out)] == ["not_corroborated"]
    sim.healthy = lambda _t, _now: False
    out = sim.feed(AlertEvent("orders", "CMAKDown", "firing", "fp2", "s2", T0))
    assert len(acts(out)) == 1


def test_alert_for_unconfigured_target_or_other_name_does_nothing() -> None:
    sim = Sim(Engine(policy(alert_rule())))
    assert sim.feed(AlertEvent("nope", "CMAKDown", "firing", "fp", "s", T0)) == []
    assert sim.feed(AlertEvent("orders", "KafkaDown", "firing", "fp", "s", T0)) == []


def test_pause_holds_and_expires() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    sim.healthy = lambda _t, _now: False
    sim.feed(Pause("orders", T0 + 300, "broker upgrade", T0))
    out = sim.run(290)
    assert acts(out) == []
    (d,) = decisions(out, "paused")
    assert "broker upgrade" in d.detail
    out = sim.run(60)
    assert len(acts(out)) == 1


def test_pause_all_and_resume() -> None:
    sim = Sim(Engine(policy(probe_rule(), targets=2)))
    sim.healthy = lambda t, _now: t != "orders"
    sim.feed(Pause(None, T0 + 9999, "freeze", T0))
    assert acts(sim.run(60)) == []
    sim.feed(Resume(None, sim.now))
    assert len(acts(sim.run(60))) == 1


def test_restored_intent_without_outcome_respects_cooldown_and_is_verified() -> None:
    rule = probe_rule()
    engine = Engine(policy(rule))
    crash = ActionRecord("cmak-unhealthy", "orders", "restart_cmak", "enforce", T0 - 30)
    engine.restore([crash], now=T0)
    sim = Sim(engine, now=T0)
    sim.healthy = lambda _t, _now: False
    out = sim.run(865)
    assert acts(out) == [], "never repeat inside the cooldown after a crash"
    assert [r.outcome for r in out if isinstance(r, Remediated)] == ["not_recovered"]
    assert decisions(out, "cooldown")
    (act,) = acts(sim.run(30))
    assert act.at >= T0 - 30 + 900


def test_restored_pause_is_respected() -> None:
    engine = Engine(policy(probe_rule()))
    engine.restore([], pauses=[PauseRecord("orders", T0 + 600, "maint")], now=T0)
    assert engine.paused("orders", T0 + 10) == (True, "maint")
    assert engine.paused("orders", T0 + 599)[0] is True
    engine.handle(Tick(T0 + 601), T0 + 601)
    assert engine.paused("orders", T0 + 601) == (False, "")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=200, max_size=400), st.integers(2, 5))
def test_flapping_never_storms(pattern: list[bool], failures: int) -> None:
    """Whatever the health pattern, actions keep the cooldown apart and stay within budget."""
    rule = probe_rule(
        trigger=ProbeTrigger(failures=failures, of=5),
        cooldown=900.0,
        verify=Verify(grace=30, successes=2, timeout=300),
    )
    sim = Sim(Engine(policy(rule)))
    it = iter(pattern * 20)  # a simulated day at a 15 s interval
    sim.healthy = lambda _t, _now: next(it, True)
    out = sim.run(86_400 - 15)
    times = [a.at for a in acts(out)]
    assert all(b - a >= 900 for a, b in itertools.pairwise(times))
    for t in times:
        assert sum(1 for u in times if t <= u < t + 6 * 3600) <= 3


def test_an_alert_that_began_before_the_last_action_is_answered_by_it() -> None:
    """A probe rule restarted the target; a late alert about the same incident does nothing."""
    sim = Sim(Engine(policy(probe_rule(verify=Verify(0, 1, 60)), alert_rule())))
    sim.healthy = lambda _t, now: now < T0 + 15 or now >= T0 + 120
    sim.run(600)
    assert len(acts(sim.outputs)) == 1
    late = AlertEvent("orders", "CMAKDown", "firing", "fp", "s", sim.now, starts_at_ts=T0 + 20)
    out = sim.feed(late)
    assert acts(out) == []
    (d,) = decisions(out)
    assert (d.reason, d.episode) == ("duplicate", ("fp", "s"))
    fresh = AlertEvent("orders", "CMAKDown", "firing", "fp2", "s2", sim.now, starts_at_ts=sim.now)
    assert len(acts(sim.feed(fresh))) == 1


def test_decided_episodes_survive_a_restore() -> None:
    engine = Engine(policy(alert_rule()))
    engine.restore([], decided_episodes=[("fp1", "s1", "orders", T0)], now=T0)
    sim = Sim(engine)
    out = sim.feed(AlertEvent("orders", "CMAKDown", "firing", "fp1", "s1", T0))
    assert acts(out) == []
    assert [d.reason for d in decisions(out)] == ["duplicate"]


def test_episodes_are_forgotten_a_week_after_their_last_receipt() -> None:
    sim = Sim(Engine(policy(alert_rule(cooldown=60.0))))
    assert len(acts(sim.feed(AlertEvent("orders", "CMAKDown", "firing", "a", "s", T0)))) == 1
    sim.feed(AlertEvent("orders", "CMAKDown", "resolved", "r", "s", T0))
    # "a" is re-sent every day (still firing, repeat_interval): a duplicate every time.
    for day in range(1, 10):
        sim.now = T0 + day * 86400
        out = sim.feed(AlertEvent("orders", "CMAKDown", "firing", "a", "s", sim.now))
        assert acts(out) == [], f"day {day}"
    # "r" was last seen on day 0: gone after a week (and an hour, the sweep), "a" remembered.
    sim.feed(Tick(sim.now))
    assert set(sim.engine.episodes) == {("a", "s")}
    assert ("r", "s") not in sim.engine.episodes
    # Nothing of "a" for a week: forgotten, and a receipt after that is a new incident.
    sim.now += EPISODE_MEMORY + EPISODE_SWEEP
    sim.feed(Tick(sim.now))
    assert sim.engine.episodes == {}
    assert len(acts(sim.feed(AlertEvent("orders", "CMAKDown", "firing", "a", "s", sim.now)))) == 1


def test_an_episode_awaiting_its_look_before_acting_is_never_forgotten() -> None:
    engine = Engine(policy(alert_rule()))
    out = engine.handle(AlertEvent("orders", "CMAKDown", "firing", "a", "s", T0), T0)
    assert any(isinstance(o, CheckFirst) for o in out)  # the driver never answers
    engine.handle(AlertEvent("orders", "CMAKDown", "resolved", "b", "s", T0), T0)
    later = T0 + EPISODE_MEMORY + EPISODE_SWEEP + 1
    engine.handle(Tick(later), later)
    assert set(engine.episodes) == {("a", "s")}, "b forgotten, a still awaited"


def test_manual_restart_goes_through_the_guards() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    out = sim.feed(ManualRestart("orders", "restart_kafka", "ticket 42", T0))
    (act,) = acts(out)
    assert (act.rule, act.action, act.trigger) == ("manual", "restart_kafka", "manual")
    (d,) = decisions(out)
    assert "requested by an operator: ticket 42" in d.detail
    sim.run(600)  # verified (healthy)
    again = sim.feed(ManualRestart("orders", "restart_kafka", "again", sim.now))
    assert [x.reason for x in decisions(again)] == ["cooldown"]
    forced = sim.feed(ManualRestart("orders", "restart_kafka", "again", sim.now, force=True))
    assert len(acts(forced)) == 1
    sim.run(600)
    sim.feed(Pause("orders", sim.now + 600, "maint", sim.now))
    held = sim.feed(ManualRestart("orders", "restart_kafka", "x", sim.now, force=True))
    assert [x.reason for x in decisions(held)] == ["paused"]


def test_manual_restart_stops_at_an_open_breaker_unless_reset() -> None:
    engine = Engine(policy(probe_rule()))
    engine.restore([], breakers=[("cmak-unhealthy", "orders")], now=T0)
    sim = Sim(engine)
    out = sim.feed(ManualRestart("orders", "restart_all_services", "x", T0, force=True))
    assert [d.reason for d in decisions(out)] == ["breaker"]
    out = sim.feed(ManualRestart("orders", "restart_all_services", "x", T0, reset_breaker=True))
    assert [b.open for b in out if isinstance(b, BreakerChanged)] == [False]
    assert len(acts(out)) == 1


def test_manual_dry_run_never_acts() -> None:
    sim = Sim(Engine(policy(probe_rule())))
    out = sim.feed(ManualRestart("orders", "restart_cmak", "x", T0, dry_run=True))
    assert acts(out) == []
    assert [(d.outcome, d.rule) for d in decisions(out)] == [("shadow", "manual")]


def test_an_alert_during_the_look_before_acting_is_settled_as_duplicate() -> None:
    engine = Engine(policy(alert_rule()))
    (check,) = engine.handle(AlertEvent("orders", "CMAKDown", "firing", "fp1", "s1", T0), T0)
    assert isinstance(check, CheckFirst)
    out = engine.handle(AlertEvent("orders", "CMAKDown", "firing", "fp2", "s2", T0), T0)
    assert [(d.reason, d.episode) for d in decisions(out)] == [("duplicate", ("fp2", "s2"))]
    assert engine.episodes[("fp2", "s2")].final
    out = engine.handle(PreflightResult("cmak-down-alert", "orders", check.token, T0), T0)
    assert len(acts(out)) == 1
