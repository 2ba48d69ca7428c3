"""What the narrator follows of each target's looks, mirroring the engine: each rule's window
of recent looks, and the verification of the remediation in flight.

It hears what the engine heard, in the same order, so its counts are the engine's; it only
words them (`2 of the last 3 probes failed; cmak-unhealthy trips at 3`, `healthy 1 of 2`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from remediator.core.decisions import Decision, Escalated, Remediated
from remediator.core.events import ActionOutcome, ProbeResult
from remediator.core.rules import Evidence, Policy, ProbeTrigger, Rule
from remediator.demo.wording import LOOKS

Verdict = Literal["ok", "failed", "inconclusive"]


@dataclass
class _Flight:
    """The remediation in flight on a target, as far as its looks are concerned."""

    rule: Rule
    phase: Literal["acting", "verifying", "escalating"]
    grace_until: float = 0.0
    successes: int = 0


@dataclass
class _Target:
    """One target: its probe rules by evidence, their windows, and the last verdict of each."""

    rules: dict[Evidence, Rule]
    windows: dict[Evidence, deque[bool]] = field(default_factory=dict)
    last: dict[Evidence, Verdict] = field(default_factory=dict)
    flight: _Flight | None = None
    looks: int = 0


def _verdict(r: ProbeResult) -> Verdict:
    return "inconclusive" if r.inconclusive else "ok" if r.ok else "failed"


class Looks:
    """Words each look that tells something; updated with the decisions and outcomes."""

    def __init__(self, policy: Policy) -> None:
        self._targets: dict[str, _Target] = {}
        for t in policy.targets:
            rules: dict[Evidence, Rule] = {}
            for rule in policy.rules_for(t.name):
                if isinstance(rule.trigger, ProbeTrigger):
                    rules.setdefault(rule.trigger.check, rule)
            self._targets[t.name] = _Target(
                rules,
                {
                    ev: deque(maxlen=r.trigger.of)
                    for ev, r in rules.items()
                    if isinstance(r.trigger, ProbeTrigger)
                },
            )

    def count(self, target: str) -> int:
        """How many looks at `target` were heard."""
        return self._targets[target].looks

    def look(self, r: ProbeResult) -> str | None:
        """The line for a look, or None when it tells nothing new."""
        t = self._targets.get(r.target)
        if t is None:
            return None
        t.looks += 1
        verdict, last = _verdict(r), t.last.get(r.check)
        t.last[r.check] = verdict
        label = "probe" if r.check == "tool" else "cluster status"
        flight = t.flight
        if flight is not None and flight.rule.evidence == r.check:
            note = self._verifying(flight, r, verdict)
        else:
            note = self._counting(t, r, verdict, last)
        return None if note is None else f"{label} {r.target}: {r.reason} ({note})"

    def _verifying(self, f: _Flight, r: ProbeResult, verdict: Verdict) -> str | None:
        v = f.rule.verify
        if f.phase == "acting":
            return "an action is being sent; not counted"
        if f.phase == "escalating":
            return "the ladder's next step is being looked at; not counted"
        if verdict == "inconclusive":
            return "verifying: the cluster is changing, neither healthy nor failing; not counted"
        if r.at < f.grace_until:
            return f"verifying: inside the {v.grace:g}s grace, not counted"
        if verdict == "ok":
            f.successes += 1
            return f"verifying: healthy {f.successes} of {v.successes}"
        f.successes = 0
        return "verifying: still unhealthy, the count of healthy looks starts over"

    def _counting(
        self, t: _Target, r: ProbeResult, verdict: Verdict, last: Verdict | None
    ) -> str | None:
        if verdict == "inconclusive":
            return None if last == verdict else "neither healthy nor failing; not counted"
        window = t.windows.get(r.check)
        if window is not None:
            window.append(verdict == "ok")
        if verdict == "ok":
            return None if last == "ok" else "healthy"
        rule = t.rules.get(r.check)
        if rule is None or window is None or not isinstance(rule.trigger, ProbeTrigger):
            return "failed"
        failures = sum(1 for ok in window if not ok)
        return (
            f"{failures} of the last {window.maxlen} {LOOKS[r.check]} failed; {rule.name} "
            f"trips at {rule.trigger.failures}"
        )

    # -- what the engine decided, which changes how looks count -------------------------

    def acted(self, d: Decision, rule: Rule) -> None:
        """An action was decided: the rule's window starts over, and its looks belong to the
        remediation until it ends."""
        t = self._targets.get(d.target)
        if t is None:
            return
        t.windows.get(rule.evidence, deque()).clear()
        if d.outcome == "acted":
            t.flight = _Flight(rule, "acting")

    def outcome(self, o: ActionOutcome) -> None:
        """A sent action's result: verification starts, or waits for what the engine says."""
        t = self._targets.get(o.target)
        if t is None or t.flight is None or t.flight.rule.name != o.rule:
            return
        if o.result in ("success", "unknown"):
            t.flight.phase = "verifying"
            t.flight.grace_until = o.at + t.flight.rule.verify.grace
            t.flight.successes = 0

    def escalated(self, e: Escalated) -> None:
        """A ladder step failed: the next is looked at before it is taken."""
        t = self._targets.get(e.target)
        if t is not None and t.flight is not None:
            t.flight.phase = "escalating"

    def remediated(self, r: Remediated) -> None:
        """The remediation ended: its rule's looks count towards a trip again."""
        t = self._targets.get(r.target)
        if t is not None:
            t.flight = None
