"""Part of the engine: an action's outcome, verification by probes, timeouts, and the breaker.

Functions over the `Engine`'s state, split out of engine.py to keep one concern a module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from remediator.core.decisions import Act, BreakerChanged, Output, Remediated
from remediator.core.events import ActionOutcome, ProbeResult
from remediator.core.rules import Rule
from remediator.core.state import InFlight, RuleState, TargetState

if TYPE_CHECKING:
    from remediator.core.engine import Engine

FLEET_WINDOW = 3600.0  # max_actions_per_hour counts actions in this window


def on_outcome(engine: Engine, o: ActionOutcome, now: float, out: list[Output]) -> None:
    ts = engine.targets.get(o.target)
    rule = engine._rule(o.rule, o.target)
    if ts is None or rule is None or ts.in_flight is None or ts.in_flight.rule != o.rule:
        return
    flight = ts.in_flight
    if flight.phase != "acting":
        return
    if o.result in ("success", "unknown"):
        flight.phase = "verifying"
        flight.grace_until = now + rule.verify.grace
        flight.deadline = now + rule.verify.timeout
        engine._wake(flight.deadline)
        flight.successes = 0
        return
    if o.result == "not_available" and rule.fallback_action and not flight.fallback_used:
        flight.fallback_used = True
        flight.action = rule.fallback_action
        out.append(
            Act(
                rule=rule.name,
                target=o.target,
                cluster_no=engine._cluster_no(o.target),
                action=rule.fallback_action,
                trigger=flight.trigger,
                detected_at=flight.decided_at,
                at=now,
                fallback_of=o.action,
            )
        )
        return
    detail = f"{o.action} failed: {o.detail}" if o.detail else f"{o.action} failed"
    finish(engine, rule, o.target, "not_recovered", detail, now, out)


def verify_step(
    engine: Engine, r: ProbeResult, flight: InFlight, now: float, out: list[Output]
) -> None:
    rule = engine._rule(flight.rule, r.target)
    assert rule is not None
    if r.at < flight.grace_until:
        return
    if not r.ok:
        flight.successes = 0
        return
    flight.successes += 1
    if flight.successes >= rule.verify.successes:
        finish(
            engine,
            rule,
            r.target,
            "recovered",
            f"{flight.successes} healthy probes after {flight.action}",
            now,
            out,
        )


def finish(
    engine: Engine,
    rule: Rule,
    target: str,
    outcome: str,
    detail: str,
    now: float,
    out: list[Output],
) -> None:
    ts = engine.targets[target]
    action = ts.in_flight.action if ts.in_flight else rule.action
    ts.in_flight = None
    st = engine.rule_states[(rule.name, target)]
    st.last_outcome = outcome
    out.append(
        Remediated(
            rule=rule.name,
            target=target,
            action=action,
            outcome="recovered" if outcome == "recovered" else "not_recovered",
            detail=detail,
            at=now,
        )
    )
    spent = st.actions_within(now, rule.budget.per) >= rule.budget.max
    if outcome == "not_recovered" and spent and not st.breaker_open:
        st.breaker_open = True
        out.append(
            BreakerChanged(
                rule=rule.name,
                target=target,
                open=True,
                at=now,
                detail=f"budget of {rule.budget.max} actions per {rule.budget.per:g}s "
                f"spent and the last {action} did not recover {target}: a human must look",
            )
        )


def expire(engine: Engine, now: float, out: list[Output]) -> None:
    """Time out verifications and lift pauses; scans targets only when something is due."""
    cutoff = now - FLEET_WINDOW
    if engine.fleet_action_times and engine.fleet_action_times[0] <= cutoff:
        engine.fleet_action_times = [t for t in engine.fleet_action_times if t > cutoff]
    if now < engine._wake_at:
        return
    wake = math.inf
    for name, ts in engine.targets.items():
        flight = ts.in_flight
        if flight is not None and flight.phase == "verifying":
            if now >= flight.deadline:
                rule = engine._rule(flight.rule, name)
                assert rule is not None
                finish(
                    engine,
                    rule,
                    name,
                    "not_recovered",
                    f"not healthy {rule.verify.timeout:g}s after {flight.action}",
                    now,
                    out,
                )
            else:
                wake = min(wake, flight.deadline)
        if ts.paused_until is not None:
            if now >= ts.paused_until:
                ts.paused_until, ts.pause_reason = None, ""
            else:
                wake = min(wake, ts.paused_until)
    if engine.all_paused_until is not None:
        if now >= engine.all_paused_until:
            engine.all_paused_until, engine.all_pause_reason = None, ""
        else:
            wake = min(wake, engine.all_paused_until)
    engine._wake_at = wake


def maybe_close_breaker(
    engine: Engine,
    rule: Rule,
    target: str,
    st: RuleState,
    ts: TargetState,
    now: float,
    out: list[Output],
) -> None:
    if not st.breaker_open or ts.healthy_since is None or ts.in_flight is not None:
        return
    if now - ts.healthy_since >= rule.cooldown:
        st.breaker_open = False
        out.append(
            BreakerChanged(
                rule=rule.name,
                target=target,
                open=False,
                at=now,
                detail=f"{target} stayed healthy for {rule.cooldown:g}s",
            )
        )
