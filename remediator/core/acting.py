"""The look before acting answered: the last guards, then the decision to act (or not)."""

from __future__ import annotations

from remediator.core.decisions import Act, Output
from remediator.core.events import PreflightResult
from remediator.core.guardrails import local_guard, manual_guard, passed_summary
from remediator.core.rules import AlertTrigger
from remediator.core.state import MANUAL, EngineState, InFlight, RuleState
from remediator.core.trip import Trip, decide, rule_state, suppress


def on_preflight(state: EngineState, p: PreflightResult, now: float) -> list[Output]:
    """The fresh probe and cluster status a trip waited for: suppress it, or act."""
    st = state.rule_states.get((p.rule, p.target))
    rule = state.rule(p.rule, p.target)
    if st is None or rule is None or st.pending_token != p.token:
        return []
    st.pending_token = None
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
    if p.probe is not None and p.probe.ok:
        reason = "not_corroborated" if trip.trigger == "alert" else "recovered"
        return suppress(state, trip, reason, "a fresh probe was healthy", now)
    if p.cluster_busy:
        why = p.cluster_detail or "cluster status is changing"
        return suppress(state, trip, "cluster_busy", why, now)
    if rule.name == MANUAL:
        blocked = manual_guard(state, rule, p.target, now)
    else:
        blocked = local_guard(state, rule, p.target, now)
    if blocked is not None:
        return suppress(state, trip, *blocked, now)
    return act(state, trip, p, now)


def act(state: EngineState, trip: Trip, p: PreflightResult, now: float) -> list[Output]:
    """Every guard passed: decide to act (or, in shadow mode, that it would) and say why."""
    rule, target, trigger = trip.rule, trip.target, trip.trigger
    st = rule_state(state, trip)
    detected = st.first_failure_at if st.first_failure_at is not None else now
    why = _evidence(state, trip, p)
    if trigger != "manual":
        why += f"; guards passed: {passed_summary(state, rule, target, now)}"
    st.action_times.append(now)
    ep = state.episodes.get(trip.episode) if trip.episode else None
    if ep is not None:
        ep.final = True
    st.reset_trip()
    if rule.mode == "shadow":
        return [decide(trip, "shadow", "shadow", f"would {rule.action}: {why}", now)]
    state.fleet_action_times.append(now)
    state.last_action_at[target] = now
    state.targets[target].in_flight = InFlight(
        rule=rule.name, action=rule.action, phase="acting", decided_at=now, trigger=trigger
    )
    return [
        decide(trip, "acted", trigger, f"{rule.action}: {why}", now),
        Act(
            rule=rule.name,
            target=target,
            cluster_no=state.cluster_no(target),
            action=rule.action,
            trigger=trigger,
            detected_at=detected,
            at=now,
        ),
    ]


def _evidence(state: EngineState, trip: Trip, p: PreflightResult) -> str:
    """Why the trip happened, and what the look before acting found."""
    if trip.trigger == "manual":
        why = f"requested by an operator: {state.manual_reasons.get(trip.target, '')}"
    elif trip.trigger == "alert":
        why = "alert firing"
    else:
        why = _window_text(rule_state(state, trip))
    if p.probe is not None:
        why += f"; fresh probe failed ({p.probe.reason})"
    if p.cluster_busy is None and p.cluster_detail:
        why += f"; cluster status unknown ({p.cluster_detail})"
    elif p.cluster_detail:
        why += f"; cluster not changing ({p.cluster_detail})"
    return why


def _window_text(st: RuleState) -> str:
    failures = sum(1 for ok in st.window if not ok)
    return f"{failures} of the last {len(st.window)} probes failed"
