"""A rules file's models (SPEC sections 5 and 9): triggers, ladders of actions and their limits.

Like the main file's sections (`model.py`), each model checks only what it can see by itself;
whether a rule's actions fit its `max_blast_radius` is checked across the files, on what was
written, in `crosscheck.py`, so that every such problem is reported at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from remediator.config.model import Count, Duration, Interval, Name, Section, Text, fail
from remediator.core.rules import (
    DEFAULT_APPROVAL_TIMEOUT,
    DEFAULT_MAX_BLAST_RADIUS,
    ActionName,
    BlastRadius,
    Evidence,
    Mode,
)
from remediator.timetext import format_duration


class ProbeTrigger(Section):
    """`trigger.probe:` trip when `failures` of the last `of` looks at `check` failed."""

    failures: Count
    of: Count
    check: Evidence = "tool"  # the manager-tool probe of `health:`; `cluster`: CDSS status

    @model_validator(mode="after")
    def _failures_fit(self) -> ProbeTrigger:
        if self.failures > self.of:
            fail("failures", f"must be at most 'of' ({self.of})")
        return self


class AlertTrigger(Section):
    """`trigger.alert:` trip on a firing alert with this name and these labels."""

    alertname: Text
    labels: dict[Annotated[str, Strict()], Annotated[str, Strict()]] = Field(default_factory=dict)


class Trigger(Section):
    """`trigger:` exactly one of `probe` or `alert`; `corroborate: probe` only with `alert`."""

    probe: ProbeTrigger | None = None
    alert: AlertTrigger | None = None
    corroborate: Literal["probe"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.probe is None) == (self.alert is None):
            fail(None, "needs exactly one of 'probe' or 'alert'")
        if self.corroborate is not None and self.alert is None:
            fail("corroborate", "only with an alert trigger (a probe trigger is a probe already)")
        return self


class Budget(Section):
    """`budget:` at most `max` actions per (rule, target) in any `per` window."""

    max: Count = 3
    per: Duration = 6 * 3600.0


class Verify(Section):
    """`verify:` recovered after `grace` and `successes` healthy probes, within `timeout`."""

    grace: Interval = 120.0
    successes: Count = 2
    timeout: Interval = 600.0

    @model_validator(mode="after")
    def _grace_first(self) -> Verify:
        if self.grace >= self.timeout:
            fail("grace", f"must be shorter than timeout ({format_duration(self.timeout)})")
        return self


class Rule(Section):
    """One entry of a rules file's `rules:`: one `action`, or a ladder of `actions`."""

    name: Name
    targets: Annotated[tuple[Text, ...], Field(min_length=1)] = ("*",)
    trigger: Trigger
    action: ActionName | None = None
    actions: Annotated[tuple[ActionName, ...], Field(min_length=1)] | None = None
    fallback_action: ActionName | None = None
    max_blast_radius: BlastRadius = DEFAULT_MAX_BLAST_RADIUS
    cooldown: Duration = 900.0
    budget: Budget = Budget()
    verify: Verify = Verify()
    mode: Mode = "enforce"
    # mode: approve — how long a pending approval waits for a human before it expires.
    approval_timeout: Duration = DEFAULT_APPROVAL_TIMEOUT

    @model_validator(mode="after")
    def _one_ladder(self) -> Rule:
        if self.action is not None and self.actions is not None:
            fail("actions", "give either action (one step) or actions (a ladder), not both")
        if self.action is None and self.actions is None:
            fail("action", "is required (or actions: a ladder of steps)")
        steps = self.steps
        for k, step in enumerate(steps):
            if steps.index(step) < k:
                fail(("actions", k), f"repeats actions[{steps.index(step)}] ({step})")
        if self.fallback_action in steps:
            if self.actions is None:
                fail("fallback_action", f"must differ from action ({self.action})")
            where = f"actions[{steps.index(self.fallback_action)}]"
            fail("fallback_action", f"must differ from every step ({where} is the same)")
        return self

    @property
    def steps(self) -> tuple[ActionName, ...]:
        """The actions tried in order: `actions`, or the one `action`."""
        if self.actions is not None:
            return self.actions
        return () if self.action is None else (self.action,)
