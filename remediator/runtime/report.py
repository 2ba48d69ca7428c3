"""What the driver makes of the engine's news: the counts, the log lines and the ledger records of
decisions, verified remediations and breakers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import assert_never

from remediator.core.decisions import Act, BreakerChanged, Decision, Escalated, Remediated
from remediator.core.engine import Engine
from remediator.core.events import ActionResult
from remediator.core.rules import action_summary, blast_radius_of
from remediator.metrics import Metrics
from remediator.store import Ledger
from remediator.store.outbox import OutboxEntry

log = logging.getLogger("remediator.runtime.daemon")

# How a record reaches the ledger: `write(record, do_it)` — at once, or once the ledger takes
# writes again (see `ledgerwatch.LedgerWatch.record`).
Write = Callable[[str, Callable[[], object]], None]


def write_now(_record: str, do_it: Callable[[], object]) -> None:
    """Write at once (a failure raises)."""
    do_it()


def say(d: Decision, metrics: Metrics) -> None:
    """Count and log a decision, once."""
    metrics.decisions.labels(rule=d.rule, target=d.target, outcome=d.outcome, reason=d.reason).inc()
    metrics.decision_actions.labels(action=d.action, outcome=d.outcome).inc()
    log.info(
        f"decision on {d.target} by {d.rule}: {d.outcome} ({d.reason}): {d.detail}",
        extra={
            "event": "decision",
            "rule": d.rule,
            "target": d.target,
            "outcome": d.outcome,
            "reason": d.reason,
            "trigger": d.trigger,
            "action": d.action,
            "blast_radius": d.blast_radius,
        },
    )


def record_decision(
    d: Decision, engine: Engine, ledger: Ledger, metrics: Metrics, write: Write = write_now
) -> None:
    """Say an acted or shadow decision (a suppression is said by the caller, outside its lock);
    settle its alert episode; record a shadow decision as an intent that is never sent."""
    if d.outcome != "suppressed":
        say(d, metrics)
    if d.episode is not None:
        ep = engine.episodes.get(d.episode)
        if ep is not None and ep.final:
            episode = d.episode
            write("episode", lambda: ledger.mark_episode_decided(*episode, at=d.at))
    if d.outcome == "shadow":
        ref = engine.policy.target(d.target)
        write(
            "shadow",
            lambda: ledger.record_intent(
                rule=d.rule,
                target=d.target,
                cluster_no=ref.cluster_no if ref else "",
                action=d.action,
                mode="shadow",
                trigger=d.trigger,
                at=d.at,
                detail=d.detail,
            ),
        )


def say_outcome(a: Act, outcome: ActionResult, request_id: str | None, detail: str) -> None:
    """Log what came of a signed action."""
    extra = {
        "event": "action",
        "rule": a.rule,
        "target": a.target,
        "action": a.action,
        "result": outcome,
        "request_id": request_id,
        "cluster_no": a.cluster_no,
    }
    match outcome:
        case "success":
            log.info(
                f"action {a.action} on {a.target} (cluster {a.cluster_no}) accepted by CDSS, "
                f"requestId {request_id}; verifying",
                extra=extra,
            )
        case "unknown":
            log.warning(
                f"action {a.action} outcome unknown ({detail}); reconciling from cluster status, "
                "not resending",
                extra=extra,
            )
        case "not_available":
            log.warning(f"action {a.action} not available: {detail}", extra=extra)
        case "failure":
            log.error(f"action {a.action} failed: {detail}", extra=extra)
        case "not_sent":
            log.error(f"action {a.action} on {a.target} not sent: {detail}", extra=extra)
        case _:
            assert_never(outcome)


def record_remediation(
    r: Remediated,
    ledger: Ledger,
    metrics: Metrics,
    write: Write = write_now,
    *,
    notices: Sequence[OutboxEntry] = (),
) -> None:
    """Count, record (with its notifications) and log the verified end of a remediation."""
    metrics.remediations.labels(rule=r.rule, target=r.target, outcome=r.outcome).inc()
    write(
        "remediation",
        lambda: ledger.record_remediation(
            rule=r.rule,
            target=r.target,
            outcome=r.outcome,
            at=r.at,
            detail=r.detail,
            notices=notices,
        ),
    )
    level = logging.INFO if r.outcome == "recovered" else logging.WARNING
    log.log(
        level,
        f"remediation of {r.target} by {r.rule} {r.outcome}: {r.detail}",
        extra={
            "event": "remediation",
            "rule": r.rule,
            "target": r.target,
            "action": r.action,
            "outcome": r.outcome,
        },
    )


def record_escalation(e: Escalated, ledger: Ledger, write: Write = write_now) -> None:
    """Record and log a ladder step that did not recover its target; the next step follows."""
    write(
        "remediation",
        lambda: ledger.record_remediation(
            rule=e.rule,
            target=e.target,
            outcome="escalated",
            at=e.at,
            detail=f"{e.detail}; next step {e.next_action}",
        ),
    )
    nxt = blast_radius_of(e.next_action)
    words = action_summary(e.next_action) if nxt is not None else e.next_action  # type: ignore[arg-type]
    log.warning(
        f"remediation of {e.target} by {e.rule}: {e.action} did not recover it ({e.detail}); "
        f"looking before the next step, {words}",
        extra={
            "event": "escalation",
            "rule": e.rule,
            "target": e.target,
            "action": e.action,
            "next_action": e.next_action,
            "blast_radius": nxt,
        },
    )


def record_breaker(
    b: BreakerChanged,
    ledger: Ledger,
    metrics: Metrics,
    write: Write = write_now,
    *,
    notices: Sequence[OutboxEntry] = (),
) -> None:
    """Show, record (with its notifications) and log a breaker that opened (an escalation) or
    closed."""
    metrics.breaker_open.labels(rule=b.rule, target=b.target).set(1 if b.open else 0)
    write(
        "breaker",
        lambda: ledger.record_breaker(
            rule=b.rule, target=b.target, open=b.open, at=b.at, detail=b.detail, notices=notices
        ),
    )
    if b.open:
        log.error(
            f"breaker open, escalating: {b.detail}",
            extra={"event": "breaker", "rule": b.rule, "target": b.target, "open": True},
        )
    else:
        log.info(
            f"breaker closed: {b.detail}",
            extra={"event": "breaker", "rule": b.rule, "target": b.target, "open": False},
        )
