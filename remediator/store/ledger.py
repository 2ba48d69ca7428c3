"""The ledger's interface: what the daemon and the operator commands need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from remediator.core.events import AlertEvent
from remediator.core.state import ActionRecord, PauseRecord


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
    """

    def record_intent(
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

    def record_fallback(self, action_id: int, *, action: str, at: float, detail: str) -> None:
        """The action was not available: the same remediation goes on with `action`."""
        ...

    def record_remediation(
        self, *, rule: str, target: str, outcome: str, at: float, detail: str
    ) -> None:
        """Close the latest open remediation of (rule, target) with its verified outcome."""
        ...

    def record_breaker(self, *, rule: str, target: str, open: bool, at: float, detail: str) -> None:
        """Remember a breaker opening or closing."""
        ...

    def record_pause(self, *, target: str | None, until: float, reason: str, at: float) -> None:
        """Store a maintenance pause (`target` None: all targets)."""
        ...

    def clear_pause(self, *, target: str | None, at: float) -> None:
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

    def touch(self, at: float) -> None:
        """Write a heartbeat: LedgerError unless the ledger takes writes now."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...
