"""Remedies in the pure core: node restarts, rolling restarts, ladders, evidence, blast radius.

Each test feeds the engine the events a driver would, one by one, with explicit times.
"""

from __future__ import annotations

from typing import TypeVar

from remediator.core.decisions import (
    Act,
    BreakerChanged,
    CheckFirst,
    Decision,
    Escalated,
    Output,
    Remediated,
)
from remediator.core.engine import Engine
from remediator.core.events import (
    ActionOutcome,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Tick,
)
from remediator.core.ladder import LOOK_AGAIN
from remediator.core.rules import (
    ActionName,
    Budget,
    Guardrails,
    Policy,
    ProbeTrigger,
    Rule,
    TargetRef,
    Verify,
)
from remediator.core.state import ActionRecord

T0 = 1_800_000_000.0
OutputT = TypeVar("OutputT", bound=Output)
BROKER_2 = 145022778


def broker_rule(*steps: ActionName, check: str = "cluster", **kw: object) -> Rule:
    base: dict[str, object] = {
        "name": "broker-ladder",
        "targets": ("*",),
        "trigger": ProbeTrigger(failures=2, of=2, check=check),  # type: ignore[arg-type]
        "action": steps[0],
        "then": tuple(steps[1:]),
        "cooldown": 1800.0,
        "budget": Budget(max=3, per=6 * 3600.0),
        "verify": Verify(grace=30.0, successes=2, timeout=300.0),
    }
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def engine(*rules: Rule, targets: int = 1, guardrails: Guardrails | None = None) -> Engine:
    names = ["orders", "payments", "analytics", "billing"][:targets]
    refs = tuple(TargetRef(name=n, cluster_no=str(145022751 + i)) for i, n in enumerate(names))
    return Engine(Policy(targets=refs, rules=rules, guardrails=guardrails or Guardrails()))


def cluster(target: str, ok: bool, at: float, *, changing: bool = False) -> ProbeResult:
    reason = "changing" if changing else ("green" if ok else "broker orders-broker-002 red")
    return ProbeResult(target, ok, reason, at, check="cluster", inconclusive=changing)


def tool(target: str, ok: bool, at: float) -> ProbeResult:
    return ProbeResult(target, ok, "ok" if ok else "status 503", at)


def one(outs: list[Output], kind: type[OutputT]) -> OutputT:
    found = [o for o in outs if isinstance(o, kind)]
    assert len(found) == 1, outs
    return found[0]


def none_of(outs: list[Output], kind: type[Output]) -> None:
    assert not [o for o in outs if isinstance(o, kind)], outs


def answer(
    c: CheckFirst,
    at: float,
    *,
    ok: bool = False,
    nodes: tuple[int, ...] | None = None,
    precheck: bool | None = None,
    message: str = "",
    busy: bool = False,
) -> PreflightResult:
    fresh = ProbeResult(c.target, ok, "fresh", at, check=c.check) if c.probe else None
    return PreflightResult(
        rule=c.rule,
        target=c.target,
        token=c.token,
        at=at,
        probe=fresh,
        cluster_busy=busy,
        cluster_detail="broker yellow, zookeeper green",
        nodes=nodes,
        nodes_detail="unhealthy brokers: orders-broker-002 (145022778)" if nodes else "",
        precheck_ok=precheck,
        precheck_message=message,
    )


def trip(e: Engine, at: float = T0, target: str = "orders") -> CheckFirst:
    """Two unhealthy cluster looks trip the broker rule: the engine asks to look first."""
    assert not e.handle(cluster(target, False, at), at)
    return one(e.handle(cluster(target, False, at + 60), at + 60), CheckFirst)


def test_a_node_restart_restarts_only_the_unhealthy_brokers_and_says_its_blast_radius() -> None:
    e = engine(broker_rule("restart_kafka_node"))
    check = trip(e)
    assert (check.action, check.check, check.probe) == ("restart_kafka_node", "cluster", True)
    outs = e.handle(answer(check, T0 + 61, nodes=(BROKER_2,)), T0 + 61)
    act = one(outs, Act)
    assert (act.action, act.nodes, act.blast_radius) == ("restart_kafka_node", (BROKER_2,), "node")
    decision = one(outs, Decision)
    assert (decision.outcome, decision.blast_radius) == ("acted", "node")
    assert "restart_kafka_node (node)" in decision.detail
    assert "orders-broker-002 (145022778)" in decision.detail


def test_no_unhealthy_node_is_not_taken_and_nothing_is_sent() -> None:
    e = engine(broker_rule("restart_kafka_node"))
    check = trip(e)
    outs = e.handle(answer(check, T0 + 61, nodes=()), T0 + 61)
    none_of(outs, Act)
    assert one(outs, Decision).reason == "no_unhealthy_node"
    assert e.targets["orders"].in_flight is None
    assert e.rule_states[("broker-ladder", "orders")].action_times == []  # no budget spent


def test_a_failed_precheck_is_not_taken_and_quotes_ncp() -> None:
    e = engine(broker_rule("rolling_restart"))
    check = trip(e)
    outs = e.handle(answer(check, T0 + 61, precheck=False, message="broker is busy"), T0 + 61)
    none_of(outs, Act)
    d = one(outs, Decision)
    assert d.reason == "precheck_failed"
    assert "'broker is busy'" in d.detail


def test_a_step_not_taken_hands_over_to_the_next_step_after_a_fresh_look() -> None:
    e = engine(broker_rule("restart_kafka_node", "rolling_restart"))
    check = trip(e)
    outs = e.handle(answer(check, T0 + 61, nodes=()), T0 + 61)
    assert one(outs, Decision).reason == "no_unhealthy_node"
    nxt = one(outs, CheckFirst)
    assert (nxt.step, nxt.action) == (1, "rolling_restart")
    assert e.targets["orders"].in_flight is not None  # other rules are held meanwhile
    outs = e.handle(answer(nxt, T0 + 62, precheck=True, message="SUCCESS"), T0 + 62)
    act = one(outs, Act)
    assert (act.action, act.step, act.blast_radius) == ("rolling_restart", 1, "rolling")
    st = e.rule_states[("broker-ladder", "orders")]
    assert (len(st.action_times), len(st.started_times)) == (1, 1)


def test_a_ladder_goes_on_after_not_recovered_as_one_remediation() -> None:
    e = engine(broker_rule("restart_kafka_node", "rolling_restart"))
    check = trip(e)
    act = one(e.handle(answer(check, T0 + 61, nodes=(BROKER_2,)), T0 + 61), Act)
    e.handle(ActionOutcome("broker-ladder", "orders", act.action, "success", T0 + 62), T0 + 62)
    # Still red after the verify timeout: the step ends, the next one is looked at.
    outs = e.handle(Tick(T0 + 62 + 300), T0 + 62 + 300)
    esc = one(outs, Escalated)
    assert (esc.action, esc.next_action) == ("restart_kafka_node", "rolling_restart")
    none_of(outs, Remediated)
    nxt = one(outs, CheckFirst)
    assert (nxt.step, nxt.action, nxt.probe) == (1, "rolling_restart", True)
    at = T0 + 400
    outs = e.handle(answer(nxt, at, precheck=True, message="SUCCESS"), at)
    assert one(outs, Act).action == "rolling_restart"
    st = e.rule_states[("broker-ladder", "orders")]
    assert st.action_times == [T0 + 61, at]  # each step sent spends budget
    assert st.started_times == [T0 + 61]  # one cooldown, from the first step
    # A rolling restart recovers only once every broker is green again.
    e.handle(ActionOutcome("broker-ladder", "orders", "rolling_restart", "success", at), at)
    assert not e.handle(cluster("orders", True, at + 40, changing=True), at + 40)
    assert not e.handle(cluster("orders", True, at + 50), at + 50)
    rem = one(e.handle(cluster("orders", True, at + 60), at + 60), Remediated)
    assert (rem.outcome, rem.action) == ("recovered", "rolling_restart")


def test_an_exhausted_ladder_opens_the_breaker_even_with_budget_left() -> None:
    e = engine(broker_rule("restart_kafka_node", "rolling_restart", budget=Budget(max=10)))
    check = trip(e)
    act = one(e.handle(answer(check, T0 + 61, nodes=(BROKER_2,)), T0 + 61), Act)
    e.handle(ActionOutcome("broker-ladder", "orders", act.action, "success", T0 + 62), T0 + 62)
    nxt = one(e.handle(Tick(T0 + 400), T0 + 400), CheckFirst)
    e.handle(answer(nxt, T0 + 401, precheck=True, message="SUCCESS"), T0 + 401)
    e.handle(
        ActionOutcome("broker-ladder", "orders", "rolling_restart", "failure", T0 + 402), T0 + 402
    )
    # The rolling restart failed; it was the last step.
    st = e.rule_states[("broker-ladder", "orders")]
    assert st.breaker_open
    assert st.last_outcome == "not_recovered"


def test_the_breaker_holds_the_target_for_every_rule() -> None:
    a = broker_rule("restart_kafka_node", name="a", check="tool")
    b = broker_rule("restart_kafka_node", name="b", check="tool")
    e = engine(a, b)
    e.state.rule_states[("a", "orders")].breaker_open = True
    e.handle(tool("orders", False, T0), T0)
    outs = e.handle(tool("orders", False, T0 + 15), T0 + 15)
    reasons = {(d.rule, d.reason) for d in outs if isinstance(d, Decision)}
    assert reasons == {("a", "breaker"), ("b", "breaker")}
    none_of(outs, CheckFirst)


def test_cluster_evidence_trips_only_cluster_rules_and_changing_counts_neither_way() -> None:
    by_cluster = broker_rule("restart_kafka_node", name="by-cluster")
    by_tool = broker_rule("restart_kafka_node", name="by-tool", check="tool")
    e = engine(by_cluster, by_tool)
    assert not e.handle(tool("orders", False, T0), T0)
    assert not e.handle(cluster("orders", False, T0 + 1, changing=True), T0 + 1)
    assert not e.handle(cluster("orders", False, T0 + 2), T0 + 2)
    outs = e.handle(cluster("orders", False, T0 + 3), T0 + 3)
    assert one(outs, CheckFirst).rule == "by-cluster"
    assert e.targets["orders"].ok("cluster") is False
    assert e.targets["orders"].ok("tool") is False


def test_mass_failure_counts_the_rules_evidence() -> None:
    g = Guardrails(
        max_concurrent_actions=4, mass_failure_fraction=0.5, mass_failure_min_unhealthy=2
    )
    e = engine(broker_rule("restart_kafka_node"), targets=2, guardrails=g)
    for target in ("orders", "payments"):  # every manager tool down: not the brokers' doing
        e.handle(tool(target, False, T0), T0)
    check = trip(e)
    assert one(e.handle(answer(check, T0 + 61, nodes=(BROKER_2,)), T0 + 61), Act)
    e2 = engine(broker_rule("restart_kafka_node"), targets=2, guardrails=g)
    e2.handle(cluster("payments", False, T0), T0)  # two clusters' brokers down: upstream
    e2.handle(cluster("orders", False, T0), T0)
    outs = e2.handle(cluster("orders", False, T0 + 60), T0 + 60)
    none_of(outs, CheckFirst)
    assert one(outs, Decision).reason == "mass_failure"
    assert "by cluster status" in one(outs, Decision).detail


def test_a_guard_at_a_later_step_waits_and_looks_again_then_stops_at_the_timeout() -> None:
    e = engine(broker_rule("restart_kafka_node", "rolling_restart"))
    check = trip(e)
    act = one(e.handle(answer(check, T0 + 61, nodes=(BROKER_2,)), T0 + 61), Act)
    e.handle(ActionOutcome("broker-ladder", "orders", act.action, "success", T0 + 62), T0 + 62)
    nxt = one(e.handle(Tick(T0 + 400), T0 + 400), CheckFirst)
    e.handle(Pause("orders", T0 + 10_000, "broker upgrade", T0 + 400), T0 + 400)
    outs = e.handle(answer(nxt, T0 + 401, precheck=True, message="SUCCESS"), T0 + 401)
    assert one(outs, Decision).reason == "paused"
    none_of(outs, Act)
    again = one(e.handle(Tick(T0 + 401 + LOOK_AGAIN), T0 + 401 + LOOK_AGAIN), CheckFirst)
    assert again.step == 1
    late = T0 + 400 + 300
    outs = e.handle(answer(again, late, precheck=True, message="SUCCESS"), late)
    assert one(outs, Remediated).outcome == "not_recovered"
    assert e.targets["orders"].in_flight is None
    assert not e.rule_states[("broker-ladder", "orders")].breaker_open  # stopped, not exhausted


def test_a_restart_resumes_a_ladder_at_the_step_it_was_on() -> None:
    rule = broker_rule("restart_kafka_node", "rolling_restart")
    e = engine(rule)
    e.restore(
        [
            ActionRecord(
                rule="broker-ladder",
                target="orders",
                action="restart_kafka_node",
                mode="enforce",
                intent_at=T0,
                result="success",
                outcome_at=T0 + 1,
                remediation="escalated",
                step=0,
            )
        ],
        now=T0 + 400,
    )
    nxt = one(e.handle(Tick(T0 + 401), T0 + 401), CheckFirst)
    assert (nxt.step, nxt.action) == (1, "rolling_restart")
    act = one(e.handle(answer(nxt, T0 + 402, precheck=True, message="SUCCESS"), T0 + 402), Act)
    assert act.step == 1
    assert e.rule_states[("broker-ladder", "orders")].started_times == [T0]


def test_a_rolling_restart_in_the_ledger_is_verified_never_resent() -> None:
    e = engine(broker_rule("rolling_restart"))
    e.restore(
        [
            ActionRecord(
                rule="broker-ladder",
                target="orders",
                action="rolling_restart",
                mode="enforce",
                intent_at=T0,
            )
        ],
        now=T0 + 5,
    )
    flight = e.targets["orders"].in_flight
    assert flight is not None and (flight.phase, flight.green_needed) == ("verifying", True)
    outs: list[Output] = []
    for i in range(20):
        at = T0 + 40 + i * 15
        outs += e.handle(cluster("orders", False, at, changing=i < 10), at)
    none_of(outs, Act)
    none_of(outs, CheckFirst)


def test_a_manual_restart_cmak_falls_back_only_when_allowed() -> None:
    e = engine(broker_rule("restart_kafka_node", check="tool"))
    for allow, expect in ((False, None), (True, "restart_all_services")):
        e = engine(broker_rule("restart_kafka_node", check="tool"))
        outs = e.handle(
            ManualRestart("orders", "restart_cmak", "ui down", T0, allow_fallback=allow), T0
        )
        check = one(outs, CheckFirst)
        act = one(e.handle(answer(check, T0 + 1), T0 + 1), Act)
        outs = e.handle(
            ActionOutcome("manual", "orders", act.action, "not_available", T0 + 2), T0 + 2
        )
        fallback = [o.action for o in outs if isinstance(o, Act)]
        assert fallback == ([expect] if expect else []), outs
        if not allow:
            assert one(outs, Remediated).outcome == "not_recovered"


def test_breaker_changes_are_single() -> None:
    e = engine(broker_rule("restart_kafka_node", budget=Budget(max=1)))
    check = trip(e)
    act = one(e.handle(answer(check, T0 + 61, nodes=(BROKER_2,)), T0 + 61), Act)
    e.handle(ActionOutcome("broker-ladder", "orders", act.action, "success", T0 + 62), T0 + 62)
    outs = e.handle(Tick(T0 + 500), T0 + 500)
    assert one(outs, BreakerChanged).open
