"""What the operator configured, as the core sees it: targets, rules, guardrails (all frozen)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

ActionName = Literal["restart_cmak", "restart_all_services", "restart_kafka"]
ACTIONS: tuple[ActionName, ...] = ("restart_cmak", "restart_all_services", "restart_kafka")
Mode = Literal["enforce", "shadow"]


@dataclass(frozen=True)
class ProbeTrigger:
    """Trip when at least `failures` of the last `of` probes failed."""

    failures: int
    of: int


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
    """One remediation rule."""

    name: str
    targets: tuple[str, ...]
    trigger: Trigger
    action: ActionName
    fallback_action: ActionName | None = None
    cooldown: float = 900.0
    budget: Budget = field(default_factory=Budget)
    verify: Verify = field(default_factory=Verify)
    mode: Mode = "enforce"

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
