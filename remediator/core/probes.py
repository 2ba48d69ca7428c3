"""Looks at targets (tool probes, cluster status): health, the rules' windows, verification."""

from __future__ import annotations

from collections import deque

from remediator.core.decisions import Output
from remediator.core.events import ProbeResult
from remediator.core.rules import ProbeTrigger
from remediator.core.state import EngineState, RuleState
from remediator.core.trip import Trip, evaluate
from remediator.core.verification import close_breaker_if_healthy, verify_step


def on_probe(state: EngineState, r: ProbeResult, now: float) -> list[Output]:
    """Record a target's health; verify its action in flight; feed and trip its probe rules."""
    ts = state.targets.get(r.target)
    if ts is None:
        return []
    if not r.inconclusive:
        ts.saw(r.check, r.ok, r.at)
    out: list[Output] = []
    flight = ts.in_flight
    if flight is not None and flight.phase == "verifying":
        out.extend(verify_step(state, r, flight, now))
    for rule in state.policy.rules_for(r.target):
        st = state.rule_states[(rule.name, r.target)]
        out.extend(close_breaker_if_healthy(state, rule, r.target, now))
        if not isinstance(rule.trigger, ProbeTrigger) or rule.evidence != r.check or r.inconclusive:
            continue
        if flight is not None and flight.rule == rule.name:
            continue  # its own restart is being verified; these probes belong to that
        feed_window(st, rule.trigger, r)
        if st.tripped:
            out.extend(evaluate(state, Trip(rule, r.target, "probe"), now))
    return out


def feed_window(st: RuleState, trig: ProbeTrigger, r: ProbeResult) -> None:
    """Add a probe to a rule's window of the last `of`; trip it, or end its trip."""
    if st.window.maxlen != trig.of:
        st.window = deque(st.window, maxlen=trig.of)
    st.window.append(r.ok)
    if not r.ok and st.first_failure_at is None:
        st.first_failure_at = r.at
    failures = sum(1 for ok in st.window if not ok)
    if failures >= trig.failures:
        st.tripped = True
        return
    if st.tripped:  # healthy enough again: this trip is over
        st.tripped = False
        st.last_reason = None
        # A look already asked for still ends the trip with its decision (`recovered`).
    if failures == 0:
        st.first_failure_at = None
