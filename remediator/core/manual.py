"""What operators ask of the engine: restarts (`remediator restart`), and lifting pauses.

A restart goes through a synthetic `manual` rule per target and the same guards as a rule's
trip (see guardrails.manual_guard). Pauses themselves are `EngineState.pause`.
"""

from __future__ import annotations

from remediator.core.decisions import BreakerChanged, Output
from remediator.core.events import ManualRestart, Resume
from remediator.core.guardrails import manual_guard
from remediator.core.rules import MANUAL_FALLBACK, Budget, ProbeTrigger, Rule, Verify
from remediator.core.state import MANUAL, EngineState, RuleState
from remediator.core.trip import Trip, ask_first, suppress


def manual_rule(  # noqa: PLR0913 - the operator's options, by keyword
    state: EngineState,
    target: str,
    action: str,
    *,
    force: bool,
    dry_run: bool,
    allow_fallback: bool = True,
) -> Rule:
    """Make (or remake) `target`'s synthetic rule for an operator's restart with `action`.

    A withdrawn `restart_cmak` falls back to `restart_all_services` only with `allow_fallback`:
    the operator asked for a manager-tool restart and must agree to a cluster-wide one.
    """
    rules = state.policy.rules_for(target)
    rule = Rule(
        name=MANUAL,
        targets=(target,),
        trigger=ProbeTrigger(failures=1, of=1),
        action=action,  # type: ignore[arg-type]
        fallback_action=MANUAL_FALLBACK.get(action) if allow_fallback else None,  # type: ignore[call-overload]
        cooldown=0.0 if force else max((r.cooldown for r in rules), default=900.0),
        budget=Budget(max=1_000_000, per=3600.0),
        verify=rules[0].verify if rules else Verify(),
        mode="shadow" if dry_run else "enforce",
        max_blast_radius="cluster",  # the operator chose the action (and the fallback)
    )
    state.manual_rules[target] = rule
    state.rule_states.setdefault((MANUAL, target), RuleState())
    return rule


def on_manual(state: EngineState, m: ManualRestart, now: float) -> list[Output]:
    """An operator's restart: close breakers if asked, then the guards, then a look first."""
    if m.target not in state.targets:
        return []
    out = reset_breakers(state, m.target, now) if m.reset_breaker else []
    rule = manual_rule(
        state,
        m.target,
        m.action,
        force=m.force,
        dry_run=m.dry_run,
        allow_fallback=m.allow_fallback,
    )
    trip = Trip(rule, m.target, "manual")
    st = state.rule_states[trip.key]
    st.reset_trip()
    st.tripped = True
    state.manual_reasons[m.target] = m.reason
    blocked = manual_guard(state, rule, m.target, now)
    if blocked is not None:
        return [*out, *suppress(state, trip, *blocked, now)]
    # --force skips the cooldown and what operators said elsewhere (silences, windows): the
    # operator asking now knows better.
    return [*out, ask_first(state, trip, now, respect=not m.force)]


def on_resume(state: EngineState, r: Resume, now: float) -> list[Output]:
    """Lift the pause of `r.target` (of all when None); close its breakers if asked."""
    names = list(state.targets) if r.target is None else [r.target]
    if r.target is None:
        state.all_paused_until, state.all_pause_reason = None, ""
    out: list[Output] = []
    for name in names:
        ts = state.targets.get(name)
        if ts is None:
            continue
        ts.paused_until, ts.pause_reason = None, ""
        if r.reset_breaker:
            out.extend(reset_breakers(state, name, now))
    return out


def reset_breakers(state: EngineState, target: str, now: float) -> list[Output]:
    """Close every open breaker of `target`'s rules, as an operator asked."""
    out: list[Output] = []
    for rule in state.policy.rules_for(target):
        st = state.rule_states[(rule.name, target)]
        if st.breaker_open:
            st.breaker_open = False
            out.append(
                BreakerChanged(
                    rule=rule.name, target=target, open=False, at=now, detail="reset by an operator"
                )
            )
    return out
