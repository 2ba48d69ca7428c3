"""The look before acting that an approval asked for: every pre-action check again, then the
approved step — or the reason it is not taken (a healthy target is `recovered`, not restarted).

The approval is spent on this look, whatever it finds: a step held back now is asked again
when the rule trips again.
"""

from __future__ import annotations

from remediator.core.decisions import Output
from remediator.core.events import PreflightResult
from remediator.core.guardrails import local_guard
from remediator.core.ladder import next_step_look, take
from remediator.core.rules import Rule
from remediator.core.state import EngineState, PendingApproval
from remediator.core.trip import Trip, suppress


def approved_for(state: EngineState, rule: Rule, p: PreflightResult) -> PendingApproval | None:
    """The approved approval this look was asked for, if it is one."""
    pending = state.approvals.get(p.target)
    if pending is None or not pending.approved or pending.rule != rule.name:
        return None
    return pending


def on_approved_look(
    state: EngineState, rule: Rule, pending: PendingApproval, p: PreflightResult, now: float
) -> list[Output]:
    """What the fresh look after an approval found: the step, or why not."""
    target = p.target
    del state.approvals[target]
    flight = state.targets[target].in_flight
    if flight is not None and flight.rule == rule.name and flight.phase == "escalating":
        return next_step_look(state, rule, flight, p, now, approved=True)
    trip = Trip(rule, target, pending.trigger)
    if p.probe is not None and p.probe.ok and not p.probe.inconclusive:
        what = "probe" if p.probe.check == "tool" else "cluster status"
        why = f"a fresh {what} after the approval was healthy: not restarted"
        return suppress(state, trip, "recovered", why, now)
    if p.cluster_busy:
        return suppress(state, trip, "cluster_busy", p.cluster_detail or "cluster changing", now)
    if p.cluster_busy is None:  # fail closed, as before any step (see acting)
        why = p.cluster_detail or "the cluster status could not be read"
        return suppress(state, trip, "cluster_unknown", f"{why}; not acting blind", now)
    blocked = local_guard(state, rule, target, now)
    if blocked is not None:
        return suppress(state, trip, *blocked, now)
    return take(state, trip, p, now, pending.step, approved=True)
