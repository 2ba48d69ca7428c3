"""What goes into the history (SPEC section 11): each decision, outcome and operator act as a
`HistoryEntry`, and who an operator is.

The driver writes the entries of every event it feeds the engine (suppressions once per trip,
as they are logged) before any action decided is sent; the operator commands write their acts.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Sequence
from typing import Any, assert_never

from remediator.core.decisions import (
    Act,
    ApprovalRequested,
    ApprovalSettled,
    BreakerChanged,
    CheckFirst,
    Decision,
    Escalated,
    Output,
    Remediated,
)
from remediator.core.events import ActionOutcome, Event
from remediator.core.rules import blast_radius_of
from remediator.errors import LedgerError
from remediator.store import Ledger
from remediator.store.history import ALL_TARGETS, HistoryEntry
from remediator.timetext import parse_since

log = logging.getLogger("remediator.runtime.daemon")


class HistoryWriter:
    """Writes each event's history to the ledger for the driver. A failing write is logged
    (once, until it works again) and never fails the event: the intent must not fail, the
    history may have a gap."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._failing = False

    def write(self, event: Event, outputs: Sequence[Output]) -> None:
        """Write the entries of `event` and what the engine made of it."""
        try:
            self.ledger.record_history(entries(event, outputs))
        except LedgerError as exc:  # a full disk, a lock held, a database down: no traceback
            if not self._failing:
                log.error(
                    f"could not write the history ({exc}); it has gaps from here (said once, "
                    "until it works again)",
                    extra={"event": "history"},
                )
            self._failing = True
        except Exception:
            if not self._failing:
                log.exception(
                    "could not write the history; it has gaps from here (said once, until it "
                    "works again)",
                    extra={"event": "history"},
                )
            self._failing = True
        else:
            self._failing = False


def entries(event: Event, outputs: Sequence[Output]) -> list[HistoryEntry]:
    """The history of one event fed to the engine: a signed call's result, and what came of it."""
    out: list[HistoryEntry] = []
    if isinstance(event, ActionOutcome):
        out.append(
            HistoryEntry(
                at=event.at,
                kind="action",
                target=event.target,
                rule=event.rule,
                outcome=event.result,
                action=event.action,
                blast_radius=blast_radius_of(event.action) or "",
                detail=event.detail,
            )
        )
    for o in outputs:
        match o:
            case Decision():
                out.append(
                    HistoryEntry(
                        at=o.at,
                        kind="decision",
                        target=o.target,
                        rule=o.rule,
                        outcome=o.outcome,
                        reason=o.reason,
                        action=o.action,
                        blast_radius=o.blast_radius,
                        detail=o.detail,
                    )
                )
            case Remediated():
                out.append(
                    HistoryEntry(
                        at=o.at,
                        kind="remediation",
                        target=o.target,
                        rule=o.rule,
                        outcome=o.outcome,
                        action=o.action,
                        blast_radius=blast_radius_of(o.action) or "",
                        detail=o.detail,
                    )
                )
            case Escalated():
                out.append(
                    HistoryEntry(
                        at=o.at,
                        kind="remediation",
                        target=o.target,
                        rule=o.rule,
                        outcome="escalated",
                        action=o.action,
                        blast_radius=blast_radius_of(o.action) or "",
                        detail=f"{o.detail}; next step {o.next_action}",
                    )
                )
            case BreakerChanged():
                out.append(
                    HistoryEntry(
                        at=o.at,
                        kind="breaker",
                        target=o.target,
                        rule=o.rule,
                        outcome="opened" if o.open else "closed",
                        detail=o.detail,
                    )
                )
            case CheckFirst() | Act():
                pass  # requests: the decision that led to them is the history
            case ApprovalRequested() | ApprovalSettled():
                pass  # the decisions around them (awaiting_approval, approval_expired or
                # approval_denied) and the operator's answer are the history
            case _:
                assert_never(o)
    return out


def operator_act(  # noqa: PLR0913 - an act's fields, by keyword
    act: str,
    target: str | None,
    *,
    actor: str,
    reason: str,
    at: float,
    action: str = "",
    detail: str = "",
) -> HistoryEntry:
    """An operator's pause, resume, restart, approve or deny (`target` None: every target)."""
    return HistoryEntry(
        at=at,
        kind="operator",
        target=target or ALL_TARGETS,
        outcome=act,
        reason=reason,
        action=action,
        blast_radius=blast_radius_of(action) or "",
        actor=actor or "unknown",
        detail=detail,
    )


def os_user() -> str:
    """Who runs this command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return "unknown user"


def cli_actor() -> str:
    """Who an operator command run on the ledger (no daemon) acts as: the OS user."""
    return f"{os_user()} (CLI on the ledger)"


def view(
    ledger: Ledger, target: str | None, since: str, limit: int, now: float
) -> list[dict[str, Any]]:
    """The history as `remediator history --json` and `/api/v1/history` show it, newest
    first; `since` as an operator writes it (see `timetext.parse_since`)."""
    start = parse_since(since, now)
    return [e.to_json() for e in ledger.history(target=target, since=start, limit=limit)]
