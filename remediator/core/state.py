"""The engine's memory: per-(rule, target) trigger state, per-target work, ledger views."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from remediator.core.decisions import TriggerKind

Phase = Literal["acting", "verifying"]


@dataclass
class RuleState:
    """What one rule remembers about one target."""

    window: deque[bool] = field(default_factory=deque)
    first_failure_at: float | None = None
    tripped: bool = False
    pending_token: int | None = None
    pending_trigger: TriggerKind = "probe"
    pending_episode: tuple[str, str] | None = None
    last_reason: str | None = None
    action_times: list[float] = field(default_factory=list)
    breaker_open: bool = False
    healthy_since: float | None = None
    last_outcome: str | None = None

    def last_action_at(self) -> float | None:
        return self.action_times[-1] if self.action_times else None

    def actions_within(self, now: float, window: float) -> int:
        return sum(1 for t in self.action_times if now - t < window)

    def reset_trip(self) -> None:
        self.window.clear()
        self.first_failure_at = None
        self.tripped = False
        self.pending_token = None
        self.pending_episode = None
        self.last_reason = None


@dataclass
class InFlight:
    """An action on a target that has been decided and is being sent or verified."""

    rule: str
    action: str
    phase: Phase
    decided_at: float
    grace_until: float = 0.0
    deadline: float = 0.0
    successes: int = 0
    fallback_used: bool = False
    trigger: TriggerKind = "probe"


@dataclass
class TargetState:
    """What the engine knows about one target."""

    last_ok: bool | None = None
    healthy_since: float | None = None
    in_flight: InFlight | None = None
    paused_until: float | None = None
    pause_reason: str = ""


@dataclass
class EpisodeState:
    """One Alertmanager alert episode `(fingerprint, startsAt)` and what became of it."""

    target: str
    final: bool = False
    resolved: bool = False
    duplicate_reported: bool = False
    last_reason: str | None = None
    last_seen: float = 0.0  # the last receipt; forgotten EPISODE_MEMORY after it


@dataclass(frozen=True)
class ActionRecord:
    """One action as the ledger holds it; the engine rebuilds its memory from these."""

    rule: str
    target: str
    action: str
    mode: str
    intent_at: float
    result: str | None = None
    outcome_at: float | None = None
    remediation: str | None = None


@dataclass(frozen=True)
class PauseRecord:
    """A maintenance pause as the ledger holds it (`target` None: every target)."""

    target: str | None
    until: float
    reason: str
