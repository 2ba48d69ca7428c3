"""The engine's memory: per-(rule, target) trigger state, per-target work, ledger views."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from remediator.core.decisions import TriggerKind
from remediator.core.rules import Evidence, Policy, Rule

# `escalating`: a ladder step ended without recovery; the next step waits for its look.
Phase = Literal["acting", "verifying", "escalating"]
# A denied or expired approval holds its (rule, target) with one of these reasons.
DeclinedReason = Literal["approval_denied", "approval_expired"]
MANUAL = "manual"  # the rule name of operator-requested restarts


@dataclass
class RuleState:
    """What one rule remembers about one target."""

    window: deque[bool] = field(default_factory=deque)
    first_failure_at: float | None = None
    tripped: bool = False
    pending_token: int | None = None
    pending_trigger: TriggerKind = "probe"
    pending_episode: tuple[str, str] | None = None
    pending_step: int = 0  # the ladder step the look asked for is for
    last_reason: str | None = None
    action_times: list[float] = field(default_factory=list)  # every step sent: the budget
    started_times: list[float] = field(default_factory=list)  # each remediation: the cooldown
    breaker_open: bool = False
    healthy_since: float | None = None
    last_outcome: str | None = None

    def last_action_at(self) -> float | None:
        """When this rule's last remediation of this target began (its cooldown's start)."""
        return self.started_times[-1] if self.started_times else None

    def actions_within(self, now: float, window: float) -> int:
        """How many of its actions fall in the `window` seconds before `now`."""
        return sum(1 for t in self.action_times if now - t < window)

    def reset_trip(self) -> None:
        """End the current trip: forget the window, the look asked for and the episode."""
        self.window.clear()
        self.first_failure_at = None
        self.tripped = False
        self.pending_token = None
        self.pending_episode = None
        self.pending_step = 0
        self.last_reason = None


@dataclass(frozen=True)
class Charge:
    """What deciding a step spent (at `at`), so that a step never sent can give it back."""

    at: float
    started: bool  # it began the remediation: its cooldown
    prior_action_at: float | None  # the target's last action before it
    prior_sent_any: bool


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
    step: int = 0  # the rule's ladder step being taken
    started_at: float = 0.0  # when the remediation's first step was decided
    sent_any: bool = True  # whether a step of this remediation was sent (False: none taken yet)
    green_needed: bool = False  # a rolling restart: recovered only once every broker is green
    green_seen: bool = False
    look_again_at: float = 0.0  # escalating: when to look again after a guard held the step
    charge: Charge | None = None  # what the step being sent spent
    detected_at: float = 0.0  # the first failing signal of the incident (for its metric)
    # Whether the step's call may never have reached CDSS (its outcome is unknown: a timeout,
    # or a daemon stopped between the intent and the result): its verification says so.
    unknown: bool = False
    waited: str = ""  # why the step waits to be taken again (it was not sent)


@dataclass
class TargetState:
    """What the engine knows about one target: its manager tool's health (`last_ok`,
    `healthy_since`) and its cluster's (`cluster_ok`, `cluster_healthy_since`)."""

    last_ok: bool | None = None
    healthy_since: float | None = None
    in_flight: InFlight | None = None
    paused_until: float | None = None
    pause_reason: str = ""
    cluster_ok: bool | None = None
    cluster_healthy_since: float | None = None

    def ok(self, check: Evidence) -> bool | None:
        """The last look of kind `check` was healthy (None: none yet)."""
        return self.cluster_ok if check == "cluster" else self.last_ok

    def healthy_since_of(self, check: Evidence) -> float | None:
        """Since when the looks of kind `check` have been healthy (None: they are not)."""
        return self.cluster_healthy_since if check == "cluster" else self.healthy_since

    def saw(self, check: Evidence, ok: bool, at: float) -> None:
        """Record one look of kind `check`."""
        since = self.healthy_since_of(check)
        if ok and self.ok(check) is not True:
            since = at
        elif not ok:
            since = None
        if check == "cluster":
            self.cluster_ok, self.cluster_healthy_since = ok, since
        else:
            self.last_ok, self.healthy_since = ok, since


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
    remediation: str | None = None  # recovered, not_recovered, or escalated (a ladder went on)
    step: int = 0  # the rule's ladder step


@dataclass(frozen=True)
class PauseRecord:
    """A maintenance pause as the ledger holds it (`target` None: every target)."""

    target: str | None
    until: float
    reason: str


@dataclass
class PendingApproval:
    """A step of a `mode: approve` rule that waits for a human's yes (`approved` False), or has
    it and waits for the look before acting that spends it (see `core.approval`)."""

    id: str
    rule: str
    target: str
    action: str
    step: int
    trigger: TriggerKind
    reason: str
    requested_at: float
    expires_at: float
    detected_at: float
    approved: bool = False


@dataclass(frozen=True)
class Declined:
    """A denied or expired approval: its (rule, target) is not asked again until `until`."""

    reason: DeclinedReason
    detail: str
    until: float


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval as the ledger holds it (`status`: pending, approved, denied or expired)."""

    id: str
    rule: str
    target: str
    action: str
    step: int
    trigger: str
    reason: str
    requested_at: float
    expires_at: float
    status: str = "pending"
    resolved_at: float | None = None
    resolved_by: str = ""
    resolution: str = ""  # the human's reason (or why it expired)


@dataclass
class EngineState:
    """Everything the engine remembers, and the policy it decides with.

    The concern modules take it and change it; only `Engine` holds one across events.
    """

    policy: Policy
    rules: dict[str, Rule] = field(init=False)
    targets: dict[str, TargetState] = field(init=False)
    rule_states: dict[tuple[str, str], RuleState] = field(init=False)
    fleet_action_times: list[float] = field(default_factory=list)
    all_paused_until: float | None = None
    all_pause_reason: str = ""
    episodes: dict[tuple[str, str], EpisodeState] = field(default_factory=dict)
    episodes_swept_at: float = -math.inf
    last_action_at: dict[str, float] = field(default_factory=dict)
    manual_rules: dict[str, Rule] = field(default_factory=dict)
    manual_reasons: dict[str, str] = field(default_factory=dict)
    wake_at: float = -math.inf  # when `verification.expire` next has something to do
    # Targets whose ladder waits for the look before its next step, and from when.
    looks_due: dict[str, float] = field(default_factory=dict)
    next_token: int = 1
    # mode: approve — at most one approval per target, by target; and the (rule, target)s a
    # denied or expired approval holds for a while.
    approvals: dict[str, PendingApproval] = field(default_factory=dict)
    declined: dict[tuple[str, str], Declined] = field(default_factory=dict)

    def __post_init__(self) -> None:
        policy = self.policy
        self.rules = {r.name: r for r in policy.rules}
        self.targets = {t.name: TargetState() for t in policy.targets}
        self.rule_states = {
            (r.name, t.name): RuleState() for t in policy.targets for r in policy.rules_for(t.name)
        }

    def rule(self, name: str, target: str) -> Rule | None:
        """A configured rule, or the target's synthetic `manual` rule once there is one."""
        return self.manual_rules.get(target) if name == MANUAL else self.rules.get(name)

    def cluster_no(self, target: str) -> str:
        """The CDSS cluster number of `target` ("" for an unknown target)."""
        ref = self.policy.target(target)
        return ref.cluster_no if ref else ""

    def paused(self, target: str, now: float) -> tuple[bool, str]:
        """Whether `target` is paused at `now`, and why."""
        ts = self.targets[target]
        if ts.paused_until is not None and now < ts.paused_until:
            return True, ts.pause_reason
        if self.all_paused_until is not None and now < self.all_paused_until:
            return True, self.all_pause_reason
        return False, ""

    def pause(self, target: str | None, until: float, reason: str) -> None:
        """Hold `target` (every target when None) until `until`."""
        self.wake(until)
        if target is None:
            self.all_paused_until, self.all_pause_reason = until, reason
        elif target in self.targets:
            self.targets[target].paused_until = until
            self.targets[target].pause_reason = reason

    def wake(self, at: float) -> None:
        """Have `verification.expire` look again at `at` (a deadline or a pause's end)."""
        self.wake_at = min(self.wake_at, at)

    def take_token(self) -> int:
        """A fresh token for a `CheckFirst` (a counter, so that a replay matches a recording)."""
        token = self.next_token
        self.next_token += 1
        return token
