"""A trip — one rule tripped on one target — and what every concern does with one.

A trip ends in a `Decision`: `evaluate` suppresses it on a local guard or asks the driver to
look before acting (`CheckFirst`); `suppress` says why it was held back, once per reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from remediator.core.decisions import CheckFirst, Decision, Outcome, Output, TriggerKind
from remediator.core.guardrails import local_guard
from remediator.core.rules import AlertTrigger, Rule
from remediator.core.state import EngineState, RuleState

# Suppressions after which a re-sent alert episode is not looked at again.
FINAL_FOR_EPISODE = frozenset({"in_progress", "recovered", "not_corroborated", "duplicate"})


@dataclass(frozen=True)
class Trip:
    """A rule tripped on a target by a trigger (with the alert episode, for an alert)."""

    rule: Rule
    target: str
    trigger: TriggerKind
    episode: tuple[str, str] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The (rule, target) whose `RuleState` this trip is."""
        return (self.rule.name, self.target)


def rule_state(state: EngineState, trip: Trip) -> RuleState:
    """What the trip's rule remembers about its target."""
    return state.rule_states[trip.key]


def decide(  # noqa: PLR0913 - a decision's fields; the action by keyword
    trip: Trip, outcome: Outcome, reason: str, detail: str, now: float, *, action: str | None = None
) -> Decision:
    """The decision that ends (or holds back) `trip`, with its reason; `action` is the step
    decided on (default: the rule's first)."""
    return Decision(
        rule=trip.rule.name,
        target=trip.target,
        outcome=outcome,
        reason=reason,
        detail=detail,
        at=now,
        trigger=trip.trigger,
        action=action or trip.rule.action,
        episode=trip.episode,
    )


def suppress(state: EngineState, trip: Trip, reason: str, detail: str, now: float) -> list[Output]:
    """Hold `trip` back for `reason`: a decision, unless the same reason was just given."""
    st = rule_state(state, trip)
    ep = state.episodes.get(trip.episode) if trip.episode else None
    repeat = st.last_reason == reason
    if ep is not None:
        repeat = ep.last_reason == reason
        ep.last_reason = reason
        if reason in FINAL_FOR_EPISODE:
            ep.final = True
    if reason in ("recovered", "not_corroborated") or trip.trigger == "alert":
        st.reset_trip()
    else:
        st.last_reason = reason
    return [] if repeat else [decide(trip, "suppressed", reason, detail, now)]


def evaluate(state: EngineState, trip: Trip, now: float) -> list[Output]:
    """Suppress `trip` on a local guard, or ask the driver to look before acting."""
    st = rule_state(state, trip)
    if st.pending_token is not None:
        return []
    blocked = local_guard(state, trip.rule, trip.target, now)
    if blocked is not None:
        return suppress(state, trip, *blocked, now)
    return [ask_first(state, trip, now)]


def ask_first(
    state: EngineState, trip: Trip, now: float, step: int = 0, *, respect: bool = True
) -> CheckFirst:
    """Remember that `trip` waits for a look before its ladder's `step`, and ask for it
    (`respect`: and whether a silence or a maintenance window holds the target)."""
    st = rule_state(state, trip)
    st.pending_token = state.take_token()
    st.pending_trigger = trip.trigger
    st.pending_step = step
    rule = trip.rule
    corroborate = isinstance(rule.trigger, AlertTrigger) and rule.trigger.corroborate
    return CheckFirst(
        rule=rule.name,
        target=trip.target,
        cluster_no=state.cluster_no(trip.target),
        token=st.pending_token,
        probe=trip.trigger == "probe" or corroborate or step > 0,
        trigger=trip.trigger,
        at=now,
        action=rule.steps[step],
        check=rule.evidence,
        step=step,
        respect=respect,
    )
