"""What the core tells the edges: decisions with reasons, and the work it asks them to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from remediator.core.rules import Evidence, blast_radius_of

Outcome = Literal["acted", "suppressed", "shadow", "awaiting_approval"]
TriggerKind = Literal["probe", "alert", "manual"]
RemediationOutcome = Literal["recovered", "not_recovered"]

# Suppression reasons, fixed by SPEC section 7.
SUPPRESSION_REASONS = (
    "cooldown",
    "budget",
    "breaker",
    "paused",
    "duplicate",
    "recovered",
    "not_corroborated",
    "cluster_busy",
    "fleet_limit",
    "mass_failure",
    "in_progress",
    # SPEC section 9: a ladder step that could not be taken.
    "no_unhealthy_node",
    "precheck_failed",
    # SPEC section 10: approvals (`approval_denied` is this project's).
    "awaiting_approval",
    "approval_expired",
    "approval_denied",
    # SPEC section 10: what operators already said.
    "silenced",
    "maintenance",
    # The cluster status could not be read before acting: no mutation is sent blind.
    "cluster_unknown",
)
ApprovalResolution = Literal["approved", "denied", "expired"]


@dataclass(frozen=True)
class Decision:
    """A rule tripped on a target, and this is what was decided, and why."""

    rule: str
    target: str
    outcome: Outcome
    reason: str
    detail: str
    at: float
    trigger: TriggerKind
    action: str
    episode: tuple[str, str] | None = None  # the alert episode, for alert triggers

    @property
    def blast_radius(self) -> str:
        """How far the decided action reaches (`tool` < `node` < `rolling` < `cluster`)."""
        return blast_radius_of(self.action) or ""


@dataclass(frozen=True)
class CheckFirst:
    """Before acting: look at the target afresh (when `probe`) and read its cluster status.

    `check` says which look (`tool`: the manager-tool probe; `cluster`: the cluster status
    itself); `action` is the step about to be taken, for which the driver also gathers what
    it needs (the unhealthy broker nodes for `restart_kafka_node`, NCP's pre-check for
    `rolling_restart`). The driver answers with a `PreflightResult` carrying the same `token`.
    """

    rule: str
    target: str
    cluster_no: str
    token: int
    probe: bool
    trigger: TriggerKind
    at: float
    action: str = ""
    check: Evidence = "tool"
    step: int = 0
    respect: bool = True


@dataclass(frozen=True)
class Act:
    """Send a signed action. Record the intent durably first; answer with an `ActionOutcome`."""

    rule: str
    target: str
    cluster_no: str
    action: str
    trigger: TriggerKind
    detected_at: float
    at: float
    fallback_of: str | None = None
    nodes: tuple[int, ...] = ()  # restart_kafka_node: the computeInstanceNos to restart
    step: int = 0  # the ladder step this action is

    @property
    def blast_radius(self) -> str:
        """How far the action reaches (`tool` < `node` < `rolling` < `cluster`)."""
        return blast_radius_of(self.action) or ""


@dataclass(frozen=True)
class Remediated:
    """The verified end of a remediation."""

    rule: str
    target: str
    action: str
    outcome: RemediationOutcome
    detail: str
    at: float


@dataclass(frozen=True)
class Escalated:
    """A ladder step ended without recovering the target; the next step is looked at next."""

    rule: str
    target: str
    action: str
    next_action: str
    detail: str
    at: float


@dataclass(frozen=True)
class BreakerChanged:
    """A (rule, target) breaker opened (restarts are not helping: escalate) or closed."""

    rule: str
    target: str
    open: bool
    detail: str
    at: float


@dataclass(frozen=True)
class ApprovalRequested:
    """A `mode: approve` rule asks a human before sending `action`: record it, and tell them."""

    id: str
    rule: str
    target: str
    cluster_no: str
    action: str
    step: int
    trigger: TriggerKind
    reason: str
    at: float
    expires_at: float

    @property
    def blast_radius(self) -> str:
        """How far the action would reach."""
        return blast_radius_of(self.action) or ""


@dataclass(frozen=True)
class ApprovalSettled:
    """A pending approval was approved or denied (`by` whom, and why), or expired."""

    id: str
    rule: str
    target: str
    cluster_no: str
    action: str
    resolution: ApprovalResolution
    by: str
    reason: str
    at: float


Output = (
    Decision
    | CheckFirst
    | Act
    | Remediated
    | Escalated
    | BreakerChanged
    | ApprovalRequested
    | ApprovalSettled
)
