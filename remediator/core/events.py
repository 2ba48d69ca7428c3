"""What the edges tell the core: probe results, alerts, and the results of what it asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from remediator.core.rules import Evidence

AlertStatus = Literal["firing", "resolved"]
# `not_sent`: the driver did not send it at all (its intent could not be written to the ledger).
ActionResult = Literal["success", "failure", "unknown", "not_available", "not_sent"]
# What operators already said that holds an action (SPEC section 10): a silence, a window.
HoldReason = Literal["silenced", "maintenance"]


@dataclass(frozen=True)
class ProbeResult:
    """One look at a target; `reason` says why it failed (or "ok").

    `check` says what was looked at: `tool`, the manager tool's health URL, or `cluster`, the
    cluster's own status from CDSS. A look that is neither healthy nor failing — a cluster that
    is changing (an orange node), a status that could not be read — is `inconclusive`, and the
    engine counts it neither way.
    """

    target: str
    ok: bool
    reason: str
    at: float
    duration: float = 0.0
    check: Evidence = "tool"
    inconclusive: bool = False


@dataclass(frozen=True)
class AlertEvent:
    """One alert of an Alertmanager webhook, already mapped to a configured target."""

    target: str
    alertname: str
    status: AlertStatus
    fingerprint: str
    starts_at: str
    at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    starts_at_ts: float | None = None  # startsAt in epoch seconds, when it could be parsed

    @property
    def episode(self) -> tuple[str, str]:
        """The alert episode: one incident however many times Alertmanager re-sends it."""
        return (self.fingerprint, self.starts_at)


@dataclass(frozen=True)
class PreflightResult:
    """What the driver found when the engine asked it to look before acting (see `CheckFirst`)."""

    rule: str
    target: str
    token: int
    at: float
    probe: ProbeResult | None = None
    # Whether the cluster status showed it changing; None: it could not be read, and then no
    # step is taken (fail closed: a mutation is never sent blind — see `acting`).
    cluster_busy: bool | None = False
    cluster_detail: str = ""
    # restart_kafka_node: the computeInstanceNos of the brokers that are not green (None: not
    # looked up), and in words what the join of status and node list found.
    nodes: tuple[int, ...] | None = None
    nodes_detail: str = ""
    # rolling_restart: whether NCP's pre-check answered SUCCESS (None: not asked), and its words.
    precheck_ok: bool | None = None
    precheck_message: str = ""
    # An Alertmanager silence or a maintenance window holding the target (None: neither, or
    # not asked), and in words which one (the silence's id, author and comment).
    held: HoldReason | None = None
    held_detail: str = ""


@dataclass(frozen=True)
class ActionOutcome:
    """The result of a signed action the engine asked for (see `Act`)."""

    rule: str
    target: str
    action: str
    result: ActionResult
    at: float
    detail: str = ""


@dataclass(frozen=True)
class Tick:
    """Time has passed; lets verification time out and breakers close without other events."""

    at: float


@dataclass(frozen=True)
class Pause:
    """Hold every action on `target` (or on all targets when None) until `until`."""

    target: str | None
    until: float
    reason: str
    at: float


@dataclass(frozen=True)
class Resume:
    """Lift a pause on `target` (all when None); optionally close its breakers."""

    target: str | None
    at: float
    reset_breaker: bool = False


@dataclass(frozen=True)
class ManualRestart:
    """An operator asks for a restart (`remediator restart`), through the same guards."""

    target: str
    action: str
    reason: str
    at: float
    force: bool = False  # skip the cooldown
    reset_breaker: bool = False  # close the target's breakers first
    dry_run: bool = False  # decide and record, never send
    allow_fallback: bool = False  # may fall back to a wider blast radius than `action`


@dataclass(frozen=True)
class ApprovalAnswer:
    """A human's answer to a pending approval (`remediator approve|deny ID --reason`)."""

    id: str
    approve: bool
    by: str
    reason: str
    at: float


Event = (
    ProbeResult
    | AlertEvent
    | PreflightResult
    | ActionOutcome
    | Tick
    | Pause
    | Resume
    | ManualRestart
    | ApprovalAnswer
)
