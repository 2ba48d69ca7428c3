"""Approvals (SPEC section 10): a `mode: approve` rule asks a human before each step it would
send, and the answer — or its absence — decides.

- `request`: instead of the call, a pending approval (at most one per target), the decision
  `awaiting_approval` and an `ApprovalRequested` for the ledger and the notifications.
- `on_answer`: approved — the look before acting is asked for again (a fresh look at the rule's
  evidence, the cluster status, and then every guard: `approved.on_approved_look`), and the
  approval is spent on that look; denied — the (rule, target) is not asked again for the rule's
  cooldown (reason `approval_denied`).
- `expire`: a pending approval past its `expires_at` is a suppression `approval_expired`, with
  the same hold.

A ladder's later step that needs approval leaves its remediation waiting (`escalating`): a
denial or an expiry ends it (`not_recovered` when a step was sent).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from remediator.core.decisions import (
    ApprovalRequested,
    ApprovalResolution,
    ApprovalSettled,
    Output,
)
from remediator.core.events import ApprovalAnswer
from remediator.core.rules import Rule, action_summary
from remediator.core.state import Declined, DeclinedReason, EngineState, PendingApproval
from remediator.core.trip import Trip, ask_first, decide, rule_state
from remediator.core.verification import finish


def approval_id(rule: str, target: str, step: int, now: float) -> str:
    """A short id, the same in a replay of the same events (8 hex digits)."""
    return hashlib.sha256(f"{rule}\0{target}\0{step}\0{now!r}".encode()).hexdigest()[:8]


def request(  # noqa: PLR0913 - a step's trip; what and why by keyword
    state: EngineState, trip: Trip, step: int, now: float, *, what: str, why: str
) -> list[Output]:
    """Ask a human before `step` of `trip`'s rule (`what` it would do, and `why`)."""
    rule, target = trip.rule, trip.target
    action = rule.steps[step]
    st = rule_state(state, trip)
    reason = f"{what}: {why}"
    fallback = rule.fallback_action
    if fallback is not None:
        reason += (
            f"; if NCP refuses {action} as not available, this approval also covers its "
            f"fallback {action_summary(fallback)}"
        )
    pending = PendingApproval(
        id=approval_id(rule.name, target, step, now),
        rule=rule.name,
        target=target,
        action=action,
        step=step,
        trigger=trip.trigger,
        reason=reason,
        requested_at=now,
        expires_at=now + rule.approval_timeout,
        detected_at=st.first_failure_at if st.first_failure_at is not None else now,
    )
    state.approvals[target] = pending
    ep = state.episodes.get(trip.episode) if trip.episode else None
    if ep is not None:
        ep.final = True
    st.reset_trip()
    state.looks_due.pop(target, None)
    return [
        decide(
            trip,
            "awaiting_approval",
            trip.trigger,
            f"asks a human (approval {pending.id}) before {what}: {why}",
            now,
            action=action,
        ),
        ApprovalRequested(
            id=pending.id,
            rule=rule.name,
            target=target,
            cluster_no=state.cluster_no(target),
            action=action,
            step=step,
            trigger=trip.trigger,
            reason=reason,
            at=now,
            expires_at=pending.expires_at,
        ),
    ]


def pending_by_id(state: EngineState, approval: str) -> PendingApproval | None:
    """The approval called `approval`, if it is open (pending, or approved and being looked at)."""
    return next((p for p in state.approvals.values() if p.id == approval), None)


def on_answer(state: EngineState, a: ApprovalAnswer, now: float) -> list[Output]:
    """A human's answer: approved, look again before acting; denied, hold the rule."""
    pending = pending_by_id(state, a.id)
    if pending is None or pending.approved:
        return []  # unknown, expired or already answered: the operator is told by the caller
    rule = state.rule(pending.rule, pending.target)
    if rule is None:
        del state.approvals[pending.target]
        return []
    settled = _settled(
        state, pending, "approved" if a.approve else "denied", by=a.by, reason=a.reason, now=now
    )
    if not a.approve:
        detail = f"{pending.action} was denied by {a.by}: {a.reason}"
        return [
            settled,
            *_decline(state, rule, pending, reason="approval_denied", detail=detail, now=now),
        ]
    pending.approved = True
    st = state.rule_states[(rule.name, pending.target)]
    st.first_failure_at = pending.detected_at  # detection to action counts from the incident
    look = ask_first(state, Trip(rule, pending.target, pending.trigger), now, pending.step)
    # Whatever the trigger, the approved step is looked at afresh: a healthy target is not
    # restarted.
    return [settled, replace(look, probe=True)]


def expire(state: EngineState, now: float) -> list[Output]:
    """Pending approvals past their `expires_at`: suppressed `approval_expired`."""
    out: list[Output] = []
    for pending in [p for p in state.approvals.values() if not p.approved]:
        if now < pending.expires_at:
            continue
        rule = state.rule(pending.rule, pending.target)
        if rule is None:
            del state.approvals[pending.target]
            continue
        waited = pending.expires_at - pending.requested_at
        why = f"no answer within {waited:g}s (approval_timeout)"
        detail = f"approval {pending.id} for {pending.action} expired: {why}"
        out.append(_settled(state, pending, "expired", by="", reason=why, now=now))
        out.extend(
            _decline(state, rule, pending, reason="approval_expired", detail=detail, now=now)
        )
    return out


def _settled(  # noqa: PLR0913 - the answer's fields, by keyword
    state: EngineState,
    pending: PendingApproval,
    resolution: ApprovalResolution,
    *,
    by: str,
    reason: str,
    now: float,
) -> ApprovalSettled:
    return ApprovalSettled(
        id=pending.id,
        rule=pending.rule,
        target=pending.target,
        cluster_no=state.cluster_no(pending.target),
        action=pending.action,
        resolution=resolution,
        by=by,
        reason=reason,
        at=now,
    )


def _decline(  # noqa: PLR0913 - the decline's fields, by keyword
    state: EngineState,
    rule: Rule,
    pending: PendingApproval,
    *,
    reason: DeclinedReason,
    detail: str,
    now: float,
) -> list[Output]:
    """No call: hold the (rule, target) for the rule's cooldown, and end a waiting ladder."""
    target = pending.target
    del state.approvals[target]
    state.declined[(rule.name, target)] = Declined(reason, detail, now + rule.cooldown)
    trip = Trip(rule, target, pending.trigger)
    out: list[Output] = [decide(trip, "suppressed", reason, detail, now, action=pending.action)]
    flight = state.targets[target].in_flight
    if flight is not None and flight.rule == rule.name and flight.phase == "escalating":
        if flight.sent_any:
            out += finish(state, target, "not_recovered", f"the ladder stops: {detail}", now)
        else:
            state.targets[target].in_flight = None
    rule_state(state, trip).last_reason = reason
    return out
