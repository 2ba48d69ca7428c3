"""The look before acting answered: the last guards, then a step of the rule's ladder."""

from __future__ import annotations

from remediator.core.approved import approved_for, on_approved_look
from remediator.core.decisions import Output
from remediator.core.events import PreflightResult
from remediator.core.guardrails import local_guard, manual_guard
from remediator.core.ladder import next_step_look, take
from remediator.core.respect import respected
from remediator.core.rules import AlertTrigger
from remediator.core.state import MANUAL, EngineState
from remediator.core.trip import Trip, suppress


def on_preflight(state: EngineState, p: PreflightResult, now: float) -> list[Output]:  # noqa: PLR0912 - one arm per pre-action check, in order
    """The fresh look and cluster status a trip waited for: suppress it, or take a step."""
    st = state.rule_states.get((p.rule, p.target))
    rule = state.rule(p.rule, p.target)
    if st is None or rule is None or st.pending_token != p.token:
        return []
    st.pending_token = None
    pending = approved_for(state, rule, p)
    if pending is not None:
        return on_approved_look(state, rule, pending, p, now)
    flight = state.targets[p.target].in_flight
    if flight is not None and flight.rule == rule.name and flight.phase == "escalating":
        return next_step_look(state, rule, flight, p, now)
    trip = Trip(rule, p.target, st.pending_trigger, st.pending_episode)
    ep = state.episodes.get(trip.episode) if trip.episode else None
    if trip.trigger == "probe" and not st.tripped:
        return suppress(state, trip, "recovered", "healthy again before acting", now)
    if ep is not None and ep.resolved:
        return suppress(state, trip, "recovered", "the alert resolved before acting", now)
    corroborate = isinstance(rule.trigger, AlertTrigger) and rule.trigger.corroborate
    if corroborate and p.probe is None:
        why = "no fresh probe to corroborate the alert"
        return suppress(state, trip, "not_corroborated", why, now)
    if p.probe is not None and p.probe.ok and not p.probe.inconclusive:
        reason = "not_corroborated" if trip.trigger == "alert" else "recovered"
        what = "probe" if p.probe.check == "tool" else "cluster status"
        return suppress(state, trip, reason, f"a fresh {what} was healthy", now)
    if p.cluster_busy:
        why = p.cluster_detail or "cluster status is changing"
        return suppress(state, trip, "cluster_busy", why, now)
    if p.cluster_busy is None:  # fail closed: it may be changing, and no step acts blind
        why = p.cluster_detail or "the cluster status could not be read"
        return suppress(state, trip, "cluster_unknown", f"{why}; not acting blind", now)
    held = respected(p)
    if held is not None:
        return suppress(state, trip, *held, now)
    if rule.name == MANUAL:
        blocked = manual_guard(state, rule, p.target, now)
    else:
        blocked = local_guard(state, rule, p.target, now)
    if blocked is not None:
        return suppress(state, trip, *blocked, now)
    return take(state, trip, p, now, 0)
