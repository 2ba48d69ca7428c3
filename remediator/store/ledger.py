"""The ledger's interface: what the daemon and the operator commands need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from remediator.core.events import AlertEvent
from remediator.core.state import ActionRecord, ApprovalRecord, PauseRecord
from remediator.store.history import HistoryEntry
from remediator.store.outbox import OutboxEntry, PendingNotification


@dataclass(frozen=True)
class LedgerAction:
    """An action row with its id and the details the status view shows."""

    id: int
    record: ActionRecord
    cluster_no: str
    trigger: str
    request_id: str | None
    detail: str


class Ledger(Protocol):
    """What the daemon and the operator commands need from durable storage.

    A write that fails raises `errors.LedgerError` and leaves nothing of itself behind.

    `notices` are notifications (SPEC section 10) written into the outbox in the same
    transaction as the record that causes them: they exist exactly when their cause does.
    """

    def record_intent(  # noqa: PLR0913 - one keyword per column of the intent row
        self,
        *,
        rule: str,
        target: str,
        cluster_no: str,
        action: str,
        mode: str,
        trigger: str,
        at: float,
        detail: str = "",
        step: int = 0,
        nodes: Sequence[int] = (),
        notices: Sequence[OutboxEntry] = (),
    ) -> int:
        """Write the intent durably before the call; returns the action id.

        `step` is the action's place in its rule's ladder; `nodes` the computeInstanceNos a
        per-node restart names."""
        ...

    def record_outcome(
        self, action_id: int, *, result: str, at: float, request_id: str | None, detail: str
    ) -> None:
        """Write what the call did."""
        ...

    def record_fallback(
        self,
        action_id: int,
        *,
        action: str,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """The action was not available: the same remediation goes on with `action`."""
        ...

    def record_remediation(  # noqa: PLR0913 - the row's columns, by keyword
        self,
        *,
        rule: str,
        target: str,
        outcome: str,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """Close the latest open remediation of (rule, target) with its verified outcome."""
        ...

    def record_breaker(  # noqa: PLR0913 - the row's columns, by keyword
        self,
        *,
        rule: str,
        target: str,
        open: bool,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """Remember a breaker opening or closing."""
        ...

    def record_pause(
        self,
        *,
        target: str | None,
        until: float,
        reason: str,
        at: float,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """Store a maintenance pause (`target` None: all targets)."""
        ...

    def clear_pause(
        self, *, target: str | None, at: float, notices: Sequence[OutboxEntry] = ()
    ) -> None:
        """Lift a pause (`target` None: the all-targets pause and every target's)."""
        ...

    def record_alerts(self, alerts: list[AlertEvent], at: float) -> list[bool]:
        """Durably record webhook alerts; per alert, whether it is news (not a re-send)."""
        ...

    def mark_episode_decided(self, fingerprint: str, starts_at: str, at: float) -> None:
        """The engine has settled this episode: a re-send is a duplicate, even after a restart."""
        ...

    def pending_alerts(self, since: float) -> list[AlertEvent]:
        """Firing episodes seen since `since` but not yet settled (e.g. a crash after the 200)."""
        ...

    def settled_episodes(self, since: float) -> list[tuple[str, str, str, float]]:
        """(fingerprint, startsAt, target, last seen) of episodes settled or resolved, seen
        since `since`."""
        ...

    def forget_episodes(self, before: float) -> int:
        """Delete the episodes last seen before `before`; how many there were."""
        ...

    def actions_since(self, since: float) -> list[ActionRecord]:
        """Every action whose intent is at or after `since`, oldest first."""
        ...

    def unfinished_actions(self) -> list[ActionRecord]:
        """Every enforce-mode action with no recorded remediation, however old."""
        ...

    def actions_without_outcome(self) -> list[LedgerAction]:
        """Enforce-mode actions whose intent is recorded and whose call's result is not (a
        daemon stopped between the two), oldest first."""
        ...

    def recent_actions(self, limit: int = 20) -> list[LedgerAction]:
        """The newest actions, newest first."""
        ...

    def open_breakers(self) -> list[tuple[str, str]]:
        """The (rule, target) pairs whose breaker is open."""
        ...

    def active_pauses(self, now: float) -> list[PauseRecord]:
        """Pauses that have not expired or been lifted."""
        ...

    # -- approvals (see store/approvals.py) --------------------------------------------------

    def record_approval(  # noqa: PLR0913 - one keyword per column of the approval row
        self,
        *,
        id: str,
        rule: str,
        target: str,
        cluster_no: str,
        action: str,
        step: int,
        trigger: str,
        reason: str,
        at: float,
        expires_at: float,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """A pending approval, with its `approval_requested` notification."""
        ...

    def resolve_approval(  # noqa: PLR0913 - the resolution's columns, by keyword
        self,
        id: str,
        *,
        status: str,
        at: float,
        by: str,
        reason: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        """Settle a pending approval (approved, denied, expired), with its notification."""
        ...

    def approvals_since(self, since: float) -> list[ApprovalRecord]:
        """Every approval still pending, and every one asked for at or after `since`."""
        ...

    def approval(self, id: str) -> ApprovalRecord | None:
        """The approval called `id`, whatever became of it."""
        ...

    # -- the notification outbox (see store/outbox.py) --------------------------------------

    def enqueue(self, notices: Sequence[OutboxEntry]) -> None:
        """Write notifications whose cause the ledger does not record (in their own transaction)."""
        ...

    def due_notifications(self, limit: int = 500) -> list[PendingNotification]:
        """Pending notifications, by sink and in the order they were made (due or not)."""
        ...

    def notification_sent(self, id: str, sink: str, *, at: float, attempts: int) -> None:
        """The receiver took it."""
        ...

    def notification_retry(
        self, id: str, sink: str, *, attempts: int, next_at: float, error: str
    ) -> None:
        """It failed in a way worth retrying: try again at `next_at`."""
        ...

    def notification_failed(
        self, id: str, sink: str, *, at: float, attempts: int, error: str
    ) -> None:
        """Given up: refused, or retried for `give_up_after`."""
        ...

    def pending_notifications(self) -> int:
        """How many notifications wait to be sent."""
        ...

    def forget_notifications(self, before: float) -> int:
        """Delete the notifications sent or given up before `before`; how many there were."""
        ...

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Write decisions, outcomes or operator acts to the history, durably, at once."""
        ...

    def history(
        self, *, target: str | None = None, since: float, limit: int = 1000
    ) -> list[HistoryEntry]:
        """The history since `since`, newest first (for `target` and acts on every target)."""
        ...

    def sweep_history(self, before: float) -> int:
        """Forget the history older than `before`; how many entries went."""
        ...

    def touch(self, at: float) -> None:
        """Write a heartbeat: LedgerError unless the ledger takes writes now."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...
