"""Part of the engine: restarts an operator asks for (`remediator restart`).

They go through a synthetic `manual` rule per target and the same guards as a rule's trip
(see guardrails.manual_guard); functions over the `Engine`'s state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remediator.core.decisions import CheckFirst, Output
from remediator.core.events import ManualRestart, Resume
from remediator.core.guardrails import MANUAL, manual_guard
from remediator.core.rules import Budget, ProbeTrigger, Rule, Verify
from remediator.core.state import RuleState

if TYPE_CHECKING:
    from remediator.core.engine import Engine


def manual_rule(engine: Engine, target: str, action: str, *, force: bool, dry_run: bool) -> Rule:
    rules = engine.policy.rules_for(target)
    rule = Rule(
        name=MANUAL,
        targets=(target,),
        trigger=ProbeTrigger(failures=1, of=1),
        action=action,  # type: ignore[arg-type]
        fallback_action="restart_all_services" if action == "restart_cmak" else None,
        cooldown=0.0 if force else max((r.cooldown for r in rules), default=900.0),
        budget=Budget(max=1_000_000, per=3600.0),
        verify=rules[0].verify if rules else Verify(),
        mode="shadow" if dry_run else "enforce",
    )
    engine._manual[target] = rule
    engine.rule_states.setdefault((MANUAL, target), RuleState())
    return rule


def on_manual(engine: Engine, m: ManualRestart, now: float, out: list[Output]) -> None:
    if m.target not in engine.targets:
        return
    if m.reset_breaker:
        engine._on_resume(Resume(m.target, now, reset_breaker=True), now, out, lift=False)
    rule = manual_rule(engine, m.target, m.action, force=m.force, dry_run=m.dry_run)
    st = engine.rule_states[(MANUAL, m.target)]
    st.reset_trip()
    st.tripped = True
    engine._manual_reason[m.target] = m.reason
    blocked = manual_guard(engine, rule, m.target, now)
    if blocked is not None:
        engine._suppress(rule, m.target, st, blocked[0], blocked[1], "manual", now, out)
        return
    st.pending_token = engine._next_token
    st.pending_trigger = "manual"
    engine._next_token += 1
    out.append(
        CheckFirst(
            rule=MANUAL,
            target=m.target,
            cluster_no=engine._cluster_no(m.target),
            token=st.pending_token,
            probe=False,
            trigger="manual",
            at=now,
        )
    )
