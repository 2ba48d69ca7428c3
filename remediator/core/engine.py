"""The decision engine: `Engine.handle(event, now)` says what to do and why, and does nothing.

The flow for one incident:

    ProbeResult / AlertEvent ─> trigger trips ─> local guards ─> CheckFirst ─> PreflightResult
        ─> fresh probe, cluster status, local guards again ─> Decision + Act
        ─> ActionOutcome ─> verifying ─> ProbeResults / Tick ─> Remediated (─> BreakerChanged)

A rule's ladder (`actions: [...]`) goes on from a step that ended `not_recovered` or could not
be taken to the next (`Escalated`, a fresh look, the guards again) as one remediation.

Every trip ends in a `Decision`; a suppression with the same reason is not repeated while the
trip lasts, so logs and counters see it once. The engine holds the state and dispatches; each
concern (probes, alerts, acting, verification, manual, restore) is a module of functions that
take the `EngineState` and return their outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import assert_never

from remediator.core import approval as approvals
from remediator.core import restore as restoring
from remediator.core.acting import on_preflight
from remediator.core.alerts import forget_old_episodes, on_alert
from remediator.core.decisions import Output
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    ApprovalAnswer,
    Event,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.ladder import ask_due_looks
from remediator.core.manual import on_manual, on_resume
from remediator.core.probes import on_probe
from remediator.core.rules import Policy
from remediator.core.state import (
    ActionRecord,
    ApprovalRecord,
    EngineState,
    EpisodeState,
    PauseRecord,
    PendingApproval,
    RuleState,
    TargetState,
)
from remediator.core.verification import expire, on_outcome


class Engine:
    """A pure state machine over a `Policy`: the driver feeds events and carries out outputs."""

    def __init__(self, policy: Policy) -> None:
        self.state = EngineState(policy)

    # -- what the edges read -------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        """The policy this engine decides with."""
        return self.state.policy

    @property
    def targets(self) -> Mapping[str, TargetState]:
        """What the engine knows about each configured target."""
        return self.state.targets

    @property
    def rule_states(self) -> Mapping[tuple[str, str], RuleState]:
        """What each rule remembers about each target, by (rule, target)."""
        return self.state.rule_states

    @property
    def episodes(self) -> Mapping[tuple[str, str], EpisodeState]:
        """The alert episodes remembered, by (fingerprint, startsAt)."""
        return self.state.episodes

    @property
    def last_action_at(self) -> Mapping[str, float]:
        """When each target was last acted on (shadow decisions excluded)."""
        return self.state.last_action_at

    @property
    def fleet_action_times(self) -> list[float]:
        """When the actions of the last hour were decided, for the fleet limits."""
        return self.state.fleet_action_times

    def paused(self, target: str, now: float) -> tuple[bool, str]:
        """Whether `target` is paused at `now`, and why."""
        return self.state.paused(target, now)

    @property
    def approvals(self) -> Mapping[str, PendingApproval]:
        """The open approvals (at most one per target), by target."""
        return self.state.approvals

    # -- restoring from the ledger -------------------------------------------------------

    def restore(  # noqa: PLR0913 - one keyword per kind of ledger record
        self,
        actions: Iterable[ActionRecord],
        *,
        breakers: Iterable[tuple[str, str]] = (),
        pauses: Iterable[PauseRecord] = (),
        decided_episodes: Iterable[tuple[str, str, str, float]] = (),
        approvals: Iterable[ApprovalRecord] = (),
        now: float,
    ) -> None:
        """Rebuild memory from the ledger (see `core.restore.restore`)."""
        restoring.restore(
            self.state,
            actions,
            breakers=breakers,
            pauses=pauses,
            decided_episodes=decided_episodes,
            approvals=approvals,
            now=now,
        )

    def adopt(self, old: Engine) -> None:
        """Take over what the previous config's engine saw live (see `core.restore.adopt`)."""
        restoring.adopt(self.state, old.state)

    # -- the one entry point -------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Output]:
        """Feed one event; returns the decisions taken and the work asked of the driver."""
        state = self.state
        out = expire(state, now)
        if state.approvals:
            out += approvals.expire(state, now)
        forget_old_episodes(state, now)
        match event:
            case ProbeResult():
                out += on_probe(state, event, now)
            case AlertEvent():
                out += on_alert(state, event, now)
            case PreflightResult():
                out += on_preflight(state, event, now)
            case ActionOutcome():
                out += on_outcome(state, event, now)
            case Pause():
                state.pause(event.target, event.until, event.reason)
            case Resume():
                out += on_resume(state, event, now)
            case ManualRestart():
                out += on_manual(state, event, now)
            case ApprovalAnswer():
                out += approvals.on_answer(state, event, now)
            case Tick():
                pass
            case _:
                assert_never(event)
        if state.looks_due:
            out += ask_due_looks(state, now)
        return out
