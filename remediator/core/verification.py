"""An action's outcome, its verification by looks, timeouts, a ladder step's end, the breaker."""

from __future__ import annotations

import math

from remediator.core.decisions import (
    Act,
    BreakerChanged,
    Escalated,
    Output,
    Remediated,
    RemediationOutcome,
)
from remediator.core.events import ActionOutcome, ProbeResult
from remediator.core.guardrails import FLEET_WINDOW
from remediator.core.rules import Rule
from remediator.core.state import EngineState, InFlight
from remediator.timetext import format_duration

# A step that was not sent (its intent could not be recorded) is looked at again this late.
RETRY_UNSENT = 30.0


def on_outcome(state: EngineState, o: ActionOutcome, now: float) -> list[Output]:
    """A sent action's result: verify it, fall back to the rule's fallback, or end it failed."""
    ts = state.targets.get(o.target)
    rule = state.rule(o.rule, o.target)
    if ts is None or rule is None or ts.in_flight is None or ts.in_flight.rule != o.rule:
        return []
    flight = ts.in_flight
    if flight.phase != "acting":
        return []
    if o.result in ("success", "unknown"):
        flight.phase = "verifying"
        flight.unknown = o.result == "unknown"
        flight.grace_until = now + rule.verify.grace
        flight.deadline = now + rule.verify.timeout
        state.wake(flight.deadline)
        flight.successes = 0
        return []
    if o.result == "not_sent":
        return unsent(state, o.target, flight, o.detail, now)
    if o.result == "not_available" and rule.fallback_action and not flight.fallback_used:
        flight.fallback_used = True
        flight.action = rule.fallback_action
        return [
            Act(
                rule=rule.name,
                target=o.target,
                cluster_no=state.cluster_no(o.target),
                action=rule.fallback_action,
                trigger=flight.trigger,
                detected_at=flight.detected_at or flight.decided_at,
                at=now,
                fallback_of=o.action,
            )
        ]
    detail = f"{o.action} failed: {o.detail}" if o.detail else f"{o.action} failed"
    return step_failed(state, o.target, detail, now)


def unsent(
    state: EngineState, target: str, flight: InFlight, detail: str, now: float
) -> list[Output]:
    """The step was decided but not sent: give back what deciding it spent (its cooldown,
    budget and fleet counts: there is no ledger row of it), and take it again after
    RETRY_UNSENT — through a fresh look and the guards (`ladder.next_step_look`), until the
    step's verify timeout. The target stays in progress meanwhile, never `acting`."""
    rule = state.rule(flight.rule, target)
    assert rule is not None
    charge = flight.charge
    # A fallback's first call was sent (and answered 404): its row and its charge stand.
    if charge is not None and not flight.fallback_used:
        st = state.rule_states[(rule.name, target)]
        _drop(st.action_times, charge.at)
        if charge.started:
            _drop(st.started_times, charge.at)
        _drop(state.fleet_action_times, charge.at)
        if charge.prior_action_at is None:
            state.last_action_at.pop(target, None)
        else:
            state.last_action_at[target] = charge.prior_action_at
        flight.sent_any = charge.prior_sent_any
    flight.charge = None
    flight.phase = "escalating"
    flight.action = rule.steps[flight.step]
    flight.fallback_used = False
    flight.green_needed = flight.green_seen = False
    flight.successes = 0
    flight.waited = detail or "it was not sent"
    flight.deadline = now + rule.verify.timeout
    flight.look_again_at = now + RETRY_UNSENT
    state.looks_due[target] = flight.look_again_at
    state.wake(flight.look_again_at)
    return []


def _unknown(flight: InFlight) -> str:
    """What a verification's words must add when the step's call may never have been sent."""
    if not flight.unknown:
        return ""
    return " (whose outcome is unknown: it may never have reached CDSS)"


def _drop(times: list[float], at: float) -> None:
    """Remove the last `at` from `times`."""
    for i in range(len(times) - 1, -1, -1):
        if times[i] == at:
            del times[i]
            return


def step_failed(state: EngineState, target: str, detail: str, now: float) -> list[Output]:
    """The step in flight on `target` did not recover it: on to the ladder's next step (its look
    is asked for by `ladder.ask_due_looks`), or the end of the remediation."""
    flight = state.targets[target].in_flight
    assert flight is not None
    rule = state.rule(flight.rule, target)
    assert rule is not None
    step = flight.step + 1
    if step >= len(rule.steps):
        return finish(state, target, "not_recovered", detail, now, exhausted=True)
    done = flight.action
    flight.phase = "escalating"
    flight.step = step
    flight.action = rule.steps[step]
    flight.fallback_used = False
    flight.green_needed = flight.green_seen = False
    flight.successes = 0
    flight.deadline = now + rule.verify.timeout
    flight.look_again_at = now
    state.looks_due[target] = now
    state.wake(now)
    return [
        Escalated(
            rule=rule.name,
            target=target,
            action=done,
            next_action=flight.action,
            detail=detail,
            at=now,
        )
    ]


def verify_step(state: EngineState, r: ProbeResult, flight: InFlight, now: float) -> list[Output]:
    """A look at a target being verified: count it; enough healthy ones in a row recover it.

    Only looks of the rule's evidence count, and a changing cluster counts neither way. A
    rolling restart also needs every broker green again (a cluster look) before it recovers.
    """
    rule = state.rule(flight.rule, r.target)
    assert rule is not None
    if flight.green_needed and r.check == "cluster":
        flight.green_seen = r.ok and not r.inconclusive
    if r.check != rule.evidence or r.inconclusive or r.at < flight.grace_until:
        return []
    if not r.ok:
        flight.successes = 0
        return []
    flight.successes += 1
    if flight.successes < rule.verify.successes:
        return []
    if flight.green_needed and not flight.green_seen:
        return []
    looks = "probes" if rule.evidence == "tool" else "cluster status reads"
    detail = f"{flight.successes} healthy {looks} after {flight.action}{_unknown(flight)}"
    return finish(state, r.target, "recovered", detail, now)


def finish(  # noqa: PLR0913 - how the remediation ended; `exhausted` by keyword
    state: EngineState,
    target: str,
    outcome: RemediationOutcome,
    detail: str,
    now: float,
    *,
    exhausted: bool = False,
) -> list[Output]:
    """End the remediation in flight on `target`; open the breaker if it failed and its budget
    is spent, or its ladder (of more than one step) is `exhausted`."""
    ts = state.targets[target]
    flight = ts.in_flight
    assert flight is not None
    rule = state.rule(flight.rule, target)
    assert rule is not None
    ts.in_flight = None
    state.looks_due.pop(target, None)
    st = state.rule_states[(rule.name, target)]
    st.last_outcome = outcome
    out: list[Output] = [
        Remediated(
            rule=rule.name,
            target=target,
            action=flight.action,
            outcome=outcome,
            detail=detail,
            at=now,
        )
    ]
    spent = st.actions_within(now, rule.budget.per) >= rule.budget.max
    exhausted = exhausted and len(rule.steps) > 1
    if outcome == "not_recovered" and (spent or exhausted) and not st.breaker_open:
        st.breaker_open = True
        if exhausted:
            ladder = " → ".join(rule.steps)
            why = f"the ladder {ladder} is exhausted and did not recover {target}"
        else:
            why = (
                f"budget of {rule.budget.max} actions per {format_duration(rule.budget.per)} "
                "spent and the "
                f"last {flight.action} did not recover {target}"
            )
        out.append(
            BreakerChanged(
                rule=rule.name, target=target, open=True, at=now, detail=f"{why}: a human must look"
            )
        )
    return out


def expire(state: EngineState, now: float) -> list[Output]:
    """Time out verifications and lift pauses; scans targets only when something is due."""
    cutoff = now - FLEET_WINDOW
    if state.fleet_action_times and state.fleet_action_times[0] <= cutoff:
        state.fleet_action_times = [t for t in state.fleet_action_times if t > cutoff]
    if now < state.wake_at:
        return []
    out: list[Output] = []
    wake = math.inf
    for name, ts in state.targets.items():
        flight = ts.in_flight
        if flight is not None and flight.phase == "verifying":
            if now >= flight.deadline:
                rule = state.rule(flight.rule, name)
                assert rule is not None
                detail = (
                    f"not healthy {format_duration(rule.verify.timeout)} after "
                    f"{flight.action}{_unknown(flight)}"
                )
                out.extend(step_failed(state, name, detail, now))
            else:
                wake = min(wake, flight.deadline)
        if ts.paused_until is not None:
            if now >= ts.paused_until:
                ts.paused_until, ts.pause_reason = None, ""
            else:
                wake = min(wake, ts.paused_until)
    if state.all_paused_until is not None:
        if now >= state.all_paused_until:
            state.all_paused_until, state.all_pause_reason = None, ""
        else:
            wake = min(wake, state.all_paused_until)
    state.wake_at = wake
    return out


def close_breaker_if_healthy(
    state: EngineState, rule: Rule, target: str, now: float
) -> list[Output]:
    """Close `rule`'s breaker on `target` once the target stayed healthy for a whole cooldown."""
    st = state.rule_states[(rule.name, target)]
    ts = state.targets[target]
    since = ts.healthy_since_of(rule.evidence)
    if not st.breaker_open or since is None or ts.in_flight is not None:
        return []
    if now - since < rule.cooldown:
        return []
    st.breaker_open = False
    return [
        BreakerChanged(
            rule=rule.name,
            target=target,
            open=False,
            at=now,
            detail=f"{target} stayed healthy for {format_duration(rule.cooldown)}",
        )
    ]
