"""The guards that need no I/O: in progress, approvals, pause, cooldown, budget, breaker, fleet
limits."""

from __future__ import annotations

from remediator.core.rules import Evidence, Rule
from remediator.core.state import MANUAL, EngineState, RuleState
from remediator.timetext import format_duration

__all__ = [
    "MANUAL",
    "Blocked",
    "approval_hold",
    "cooldown_remaining",
    "fleet_guard",
    "ladder_guard",
    "local_guard",
    "manual_guard",
    "passed_summary",
]

Blocked = tuple[str, str]
FLEET_WINDOW = 3600.0  # max_actions_per_hour counts actions in this window


def local_guard(state: EngineState, rule: Rule, target: str, now: float) -> Blocked | None:
    """The first guard that holds the action back, as (reason, detail), in SPEC order; else None."""
    st = state.rule_states[(rule.name, target)]
    flight = state.targets[target].in_flight
    if flight is not None:
        return "in_progress", f"{flight.action} by rule {flight.rule} is {flight.phase}"
    hold = approval_hold(state, rule.name, target, now)
    if hold is not None:
        return hold
    paused, why = state.paused(target, now)
    if paused:
        return "paused", f"paused: {why}"
    last = st.last_action_at()
    if last is not None and now - last < rule.cooldown:
        left = rule.cooldown - (now - last)
        return (
            "cooldown",
            f"cooldown: {format_duration(left)} left of {format_duration(rule.cooldown)}",
        )
    used = st.actions_within(now, rule.budget.per)
    if used >= rule.budget.max:
        return "budget", _budget_spent(used, rule)
    held = breaker_holding(state, target)
    if held is not None:
        return "breaker", held
    return fleet_guard(state, now, rule.evidence)


def approval_hold(state: EngineState, rule: str, target: str, now: float) -> Blocked | None:
    """An approval that holds `rule` on `target`: one pending for the target (at most one per
    target, whichever rule asked), or a recent denial or expiry of this rule's."""
    pending = state.approvals.get(target)
    if pending is not None:
        if pending.approved:
            what = f"{pending.action} was approved; the look before acting is under way"
        else:
            what = f"approval {pending.id} for {pending.action} (rule {pending.rule}) is pending"
        return "awaiting_approval", what
    declined = state.declined.get((rule, target))
    if declined is not None and now < declined.until:
        left = declined.until - now
        return declined.reason, f"{declined.detail}; not asking again for {left:.0f}s"
    return None


def ladder_guard(state: EngineState, rule: Rule, target: str, now: float) -> Blocked | None:
    """The guards re-checked before a ladder's next step: those of `local_guard` but the
    remediation's own (it is in progress, and its cooldown began with its first step)."""
    paused, why = state.paused(target, now)
    if paused:
        return "paused", f"paused: {why}"
    used = state.rule_states[(rule.name, target)].actions_within(now, rule.budget.per)
    if used >= rule.budget.max:
        return "budget", _budget_spent(used, rule)
    held = breaker_holding(state, target)
    if held is not None:
        return "breaker", held
    return fleet_guard(state, now, rule.evidence, exclude=target)


def breaker_holding(state: EngineState, target: str) -> str | None:
    """Why `target` is held by an open breaker (any rule's: the breaker is per target), or None.

    One unrecovered incident seen by two rules must not give two restarts.
    """
    for other in state.policy.rules_for(target):
        if state.rule_states[(other.name, target)].breaker_open:
            return (
                f"breaker of {other.name} open on {target}: restarts did not help; "
                "a human must look"
            )
    return None


def manual_guard(state: EngineState, rule: Rule, target: str, now: float) -> Blocked | None:
    """The guards of an operator's restart: the same, but target-wide and without a budget.

    Budgets bound automatic loops; a person's restart is not one, but it still waits for the
    target's cooldown (unless forced), stops at an open breaker (unless reset), and counts
    against the fleet limits.
    """
    flight = state.targets[target].in_flight
    if flight is not None:
        return "in_progress", f"{flight.action} by rule {flight.rule} is {flight.phase}"
    pending = state.approvals.get(target)
    if pending is not None:
        return (
            "awaiting_approval",
            f"approval {pending.id} for {pending.action} is open: approve or deny it instead",
        )
    paused, why = state.paused(target, now)
    if paused:
        return "paused", f"paused: {why}"
    last = state.last_action_at.get(target)
    if last is not None and now - last < rule.cooldown:
        left = rule.cooldown - (now - last)
        return (
            "cooldown",
            f"cooldown: {format_duration(left)} left of {format_duration(rule.cooldown)} "
            "(--force skips it)",
        )
    for other in state.policy.rules_for(target):
        if state.rule_states[(other.name, target)].breaker_open:
            return "breaker", f"breaker of {other.name} is open (--reset-breaker closes it)"
    return fleet_guard(state, now)


def fleet_guard(
    state: EngineState, now: float, evidence: Evidence = "tool", *, exclude: str | None = None
) -> Blocked | None:
    """Fleet-wide limits: concurrent actions, actions per hour, and mass failure.

    Mass failure counts the targets unhealthy by `evidence` (the rule's kind of look);
    `exclude` is a target whose own remediation is in flight (a ladder's next step).
    """
    g = state.policy.guardrails
    busy = sum(
        1 for name, ts in state.targets.items() if ts.in_flight is not None and name != exclude
    )
    if busy >= g.max_concurrent_actions:
        return (
            "fleet_limit",
            f"{busy} action(s) in flight (max_concurrent_actions {g.max_concurrent_actions})",
        )
    hour = sum(1 for t in state.fleet_action_times if now - t < FLEET_WINDOW)
    if hour >= g.max_actions_per_hour:
        return (
            "fleet_limit",
            f"{hour} actions in the last hour (max_actions_per_hour {g.max_actions_per_hour})",
        )
    total = len(state.targets)
    down = sum(1 for ts in state.targets.values() if ts.ok(evidence) is False)
    if total and down >= g.mass_failure_min_unhealthy and down / total >= g.mass_failure_fraction:
        what = "cluster status" if evidence == "cluster" else "manager-tool probes"
        return (
            "mass_failure",
            f"{down} of {total} targets unhealthy by {what}: likely an upstream problem",
        )
    return None


def _budget_spent(used: int, rule: Rule) -> str:
    return f"budget spent: {used} of {rule.budget.max} per {format_duration(rule.budget.per)}"


def cooldown_remaining(rule: Rule, st: RuleState, now: float) -> float:
    """Seconds until `rule` may act on the target again (0 when it may)."""
    last = st.last_action_at()
    return max(0.0, rule.cooldown - (now - last)) if last is not None else 0.0


def passed_summary(state: EngineState, rule: Rule, target: str, now: float) -> str:
    """Each local guard and why it let the action through, for the `acted` decision's detail."""
    st = state.rule_states[(rule.name, target)]
    g = state.policy.guardrails
    last = st.last_action_at()
    since = "never acted" if last is None else f"last action {format_duration(now - last)} ago"
    busy = sum(1 for ts in state.targets.values() if ts.in_flight is not None)
    hour = sum(1 for t in state.fleet_action_times if now - t < FLEET_WINDOW)
    down = sum(1 for ts in state.targets.values() if ts.ok(rule.evidence) is False)
    return (
        f"not in progress; not paused; cooldown {format_duration(rule.cooldown)} clear ({since}); "
        f"budget {st.actions_within(now, rule.budget.per)}/{rule.budget.max}; breaker closed; "
        f"fleet {busy}/{g.max_concurrent_actions} in flight, "
        f"{hour}/{g.max_actions_per_hour} this hour; "
        f"{down}/{len(state.targets)} targets unhealthy "
        f"(mass failure at {g.mass_failure_min_unhealthy} and {g.mass_failure_fraction:.0%})"
    )
