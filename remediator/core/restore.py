"""Rebuilding the engine's memory from the ledger, and taking it over at a reload."""

from __future__ import annotations

import math
from collections.abc import Iterable

from remediator.core.manual import manual_rule
from remediator.core.state import (
    MANUAL,
    ActionRecord,
    ApprovalRecord,
    Declined,
    DeclinedReason,
    EngineState,
    EpisodeState,
    InFlight,
    PauseRecord,
    PendingApproval,
)


def restore(  # noqa: PLR0913 - one keyword per kind of ledger record
    state: EngineState,
    actions: Iterable[ActionRecord],
    *,
    breakers: Iterable[tuple[str, str]] = (),
    pauses: Iterable[PauseRecord] = (),
    decided_episodes: Iterable[tuple[str, str, str, float]] = (),
    approvals: Iterable[ApprovalRecord] = (),
    now: float,
) -> None:
    """Rebuild cooldowns, budgets, breakers, pauses, approvals and unfinished work from the
    ledger.

    An action whose outcome was never recorded (a crash mid-call) counts as sent with an
    unknown outcome: it spends cooldown and budget and is verified, never resent. A pending
    approval is pending again (it expires when it would have); a recent denial or expiry holds
    its rule as before; an approval approved but not yet acted on is spent (the next trip asks
    again).
    """
    latest: dict[str, ActionRecord] = {}
    previous: dict[tuple[str, str], ActionRecord] = {}
    started: dict[str, float] = {}
    for rec in sorted(actions, key=lambda a: a.intent_at):
        key = (rec.rule, rec.target)
        # A step that follows an escalated one is the same remediation: it spends budget,
        # not a new cooldown.
        before = previous.get(key)
        first = before is None or before.remediation != "escalated"
        previous[key] = rec
        st = state.rule_states.get(key)
        if st is not None:
            st.action_times.append(rec.intent_at)
            if first:
                st.started_times.append(rec.intent_at)
            if rec.remediation and rec.remediation != "escalated":
                st.last_outcome = rec.remediation
        if rec.mode == "enforce":
            state.fleet_action_times.append(rec.intent_at)
            state.last_action_at[rec.target] = rec.intent_at
            latest[rec.target] = rec
            if first:
                started[rec.target] = rec.intent_at
    for target, rec in latest.items():
        _resume(state, rec, started.get(target, rec.intent_at), now)
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
    for a in sorted(approvals, key=lambda r: r.requested_at):
        _restore_approval(state, a, now)


def _restore_approval(state: EngineState, a: ApprovalRecord, now: float) -> None:
    rule = state.rules.get(a.rule)
    if rule is None or a.target not in state.targets or not rule.applies_to(a.target):
        return
    if a.status == "pending" and a.step < len(rule.steps):
        state.approvals[a.target] = PendingApproval(
            id=a.id,
            rule=a.rule,
            target=a.target,
            action=a.action,
            step=a.step,
            trigger="alert" if a.trigger == "alert" else "probe",
            reason=a.reason,
            requested_at=a.requested_at,
            expires_at=a.expires_at,
            detected_at=a.requested_at,
        )
        # A ladder that was waiting for this approval waits for it again, not for a look.
        state.looks_due.pop(a.target, None)
    elif a.status in ("denied", "expired") and a.resolved_at is not None:
        until = a.resolved_at + rule.cooldown
        if until > now:
            reason: DeclinedReason = (
                "approval_denied" if a.status == "denied" else "approval_expired"
            )
            detail = f"approval {a.id} for {a.action} was {a.status}" + (
                f" by {a.resolved_by}: {a.resolution}" if a.resolved_by else f": {a.resolution}"
            )
            state.declined[(a.rule, a.target)] = Declined(reason, detail, until)


def _resume(state: EngineState, rec: ActionRecord, started: float, now: float) -> None:
    """Put the latest action on a target back in flight when its remediation did not end:
    verifying (never resent), or waiting for the look before the ladder's next step."""
    target = rec.target
    rule = state.rule(rec.rule, target)
    if rule is None and rec.rule == MANUAL and target in state.targets:
        rule = manual_rule(state, target, rec.action, force=False, dry_run=False)
    ts = state.targets.get(target)
    if rule is None or ts is None or (rec.rule, target) not in state.rule_states:
        return
    if rec.remediation == "escalated":
        if rec.step + 1 < len(rule.steps):  # the ladder goes on where it was
            flight = ts.in_flight = InFlight(
                rule=rec.rule,
                action=rule.steps[rec.step + 1],
                phase="escalating",
                decided_at=rec.intent_at,
                step=rec.step + 1,
                started_at=started,
                deadline=now + rule.verify.timeout,
                look_again_at=now,
            )
            state.looks_due[target] = flight.look_again_at
            state.wake(now)
        return
    if rec.remediation is not None or rec.result in ("failure", "not_available"):
        return
    begun = rec.outcome_at if rec.result is not None and rec.outcome_at else now
    ts.in_flight = InFlight(
        rule=rec.rule,
        action=rec.action,
        phase="verifying",
        decided_at=rec.intent_at,
        grace_until=begun + rule.verify.grace,
        deadline=begun + rule.verify.timeout,
        step=rec.step,
        started_at=started,
        green_needed=rec.action == "rolling_restart",
        unknown=rec.result in (None, "unknown"),
    )
    state.wake(begun + rule.verify.timeout)


def adopt(state: EngineState, old: EngineState) -> None:
    """Take over what `old` (the state under the previous config) saw live, after a restore.

    Probe windows and trips carry over for rules whose trigger did not change; health,
    in-flight work, pauses and alert episodes carry over for targets that still exist. When
    each (rule, target) acted — its cooldown and budget — carries over from `old` too, in the
    times it lived (the daemon's steady time): read back from the ledger's wall times, they
    would move by any step of the wall clock since they were written. Breakers come from the
    ledger; cooldowns and budgets are judged by the new rules.
    """
    state.next_token = old.next_token
    state.fleet_action_times = list(old.fleet_action_times)
    state.last_action_at.update(
        (name, at) for name, at in old.last_action_at.items() if name in state.targets
    )
    state.all_paused_until, state.all_pause_reason = old.all_paused_until, old.all_pause_reason
    state.wake_at = -math.inf  # adopted work has deadlines of its own
    state.episodes.update(old.episodes)
    # Approvals go on under the new rules while their rule and target still exist.
    state.approvals = {
        t: a for t, a in old.approvals.items() if a.rule in state.rules and t in state.targets
    }
    state.declined = {k: d for k, d in old.declined.items() if k in state.rule_states}
    for name, ts in state.targets.items():
        before = old.targets.get(name)
        if before is None:
            continue
        ts.last_ok, ts.healthy_since = before.last_ok, before.healthy_since
        ts.paused_until, ts.pause_reason = before.paused_until, before.pause_reason
        ts.cluster_ok, ts.cluster_healthy_since = before.cluster_ok, before.cluster_healthy_since
        flight = before.in_flight
        if flight is not None and flight.rule in state.rules:
            ts.in_flight = flight
            if name in old.looks_due:
                state.looks_due[name] = old.looks_due[name]
    for key, st in state.rule_states.items():
        prev = old.rule_states.get(key)
        if prev is not None:
            st.action_times, st.started_times = list(prev.action_times), list(prev.started_times)
        # `manual` is no configured rule: restore() made its state for a restart in flight.
        rule, prev_rule = state.rules.get(key[0]), old.rules.get(key[0])
        if prev is None or rule is None or prev_rule is None or prev_rule.trigger != rule.trigger:
            continue
        st.window = prev.window.copy()
        st.first_failure_at, st.tripped = prev.first_failure_at, prev.tripped
        st.last_reason, st.healthy_since = prev.last_reason, prev.healthy_since
