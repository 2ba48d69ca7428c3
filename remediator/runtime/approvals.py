"""What the driver makes of approvals: the ledger record, written with its notification, and
the log line that says who answered and why."""

from __future__ import annotations

import logging
from typing import Any

from remediator.core.decisions import ApprovalRequested, ApprovalSettled
from remediator.core.engine import Engine
from remediator.core.rules import blast_radius_of
from remediator.notify import messages
from remediator.runtime.notices import Notices
from remediator.runtime.report import Write, write_now
from remediator.store import Ledger
from remediator.timetext import iso

log = logging.getLogger("remediator.runtime.daemon")


def record_request(
    a: ApprovalRequested, ledger: Ledger, notices: Notices, write: Write = write_now
) -> None:
    """A pending approval in the ledger, with its `approval_requested` notification (kept
    until the ledger takes writes, see `ledgerwatch`)."""
    rows = notices.route(messages.approval_requested(a))
    write(
        "approval",
        lambda: ledger.record_approval(
            id=a.id,
            rule=a.rule,
            target=a.target,
            cluster_no=a.cluster_no,
            action=a.action,
            step=a.step,
            trigger=a.trigger,
            reason=a.reason,
            at=a.at,
            expires_at=a.expires_at,
            notices=rows,
        ),
    )
    notices.written(rows)
    log.warning(
        f"approval {a.id}: {a.rule} asks a human before {a.action} on {a.target} (blast radius "
        f"{a.blast_radius}), until {iso(a.expires_at)}: remediator approve|deny {a.id} "
        "--reason ...",
        extra={
            "event": "approval",
            "approval": a.id,
            "rule": a.rule,
            "target": a.target,
            "action": a.action,
            "blast_radius": a.blast_radius,
            "status": "pending",
        },
    )


def record_settled(
    s: ApprovalSettled, ledger: Ledger, notices: Notices, write: Write = write_now
) -> None:
    """An approval approved, denied or expired: who and why in the ledger and the log."""

    def resolve() -> None:
        record = ledger.approval(s.id)
        expires_at = record.expires_at if record is not None else s.at
        rows = notices.route(messages.approval_resolved(s, expires_at))
        ledger.resolve_approval(
            s.id, status=s.resolution, at=s.at, by=s.by, reason=s.reason, notices=rows
        )
        notices.written(rows)

    write("approval", resolve)
    who = f" by {s.by}" if s.by else ""
    log.warning(
        f"approval {s.id} for {s.action} on {s.target} {s.resolution}{who}: {s.reason}",
        extra={
            "event": "approval",
            "approval": s.id,
            "rule": s.rule,
            "target": s.target,
            "action": s.action,
            "status": s.resolution,
            "by": s.by,
            "reason": s.reason,
        },
    )


def pending(engine: Engine, now: float) -> list[dict[str, Any]]:
    """The approvals waiting for an answer, oldest first, as `remediator approvals --json` and
    `GET /api/v1/approvals` show them."""
    waiting = [a for a in engine.approvals.values() if not a.approved and now < a.expires_at]
    return [
        {
            "id": a.id,
            "target": a.target,
            "cluster_no": engine.state.cluster_no(a.target),
            "rule": a.rule,
            "action": a.action,
            "step": a.step,
            "blast_radius": blast_radius_of(a.action),
            "reason": a.reason,
            "requested_at": iso(a.requested_at),
            "expires_at": iso(a.expires_at),
        }
        for a in sorted(waiting, key=lambda a: a.requested_at)
    ]
