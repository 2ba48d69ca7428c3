"""The engine's state as plain data, for `remediator status` and `/api/v1/status`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from remediator.core.guardrails import FLEET_WINDOW, cooldown_remaining
from remediator.core.rules import Policy, blast_radius_of
from remediator.core.state import PendingApproval, RuleState, TargetState


class StateView(Protocol):
    """What a snapshot reads: an `EngineState`, or the `Engine` that holds one."""

    @property
    def policy(self) -> Policy: ...

    @property
    def targets(self) -> Mapping[str, TargetState]: ...

    @property
    def rule_states(self) -> Mapping[tuple[str, str], RuleState]: ...

    @property
    def fleet_action_times(self) -> Sequence[float]: ...

    @property
    def approvals(self) -> Mapping[str, PendingApproval]: ...

    def paused(self, target: str, now: float) -> tuple[bool, str]: ...


# Per target: its name, whether it is paused, and per rule (name, seconds of cooldown left,
# breaker open) — what the daemon's gauges show every second.
GaugeValues = tuple[str, bool, tuple[tuple[str, float, bool], ...]]


def gauge_values(state: StateView, now: float) -> list[GaugeValues]:
    """The values of the per-target gauges at `now`, as `snapshot` has them (a tuple per target
    rather than the status's dicts: at 5,000 targets the daemon's tick took a snapshot a second
    for these few values, ~1.3 MiB and 10,000 objects each time, under the engine's lock)."""
    return [
        (
            ref.name,
            state.paused(ref.name, now)[0],
            tuple(
                (
                    rule.name,
                    round(cooldown_remaining(rule, st, now), 1),
                    st.breaker_open,
                )
                for rule in state.policy.rules_for(ref.name)
                for st in (state.rule_states[(rule.name, ref.name)],)
            ),
        )
        for ref in state.policy.targets
    ]


def snapshot(state: StateView, now: float) -> dict[str, Any]:
    """Targets, rule states, cooldowns, budgets, breakers and pauses at `now`."""
    targets: list[dict[str, Any]] = []
    for ref in state.policy.targets:
        ts = state.targets[ref.name]
        paused, why = state.paused(ref.name, now)
        flight = ts.in_flight
        rules: list[dict[str, Any]] = []
        for rule in state.policy.rules_for(ref.name):
            st = state.rule_states[(rule.name, ref.name)]
            if st.pending_token is not None:
                phase = "checking"
            elif st.tripped:
                phase = "tripped"
            elif st.window and not all(st.window):
                phase = "failing"
            elif ts.ok(rule.evidence) is None:  # not looked at yet (or the daemon is not running)
                phase = "unknown"
            else:
                phase = "healthy"
            if flight is not None and flight.rule == rule.name:
                phase = flight.phase
            asked = state.approvals.get(ref.name)
            if asked is not None and asked.rule == rule.name and not asked.approved:
                phase = "awaiting_approval"
            rules.append(
                {
                    "rule": rule.name,
                    "mode": rule.mode,
                    "action": rule.action,
                    "steps": list(rule.steps),
                    "fallback_action": rule.fallback_action,
                    "worst_blast_radius": rule.worst_case,
                    "max_blast_radius": rule.max_blast_radius,
                    "phase": phase,
                    "last_suppression": st.last_reason,
                    "cooldown_remaining_seconds": round(cooldown_remaining(rule, st, now), 1),
                    "budget_used": st.actions_within(now, rule.budget.per),
                    "budget_max": rule.budget.max,
                    "budget_window_seconds": rule.budget.per,
                    "breaker_open": st.breaker_open,
                    "last_outcome": st.last_outcome,
                }
            )
        targets.append(
            {
                "name": ref.name,
                "cluster_no": ref.cluster_no,
                "up": ts.last_ok,
                "cluster_up": ts.cluster_ok,
                "paused": paused,
                "pause_reason": why,
                "in_flight": None
                if flight is None
                else {
                    "rule": flight.rule,
                    "action": flight.action,
                    "blast_radius": blast_radius_of(flight.action),
                    "step": flight.step,
                    "phase": flight.phase,
                },
                "rules": rules,
            }
        )
    g = state.policy.guardrails
    return {
        "at": now,
        "targets": targets,
        "fleet": {
            "in_flight": sum(1 for t in state.targets.values() if t.in_flight is not None),
            "max_concurrent_actions": g.max_concurrent_actions,
            "actions_last_hour": sum(1 for t in state.fleet_action_times if now - t < FLEET_WINDOW),
            "max_actions_per_hour": g.max_actions_per_hour,
        },
    }
