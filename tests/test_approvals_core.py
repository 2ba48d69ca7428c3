"""Approvals in the pure core (`mode: approve`), driven with explicit times: a trip asks a human
instead of calling; an approval looks again before acting; a denial or an expiry holds the rule;
one pending approval per target; and what the ledger gives back after a restart."""

from __future__ import annotations

import json

from remediator.cli.explain import format_output, output_to_json, replay, summarize
from remediator.core.approval import approval_id
from remediator.core.decisions import (
    ApprovalRequested,
    ApprovalSettled,
    CheckFirst,
    Output,
    Remediated,
)
from remediator.core.engine import Engine
from remediator.core.events import AlertEvent, ApprovalAnswer, ManualRestart, ProbeResult, Tick
from remediator.core.rules import Guardrails, Rule
from remediator.core.state import ApprovalRecord
from remediator.runtime.eventlog import Entry
from tests.test_engine import T0, Sim, acts, alert_rule, decisions, policy, probe_rule


def asked(outs: list[Output]) -> list[ApprovalRequested]:
    return [o for o in outs if isinstance(o, ApprovalRequested)]


def settled(outs: list[Output]) -> list[ApprovalSettled]:
    return [o for o in outs if isinstance(o, ApprovalSettled)]


def broken(sim: Sim) -> None:
    sim.healthy = lambda _t, _now: False


def approve_rule(**kw: object) -> Rule:
    return probe_rule(mode="approve", approval_timeout=1800.0, **kw)


def test_a_trip_asks_a_human_instead_of_calling() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    out = sim.run(3 * 15)
    assert acts(out) == []
    (req,) = asked(out)
    assert (req.target, req.action, req.blast_radius, req.step) == (
        "orders",
        "restart_cmak",
        "tool",
        0,
    )
    assert req.expires_at == req.at + 1800
    assert len(req.id) == 8
    assert "3 of the last 3 probes failed" in req.reason
    assert "also covers its fallback restart_all_services (cluster" in req.reason
    (decision,) = decisions(out)
    assert (decision.outcome, decision.reason) == ("awaiting_approval", "probe")
    # Still failing: the trips meanwhile are held, said once; no second approval.
    out = sim.run(10 * 60)
    assert asked(out) == [] and acts(out) == []
    assert [d.reason for d in decisions(out)] == ["awaiting_approval"]


def test_an_approval_looks_again_then_calls_once() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    sim.now += 120
    out = sim.feed(ApprovalAnswer(req.id, True, "alice@ops", "CMAK is down for good", sim.now))
    (done,) = settled(out)
    assert (done.resolution, done.by, done.reason) == (
        "approved",
        "alice@ops",
        "CMAK is down for good",
    )
    (look,) = [o for o in out if isinstance(o, CheckFirst)]
    assert look.probe, "a fresh probe, whatever the trigger"
    (act,) = acts(out)
    assert act.action == "restart_cmak"
    assert act.detected_at == T0, "detection to action counts from the incident"
    (decision,) = [d for d in decisions(out) if d.outcome == "acted"]
    assert "approved, and checked again" in decision.detail
    # The same answer again is no news.
    assert sim.feed(ApprovalAnswer(req.id, True, "bob", "again", sim.now)) == []


def test_an_approved_but_healthy_target_is_recovered_not_restarted() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    sim.healthy = lambda _t, _now: True
    out = sim.feed(ApprovalAnswer(req.id, True, "alice", "go", sim.now))
    assert acts(out) == []
    (decision,) = [d for d in decisions(out) if d.outcome == "suppressed"]
    assert decision.reason == "recovered"
    assert "after the approval was healthy" in decision.detail
    assert sim.engine.approvals == {}


def test_an_approved_step_still_meets_every_guard() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    sim.busy = lambda _t, _now: True
    out = sim.feed(ApprovalAnswer(req.id, True, "alice", "go", sim.now))
    assert acts(out) == []
    assert [d.reason for d in decisions(out)] == ["cluster_busy"]
    assert sim.engine.approvals == {}, "spent on that look"


def test_a_denial_holds_the_rule_for_its_cooldown() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    out = sim.feed(ApprovalAnswer(req.id, False, "bob@ops", "maintenance tonight", sim.now))
    (done,) = settled(out)
    assert (done.resolution, done.by) == ("denied", "bob@ops")
    (decision,) = decisions(out)
    assert decision.reason == "approval_denied"
    assert "denied by bob@ops: maintenance tonight" in decision.detail
    out = sim.run(14 * 60)
    assert asked(out) == [] and acts(out) == []
    assert decisions(out) == [], "held, and said once (with the denial)"
    out = sim.run(3 * 60)
    assert len(asked(out)) == 1, "asked again once the cooldown is over"


def test_an_unanswered_approval_expires_into_a_suppression() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    sim.now = req.expires_at - 1
    assert settled(sim.feed(Tick(sim.now))) == []
    sim.now = req.expires_at
    out = sim.feed(Tick(sim.now))
    (done,) = settled(out)
    assert (done.resolution, done.by) == ("expired", "")
    (decision,) = decisions(out)
    assert decision.reason == "approval_expired"
    assert "no answer within 1800s" in decision.detail
    assert sim.feed(ApprovalAnswer(req.id, True, "late", "sorry", sim.now)) == []
    assert acts(sim.run(10 * 60)) == []


def test_one_pending_approval_per_target_whichever_rule_asks() -> None:
    alerted = alert_rule(mode="approve", action="restart_kafka", max_blast_radius="cluster")
    sim = Sim(Engine(policy(approve_rule(), alerted)))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    out = sim.feed(
        AlertEvent("orders", "CMAKDown", "firing", "fp1", "2027-01-15T08:00:00Z", sim.now)
    )
    assert asked(out) == []
    (held,) = decisions(out)
    assert (held.rule, held.reason) == ("cmak-down-alert", "awaiting_approval")
    assert req.id in held.detail


def test_an_alert_rule_asks_and_the_approval_probes_afresh() -> None:
    sim = Sim(Engine(policy(alert_rule(mode="approve"))))
    broken(sim)
    out = sim.feed(
        AlertEvent("orders", "CMAKDown", "firing", "fp1", "2027-01-15T08:00:00Z", sim.now)
    )
    (req,) = asked(out)
    sim.healthy = lambda _t, _now: True
    out = sim.feed(ApprovalAnswer(req.id, True, "alice", "go", sim.now))
    assert acts(out) == []
    assert [d.reason for d in decisions(out)] == ["recovered"]


def test_each_ladder_step_asks_and_a_denied_later_step_ends_it() -> None:
    rule = probe_rule(
        mode="approve",
        action="restart_cmak",
        then=("restart_all_services",),
        fallback_action=None,
        max_blast_radius="cluster",
    )
    sim = Sim(Engine(policy(rule)))
    broken(sim)
    (first,) = asked(sim.run(3 * 15))
    out = sim.feed(ApprovalAnswer(first.id, True, "alice", "go", sim.now))
    assert [a.action for a in acts(out)] == ["restart_cmak"]
    out = sim.run(11 * 60)  # not healthy within the verify timeout: the next step asks
    (second,) = asked(out)
    assert (second.action, second.step, second.blast_radius) == (
        "restart_all_services",
        1,
        "cluster",
    )
    assert acts(out) == []
    out = sim.feed(ApprovalAnswer(second.id, False, "bob", "too wide", sim.now))
    (ended,) = [o for o in out if isinstance(o, Remediated)]
    assert ended.outcome == "not_recovered"
    assert "the ladder stops" in ended.detail
    assert sim.engine.targets["orders"].in_flight is None


def test_approval_ids_are_the_same_in_a_replay() -> None:
    def ids() -> list[str]:
        sim = Sim(Engine(policy(approve_rule())))
        broken(sim)
        return [r.id for r in asked(sim.run(3 * 15))]

    assert ids() == ids()


def test_what_the_ledger_gives_back_after_a_restart() -> None:
    calm = Guardrails(mass_failure_min_unhealthy=10)  # three targets down here, not upstream
    engine = Engine(policy(approve_rule(), targets=3, guardrails=calm))
    engine.restore(
        [],
        approvals=[
            ApprovalRecord(
                "aaaa0001",
                "cmak-unhealthy",
                "orders",
                "restart_cmak",
                0,
                "probe",
                "why",
                T0 - 60,
                T0 + 600,
            ),
            ApprovalRecord(
                "aaaa0002",
                "cmak-unhealthy",
                "payments",
                "restart_cmak",
                0,
                "probe",
                "why",
                T0 - 900,
                T0 - 100,
                status="denied",
                resolved_at=T0 - 100,
                resolved_by="bob",
                resolution="no",
            ),
            ApprovalRecord(
                "aaaa0003",
                "cmak-unhealthy",
                "analytics",
                "restart_cmak",
                0,
                "probe",
                "why",
                T0 - 900,
                T0 - 100,
                status="approved",
                resolved_at=T0 - 100,
            ),
        ],
        now=T0,
    )
    assert list(engine.approvals) == ["orders"]
    sim = Sim(engine)
    broken(sim)
    out = sim.run(3 * 15)
    assert [r.target for r in asked(out)] == ["analytics"], "an approved one was spent"
    held = {d.target: d.reason for d in decisions(out) if d.outcome == "suppressed"}
    assert held == {"orders": "awaiting_approval", "payments": "approval_denied"}
    sim.now = T0 + 600
    assert [s.id for s in settled(sim.feed(Tick(sim.now)))] == ["aaaa0001"]


def test_explain_replays_an_approval_and_its_answer() -> None:
    rule = approve_rule()
    ask_at = T0 + 30
    answer = approval_id(rule.name, "orders", 0, ask_at)
    events: list[tuple[Entry, float]] = [
        (ProbeResult("orders", False, "status 503", T0 + 15 * i), T0 + 15 * i) for i in range(3)
    ]
    events.append((ApprovalAnswer(answer, True, "alice", "go", T0 + 90), T0 + 90))
    outputs = replay(policy(rule), events)
    (req,) = asked(outputs)
    assert req.id == answer, "the id a live daemon gave is the id a replay gives"
    assert [a.action for a in acts(outputs)] == ["restart_cmak"]
    lines = [format_output(o.at, o, T0) for o in outputs]
    assert any(f"? approval {answer} asked for restart_cmak on orders" in (t or "") for t in lines)
    assert any(f"approval {answer} approved by alice: go" in (t or "") for t in lines)
    summary = summarize(len(events), "synthesized", outputs)
    assert "1 acted" in summary and "1 awaiting approval" in summary
    assert json.loads(output_to_json(req.at, req, T0))["type"] == "approval_requested"


def test_a_manual_restart_waits_for_the_open_approval() -> None:
    sim = Sim(Engine(policy(approve_rule())))
    broken(sim)
    (req,) = asked(sim.run(3 * 15))
    out = sim.feed(ManualRestart("orders", "restart_kafka", "ticket 7", sim.now))
    assert acts(out) == []
    (held,) = decisions(out)
    assert held.reason == "awaiting_approval" and req.id in held.detail
