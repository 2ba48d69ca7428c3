"""Rebuilding the engine's memory from the ledger, and taking it over at a reload."""

from __future__ import annotations

import math
from collections.abc import Iterable

from remediator.core.manual import manual_rule
from remediator.core.state import (
    MANUAL,
    ActionRecord,
    EngineState,
    EpisodeState,
    InFlight,
    PauseRecord,
)


def restore(
    state: EngineState,
    actions: Iterable[ActionRecord],
    *,
    breakers: Iterable[tuple[str, str]] = (),
    pauses: Iterable[PauseRecord] = (),
    decided_episodes: Iterable[tuple[str, str, str, float]] = (),
    now: float,
) -> None:
    """Rebuild cooldowns, budgets, breakers, pauses and unfinished work from the ledger.

    An action whose outcome was never recorded (a crash mid-call) counts as sent with an
    unknown outcome: it spends cooldown and budget and is verified, never resent.
    """
    latest: dict[str, ActionRecord] = {}
    for rec in sorted(actions, key=lambda a: a.intent_at):
        st = state.rule_states.get((rec.rule, rec.target))
        if st is not None:
            st.action_times.append(rec.intent_at)
            if rec.remediation:
                st.last_outcome = rec.remediation
        if rec.mode == "enforce":
            state.fleet_action_times.append(rec.intent_at)
            state.last_action_at[rec.target] = rec.intent_at
            latest[rec.target] = rec
    for target, rec in latest.items():
        rule = state.rule(rec.rule, target)
        if rule is None and rec.rule == MANUAL and target in state.targets:
            rule = manual_rule(state, target, rec.action, force=False, dry_run=False)
        ts = state.targets.get(target)
        if rule is None or ts is None or rec.remediation is not None:
            continue
        if rec.result in ("failure", "not_available"):
            continue
        started = rec.outcome_at if rec.result is not None and rec.outcome_at else now
        ts.in_flight = InFlight(
            rule=rec.rule,
            action=rec.action,
            phase="verifying",
            decided_at=rec.intent_at,
            grace_until=started + rule.verify.grace,
            deadline=started + rule.verify.timeout,
        )
        state.wake(started + rule.verify.timeout)
    for rule_name, target in breakers:
        st = state.rule_states.get((rule_name, target))
        if st is not None:
            st.breaker_open = True
    for p in pauses:
        state.pause(p.target, p.until, p.reason)
    for fingerprint, starts_at, target, last_seen in decided_episodes:
        state.episodes[(fingerprint, starts_at)] = EpisodeState(
            target=target, final=True, last_seen=last_seen
        )


def adopt(state: EngineState, old: EngineState) -> None:
    """Take over what `old` (the state under the previous config) saw live, after a restore.

    Probe windows and trips carry over for rules whose trigger did not change; health,
    in-flight work and alert episodes carry over for targets that still exist. Cooldowns,
    budgets and breakers come from the ledger, recomputed with the new rules.
    """
    state.next_token = old.next_token
    state.wake_at = -math.inf  # adopted work has deadlines of its own
    state.episodes.update(old.episodes)
    for name, ts in state.targets.items():
        before = old.targets.get(name)
        if before is None:
            continue
        ts.last_ok, ts.healthy_since = before.last_ok, before.healthy_since
        flight = before.in_flight
        if flight is not None and flight.rule in state.rules:
            ts.in_flight = flight
    for key, st in state.rule_states.items():
        prev = old.rule_states.get(key)
        # `manual` is no configured rule: restore() made its state for a restart in flight.
        rule, prev_rule = state.rules.get(key[0]), old.rules.get(key[0])
        if prev is None or rule is None or prev_rule is None or prev_rule.trigger != rule.trigger:
            continue
        st.window = prev.window.copy()
        st.first_failure_at, st.tripped = prev.first_failure_at, prev.tripped
        st.last_reason, st.healthy_since = prev.last_reason, prev.healthy_since
