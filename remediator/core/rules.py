"""What the operator configured, as the core sees it: targets, rules, guardrails (all frozen).

It also says what each action does and how far it reaches (SPEC section 9), in the words that
`check`, `status`, `explain`, the logs and notifications use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Literal

ActionName = Literal[
    "restart_cmak", "restart_kafka_node", "rolling_restart", "restart_kafka", "restart_all_services"
]
ACTIONS: tuple[ActionName, ...] = (
    "restart_cmak",
    "restart_kafka_node",
    "rolling_restart",
    "restart_kafka",
    "restart_all_services",
)
# enforce: act; shadow: decide and record, never call; approve: ask a human first (SPEC §10).
Mode = Literal["enforce", "shadow", "approve"]
DEFAULT_APPROVAL_TIMEOUT = 1800.0
BlastRadius = Literal["tool", "node", "rolling", "cluster"]
BLAST_RADII: tuple[BlastRadius, ...] = ("tool", "node", "rolling", "cluster")  # narrowest first
DEFAULT_MAX_BLAST_RADIUS: BlastRadius = "rolling"
Evidence = Literal["tool", "cluster"]


@dataclass(frozen=True)
class Remedy:
    """What one action does: its blast radius, and the same in words for operators."""

    blast_radius: BlastRadius
    effect: str  # what the action does, as a verb phrase: "restarts ..."
    impact: str | None = None  # what the operator sees happen, when the radius alone does not say
    caveat: str | None = None


REMEDIES: Mapping[ActionName, Remedy] = MappingProxyType(
    {
        "restart_cmak": Remedy("tool", "restarts CMAK only", caveat="withdrawn by NCP"),
        "restart_kafka_node": Remedy(
            "node",
            "restarts Kafka on the broker nodes that are not green",
            "Kafka restarts on the broker nodes that are not green, never a green one",
        ),
        "rolling_restart": Remedy(
            "rolling",
            "restarts the brokers one at a time, after NCP's pre-check",
            "brokers restart one at a time, after NCP's pre-check",
        ),
        "restart_kafka": Remedy(
            "cluster", "restarts Kafka on every broker at once", "every broker restarts at once"
        ),
        "restart_all_services": Remedy(
            "cluster",
            "restarts every broker and ZooKeeper at once",
            "every broker and ZooKeeper restart at once",
        ),
    }
)
BLAST_RADIUS: Mapping[ActionName, BlastRadius] = MappingProxyType(
    {action: remedy.blast_radius for action, remedy in REMEDIES.items()}
)


def exceeds(radius: BlastRadius, limit: BlastRadius) -> bool:
    """Whether `radius` reaches further than `limit` (tool < node < rolling < cluster)."""
    return BLAST_RADII.index(radius) > BLAST_RADII.index(limit)


def widest(radii: Iterable[BlastRadius]) -> BlastRadius:
    """The furthest-reaching of `radii` (`tool` when there are none)."""
    return max(radii, key=BLAST_RADII.index, default="tool")


def action_effect(action: ActionName) -> str:
    """What `action` does, e.g. `restarts every broker and ZooKeeper at once`."""
    remedy = REMEDIES[action]
    return remedy.effect + (f" ({remedy.caveat})" if remedy.caveat else "")


def blast_radius_of(action: str) -> BlastRadius | None:
    """The blast radius of an action by name (None for a name that is no action)."""
    for name, radius in BLAST_RADIUS.items():
        if name == action:
            return radius
    return None


def action_summary(action: ActionName) -> str:
    """`action` with its blast radius and impact, e.g. `restart_cmak (tool; withdrawn by NCP)`."""
    remedy = REMEDIES[action]
    words = remedy.blast_radius + (f": {remedy.impact}" if remedy.impact else "")
    return f"{action} ({words}{f'; {remedy.caveat}' if remedy.caveat else ''})"


# What a manual `restart_cmak` falls back to, with the operator's consent (`--allow-fallback`).
MANUAL_FALLBACK: Mapping[ActionName, ActionName] = MappingProxyType(
    {"restart_cmak": "restart_all_services"}
)


def manual_plan(action: ActionName, *, allow_fallback: bool, dry_run: bool = False) -> str:
    """What a manual restart will send, and how far it reaches, before it is sent."""
    verb = "would send" if dry_run else "will send"
    text = f"{verb} {action_summary(action)}"
    fallback = MANUAL_FALLBACK.get(action)
    if fallback is not None:
        if allow_fallback:
            text += f"; if NCP refuses it (withdrawn), falls back to {action_summary(fallback)}"
        else:
            text += (
                f"; if NCP refuses it (withdrawn), nothing else is sent (--allow-fallback "
                f"would fall back to {action_summary(fallback)})"
            )
    return text


@dataclass(frozen=True)
class ProbeTrigger:
    """Trip when at least `failures` of the last `of` looks failed; `check` says which looks.

    `tool` is the manager-tool probe of the target's `health:`; `cluster` is its CDSS cluster
    status (`cluster_health:`).
    """

    failures: int
    of: int
    check: Evidence = "tool"


@dataclass(frozen=True)
class AlertTrigger:
    """Trip on a firing Alertmanager alert with this name and these labels."""

    alertname: str
    labels: tuple[tuple[str, str], ...] = ()
    corroborate: bool = False

    def matches(self, alertname: str, labels: Mapping[str, str]) -> bool:
        """Whether an alert with `alertname` and `labels` is one this trigger listens for."""
        return alertname == self.alertname and all(labels.get(k) == v for k, v in self.labels)


Trigger = ProbeTrigger | AlertTrigger


@dataclass(frozen=True)
class Budget:
    """At most `max` actions per (rule, target) in any window of `per` seconds."""

    max: int = 3
    per: float = 6 * 3600.0


@dataclass(frozen=True)
class Verify:
    """Recovered once `successes` consecutive healthy probes follow `grace`, within `timeout`."""

    grace: float = 120.0
    successes: int = 2
    timeout: float = 600.0


@dataclass(frozen=True)
class Rule:
    """One remediation rule: its trigger, its ladder of actions and the limits on them."""

    name: str
    targets: tuple[str, ...]
    trigger: Trigger
    action: ActionName
    fallback_action: ActionName | None = None
    cooldown: float = 900.0
    budget: Budget = field(default_factory=Budget)
    verify: Verify = field(default_factory=Verify)
    mode: Mode = "enforce"
    then: tuple[ActionName, ...] = ()  # a ladder's steps after `action`, tried in order
    max_blast_radius: BlastRadius = DEFAULT_MAX_BLAST_RADIUS
    approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT  # mode approve: a pending one expires

    @property
    def steps(self) -> tuple[ActionName, ...]:
        """The ladder: `action`, then the steps of `then`."""
        return (self.action, *self.then)

    @property
    def remedies(self) -> tuple[ActionName, ...]:
        """Every action the rule may send, in order: its steps, then its fallback."""
        fallback = () if self.fallback_action is None else (self.fallback_action,)
        return (*self.steps, *fallback)

    @property
    def evidence(self) -> Evidence:
        """What the rule looks at: its probe trigger's `check`; the manager tool for alerts.

        The fresh look before acting, verification and the mass-failure count use the same.
        """
        return self.trigger.check if isinstance(self.trigger, ProbeTrigger) else "tool"

    @property
    def worst_case(self) -> BlastRadius:
        """The furthest blast radius of any action the rule may send."""
        return widest(BLAST_RADIUS[action] for action in self.remedies)

    def applies_to(self, target: str) -> bool:
        """Whether one of the rule's target globs matches `target`."""
        return any(fnmatchcase(target, pattern) for pattern in self.targets)


@dataclass(frozen=True)
class Guardrails:
    """Fleet-wide limits that hold across all rules and targets."""

    max_concurrent_actions: int = 1
    max_actions_per_hour: int = 6
    mass_failure_fraction: float = 0.5
    mass_failure_min_unhealthy: int = 3


@dataclass(frozen=True)
class TargetRef:
    """A configured target as the core knows it: its name and CDSS cluster number."""

    name: str
    cluster_no: str


@dataclass(frozen=True)
class Policy:
    """Everything the engine decides with."""

    targets: tuple[TargetRef, ...]
    rules: tuple[Rule, ...]
    guardrails: Guardrails = field(default_factory=Guardrails)

    def target(self, name: str) -> TargetRef | None:
        """The configured target called `name`, if any."""
        return next((t for t in self.targets if t.name == name), None)

    def rules_for(self, target: str) -> tuple[Rule, ...]:
        """The rules that apply to `target`, in configuration order."""
        return tuple(r for r in self.rules if r.applies_to(target))
