"""What operators already said, as the look before acting found it: an Alertmanager silence or
a maintenance window that holds the target (SPEC section 10).

The driver asks (see `CheckFirst.respect`); every path to an action — a trip, a ladder's next
step, an operator's restart, an approved one — checks the answer here before its guards.
"""

from __future__ import annotations

from remediator.core.events import PreflightResult
from remediator.core.guardrails import Blocked


def respected(p: PreflightResult) -> Blocked | None:
    """`(reason, detail)` when a silence (`silenced`) or a maintenance window (`maintenance`)
    holds the target the look was for; else None."""
    if p.held is None:
        return None
    what = "an Alertmanager silence" if p.held == "silenced" else "a maintenance window"
    return p.held, p.held_detail or f"held by {what}"
