"""The ledger as the daemon's parts see it: they speak steady time, the ledger keeps wall time.

The daemon decides on a `SteadyClock` (the wall time at its start, advanced by the monotonic
clock); what it writes down is wall time, so that history reads right and a restarted daemon
— whose steady time begins at the wall time of its own start — finds cooldowns where they
were. Each time going in is converted with the wall clock's step at that moment, and each
time coming out (restoring the engine's memory) with the step now.

A method added to the `Ledger` later passes through unconverted (`__getattr__`): its times are
then steady time, which is wall time until the wall clock steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from remediator.clock import SteadyClock
from remediator.core.events import AlertEvent
from remediator.core.state import ActionRecord, ApprovalRecord, PauseRecord
from remediator.store import Ledger, LedgerAction
from remediator.store.history import HistoryEntry
from remediator.store.outbox import OutboxEntry


class WallTimeLedger:
    """`ledger`, with times converted between `clock`'s steady time and wall time."""

    def __init__(self, ledger: Ledger, clock: SteadyClock) -> None:
        self.ledger = ledger
        self.clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def _wall(self, at: float) -> float:
        return self.clock.to_wall(at)

    def _steady(self, at: float) -> float:
        return self.clock.from_wall(at)

    def _record(self, rec: ActionRecord) -> ActionRecord:
        outcome = None if rec.outcome_at is None else self._steady(rec.outcome_at)
        return replace(rec, intent_at=self._steady(rec.intent_at), outcome_at=outcome)

    # -- writes: steady in, wall on disk -------------------------------------------------

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
        return self.ledger.record_intent(
            rule=rule,
            target=target,
            cluster_no=cluster_no,
            action=action,
            mode=mode,
            trigger=trigger,
            at=self._wall(at),
            detail=detail,
            step=step,
            nodes=nodes,
            notices=notices,
        )

    def record_outcome(
        self, action_id: int, *, result: str, at: float, request_id: str | None, detail: str
    ) -> None:
        self.ledger.record_outcome(
            action_id, result=result, at=self._wall(at), request_id=request_id, detail=detail
        )

    def record_fallback(
        self,
        action_id: int,
        *,
        action: str,
        at: float,
        detail: str,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        self.ledger.record_fallback(
            action_id, action=action, at=self._wall(at), detail=detail, notices=notices
        )

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
        self.ledger.record_remediation(
            rule=rule,
            target=target,
            outcome=outcome,
            at=self._wall(at),
            detail=detail,
            notices=notices,
        )

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
        self.ledger.record_breaker(
            rule=rule, target=target, open=open, at=self._wall(at), detail=detail, notices=notices
        )

    def record_pause(
        self,
        *,
        target: str | None,
        until: float,
        reason: str,
        at: float,
        notices: Sequence[OutboxEntry] = (),
    ) -> None:
        self.ledger.record_pause(
            target=target,
            until=self._wall(until),
            reason=reason,
            at=self._wall(at),
            notices=notices,
        )

    def clear_pause(
        self, *, target: str | None, at: float, notices: Sequence[OutboxEntry] = ()
    ) -> None:
        self.ledger.clear_pause(target=target, at=self._wall(at), notices=notices)

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
        self.ledger.record_approval(
            id=id,
            rule=rule,
            target=target,
            cluster_no=cluster_no,
            action=action,
            step=step,
            trigger=trigger,
            reason=reason,
            at=self._wall(at),
            expires_at=self._wall(expires_at),
            notices=notices,
        )

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
        self.ledger.resolve_approval(
            id, status=status, at=self._wall(at), by=by, reason=reason, notices=notices
        )

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        self.ledger.record_history([replace(e, at=self._wall(e.at)) for e in entries])

    def sweep_history(self, before: float) -> int:
        return self.ledger.sweep_history(self._wall(before))

    def record_alerts(self, alerts: list[AlertEvent], at: float) -> list[bool]:
        # startsAt came from Alertmanager as wall time (the intake made it steady).
        walls = [
            replace(
                a,
                at=self._wall(a.at),
                starts_at_ts=None if a.starts_at_ts is None else self._wall(a.starts_at_ts),
            )
            for a in alerts
        ]
        return self.ledger.record_alerts(walls, self._wall(at))

    def mark_episode_decided(self, fingerprint: str, starts_at: str, at: float) -> None:
        self.ledger.mark_episode_decided(fingerprint, starts_at, self._wall(at))

    def forget_episodes(self, before: float) -> int:
        return self.ledger.forget_episodes(self._wall(before))

    def touch(self, at: float) -> None:
        self.ledger.touch(self._wall(at))

    # -- reads for the engine's memory: wall on disk, steady out -------------------------

    def pending_alerts(self, since: float) -> list[AlertEvent]:
        return [
            replace(
                a,
                at=self._steady(a.at),
                starts_at_ts=None if a.starts_at_ts is None else self._steady(a.starts_at_ts),
            )
            for a in self.ledger.pending_alerts(self._wall(since))
        ]

    def settled_episodes(self, since: float) -> list[tuple[str, str, str, float]]:
        return [
            (fingerprint, starts_at, target, self._steady(seen))
            for fingerprint, starts_at, target, seen in self.ledger.settled_episodes(
                self._wall(since)
            )
        ]

    def actions_since(self, since: float) -> list[ActionRecord]:
        return [self._record(r) for r in self.ledger.actions_since(self._wall(since))]

    def unfinished_actions(self) -> list[ActionRecord]:
        return [self._record(r) for r in self.ledger.unfinished_actions()]

    def approvals_since(self, since: float) -> list[ApprovalRecord]:
        return [self._approval(a) for a in self.ledger.approvals_since(self._wall(since))]

    def approval(self, id: str) -> ApprovalRecord | None:
        found = self.ledger.approval(id)
        return None if found is None else self._approval(found)

    def _approval(self, a: ApprovalRecord) -> ApprovalRecord:
        resolved = None if a.resolved_at is None else self._steady(a.resolved_at)
        return replace(
            a,
            requested_at=self._steady(a.requested_at),
            expires_at=self._steady(a.expires_at),
            resolved_at=resolved,
        )

    def active_pauses(self, now: float) -> list[PauseRecord]:
        return [
            replace(p, until=self._steady(p.until))
            for p in self.ledger.active_pauses(self._wall(now))
        ]

    # -- reads for people: wall time, as written -------------------------------------------

    def history(
        self, *, target: str | None = None, since: float, limit: int = 1000
    ) -> list[HistoryEntry]:
        return self.ledger.history(target=target, since=self._wall(since), limit=limit)

    def recent_actions(self, limit: int = 20) -> list[LedgerAction]:
        return self.ledger.recent_actions(limit)

    def actions_without_outcome(self) -> list[LedgerAction]:
        return self.ledger.actions_without_outcome()

    def open_breakers(self) -> list[tuple[str, str]]:
        return self.ledger.open_breakers()

    def close(self) -> None:
        self.ledger.close()
