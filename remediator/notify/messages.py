"""What each event tells the humans: a notice with its facts and one sentence, per event of
SPEC section 10 (`acted`, `recovered`, `breaker_opened`, ...), from what the engine or the
daemon said."""

from __future__ import annotations

from collections.abc import Sequence

from remediator.config.notifymodel import NotifyEvent
from remediator.core.decisions import (
    Act,
    ApprovalRequested,
    ApprovalSettled,
    BreakerChanged,
    Remediated,
)
from remediator.core.rules import REMEDIES, blast_radius_of
from remediator.notify.notice import Approval, Notice, notice
from remediator.timetext import iso


def _effect(action: str) -> str:
    for name, remedy in REMEDIES.items():
        if name == action:
            return remedy.effect
    return action


def acted(a: Act, reason: str, *, dry_run: bool = False) -> Notice:
    """A signed action is about to be sent (its intent is being written)."""
    radius = blast_radius_of(a.action)
    if a.fallback_of is not None:
        what = f"{a.fallback_of} is not available, so remediator fell back to {a.action}"
    else:
        what = f"remediator is sending {a.action}"
    sentence = (
        f"{what} on {a.target} (cluster {a.cluster_no}, rule {a.rule}): it "
        f"{_effect(a.action)}, blast radius {radius}"
    )
    if dry_run:
        sentence += " (dry run: nothing is sent)"
    return notice(
        "acted",
        at=a.at,
        message=sentence + ".",
        target=a.target,
        cluster_no=a.cluster_no,
        rule=a.rule,
        action=a.action,
        reason=reason,
    )


def remediated(r: Remediated, cluster_no: str) -> Notice:
    """The verified end of a remediation."""
    if r.outcome == "recovered":
        sentence = f"{r.target} recovered after {r.action} (rule {r.rule})."
    else:
        sentence = f"{r.target} did not recover after {r.action} (rule {r.rule}): {r.detail}."
    return notice(
        r.outcome,
        at=r.at,
        message=sentence,
        target=r.target,
        cluster_no=cluster_no,
        rule=r.rule,
        action=r.action,
        reason=r.detail,
    )


def breaker(b: BreakerChanged, cluster_no: str) -> Notice:
    """A breaker opened (restarts are not helping) or closed."""
    event: NotifyEvent = "breaker_opened" if b.open else "breaker_closed"
    if b.open:
        sentence = (
            f"remediator stopped restarting {b.target} (rule {b.rule}): restarts are not "
            "helping and a human must look."
        )
    else:
        sentence = f"remediator may restart {b.target} again (rule {b.rule}): {b.detail}."
    return notice(
        event,
        at=b.at,
        message=sentence,
        target=b.target,
        cluster_no=cluster_no,
        rule=b.rule,
        reason=b.detail,
    )


def paused(
    target: str | None, cluster_no: str | None, until: float, reason: str, at: float
) -> Notice:
    """An operator paused remediation of a target, or of all."""
    who = target or "every target"
    return notice(
        "paused",
        at=at,
        message=f"Remediation of {who} is paused until {iso(until)}: {reason}.",
        target=target,
        cluster_no=cluster_no,
        reason=reason,
    )


def resumed(target: str | None, cluster_no: str | None, reset_breaker: bool, at: float) -> Notice:
    """An operator lifted a pause (and asked for the breakers to be closed)."""
    who = target or "every target"
    sentence = f"Remediation of {who} resumed"
    if reset_breaker:
        sentence += ", and its breakers reset"
    return notice(
        "resumed",
        at=at,
        message=sentence + ".",
        target=target,
        cluster_no=cluster_no,
        reason="lifted by an operator",
    )


def action_path(  # noqa: PLR0913 - the check's fields, by keyword
    up: bool, *, region: str, checked_with: str, cluster_no: str, detail: str, at: float
) -> Notice:
    """The signed read-only call that proves the action path failed, or works again."""
    where = region or "the default region"
    event: NotifyEvent = "action_path_up" if up else "action_path_down"
    if up:
        sentence = f"remediator's signed CDSS calls work again ({where})."
    else:
        sentence = f"remediator cannot make signed CDSS calls ({where}): a restart would fail too."
    return notice(
        event,
        at=at,
        message=sentence,
        target=checked_with,
        cluster_no=cluster_no,
        reason=detail,
    )


def reload_refused(problems: Sequence[str], at: float) -> Notice:
    """A reload was refused; the previous configuration keeps running."""
    shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
    return notice(
        "reload_refused",
        at=at,
        message="remediator refused its new configuration and keeps running the previous one.",
        reason=shown,
    )


def approval_requested(a: ApprovalRequested) -> Notice:
    """A `mode: approve` rule waits for a human's yes before `a.action`."""
    sentence = (
        f"remediator asks to run {a.action} on {a.target} (cluster {a.cluster_no}, rule "
        f"{a.rule}): it {_effect(a.action)}, blast radius {a.blast_radius}. Approve or deny "
        f"{a.id} before {iso(a.expires_at)}."
    )
    return notice(
        "approval_requested",
        at=a.at,
        message=sentence,
        target=a.target,
        cluster_no=a.cluster_no,
        rule=a.rule,
        action=a.action,
        reason=a.reason,
        approval=Approval(a.id, a.expires_at, a.action),
    )


def approval_resolved(s: ApprovalSettled, expires_at: float) -> Notice:
    """A pending approval was approved, denied, or expired unanswered."""
    if s.resolution == "expired":
        sentence = (
            f"Approval {s.id} to run {s.action} on {s.target} expired unanswered: nothing was sent."
        )
    elif s.resolution == "denied":
        sentence = f"{s.by} denied {s.action} on {s.target} (approval {s.id}): nothing is sent."
    else:
        sentence = (
            f"{s.by} approved {s.action} on {s.target} (approval {s.id}): remediator checks "
            "the target again and sends it unless it is healthy or held."
        )
    return notice(
        "approval_resolved",
        at=s.at,
        message=sentence,
        target=s.target,
        cluster_no=s.cluster_no,
        rule=s.rule,
        action=s.action,
        reason=s.reason,
        approval=Approval(s.id, expires_at, s.action),
    )
