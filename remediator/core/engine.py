"""The decision engine: `Engine.handle(event, now)` says what to do and why, and does nothing.

The flow for one incident:

    ProbeResult / AlertEvent ─> trigger trips ─> local guards ─> CheckFirst ─> PreflightResult
        ─> fresh probe, cluster status, local guards again ─> Decision + Act
        ─> ActionOutcome ─> verifying ─> ProbeResults / Tick ─> Remediated (─> BreakerChanged)

Every trip ends in a `Decision`; a suppression with the same reason is not repeated while the
trip lasts, so logs and counters see it once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from remediator.core.alerts import forget_old_episodes, on_alert
from remediator.core.decisions import (
    Act,
    BreakerChanged,
    CheckFirst,
    Decision,
    Output,
    TriggerKind,
)
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    Event,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.guardrails import MANUAL, local_guard, manual_guard, passed_summary
from remediator.core.manual import manual_rule, on_manual
from remediator.core.restore import adopt as adopt_state
from remediator.core.restore import restore as restore_state
from remediator.core.rules import AlertTrigger, Policy, ProbeTrigger, Rule
from remediator.core.state import (
    ActionRecord,
    EpisodeState,
    InFlight,
    PauseRecord,
    RuleState,
    TargetState,
)
from remediator.core.verification import (
    expire,
    maybe_close_breaker,
    on_outcome,
    verify_step,
)

# Suppressions after which a re-sent alert episode is not looked at again.
_FINAL_FOR_EPISODE = frozenset({"in_progress", "recovered", "not_corroborated", "duplicate"})


class Engine:
    """A pure state machine over a `Policy`: the driver feeds events and carries out outputs."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.rules = {r.name: r for r in policy.rules}
        self.targets = {t.name: TargetState() for t in policy.targets}
        self.rule_states: dict[tuple[str, str], RuleState] = {
            (r.name, t.name): RuleState() for t in policy.targets for r in policy.rules_for(t.name)
        }
        self.fleet_action_times: list[float] = []
        self.all_paused_until: float | None = None
        self.all_pause_reason = ""
        self.episodes: dict[tuple[str, str], EpisodeState] = {}
        self.episodes_swept_at = -math.inf
        self.last_action_at: dict[str, float] = {}
        self._manual: dict[str, Rule] = {}
        self._wake_at = -math.inf  # when `_expire` next has something to do
        self._manual_reason: dict[str, str] = {}
        self._next_token = 1

    # -- restoring from the ledger -------------------------------------------------------

    def restore(
        self,
        actions: Iterable[ActionRecord],
        *,
        breakers: Iterable[tuple[str, str]] = (),
        pauses: Iterable[PauseRecord] = (),
        decided_episodes: Iterable[tuple[str, str, str, float]] = (),
        now: float,
    ) -> None:
        """Rebuild memory from the ledger (see `core.restore.restore`)."""
        restore_state(
            self,
            actions,
            breakers=breakers,
            pauses=pauses,
            decided_episodes=decided_episodes,
            now=now,
        )

    def adopt(self, old: Engine) -> None:
        """Take over what the previous config's engine saw live (see `core.restore.adopt`)."""
        adopt_state(self, old)

    # -- the one entry point -------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Output]:
        """Feed one event; returns the decisions taken and the work asked of the driver."""
        out: list[Output] = []
        expire(self, now, out)
        forget_old_episodes(self, now)
        if isinstance(event, ProbeResult):
            self._on_probe(event, now, out)
        elif isinstance(event, AlertEvent):
            on_alert(self, event, now, out)
        elif isinstance(event, PreflightResult):
            self._on_preflight(event, now, out)
        elif isinstance(event, ActionOutcome):
            on_outcome(self, event, now, out)
        elif isinstance(event, Pause):
            self._apply_pause(event.target, event.until, event.reason)
        elif isinstance(event, Resume):
            self._on_resume(event, now, out)
        elif isinstance(event, ManualRestart):
            on_manual(self, event, now, out)
        elif isinstance(event, Tick):
            pass
        return out

    # -- manual restarts -----------------------------------------------------------------

    def _rule(self, name: str, target: str, action: str | None = None) -> Rule | None:
        """A configured rule, or the target's synthetic `manual` rule."""
        if name != MANUAL:
            return self.rules.get(name)
        rule = self._manual.get(target)
        if rule is None and action is not None and target in self.targets:
            rule = manual_rule(self, target, action, force=False, dry_run=False)
        return rule

    # -- probes --------------------------------------------------------------------------

    def _on_probe(self, r: ProbeResult, now: float, out: list[Output]) -> None:
        ts = self.targets.get(r.target)
        if ts is None:
            return
        if r.ok and ts.last_ok is not True:
            ts.healthy_since = r.at
        elif not r.ok:
            ts.healthy_since = None
        ts.last_ok = r.ok
        flight = ts.in_flight
        if flight is not None and flight.phase == "verifying":
            verify_step(self, r, flight, now, out)
        for rule in self.policy.rules_for(r.target):
            st = self.rule_states[(rule.name, r.target)]
            maybe_close_breaker(self, rule, r.target, st, ts, now, out)
            if not isinstance(rule.trigger, ProbeTrigger):
                continue
            if flight is not None and flight.rule == rule.name:
                continue  # its own restart is being verified; these probes belong to that
            self._feed_window(rule, rule.trigger, st, r)
            if st.tripped:
                self._evaluate(rule, r.target, st, "probe", now, out)

    def _feed_window(self, rule: Rule, trig: ProbeTrigger, st: RuleState, r: ProbeResult) -> None:
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

    # -- alerts --------------------------------------------------------------------------

    # -- evaluation ----------------------------------------------------------------------

    def _evaluate(
        self,
        rule: Rule,
        target: str,
        st: RuleState,
        trigger: TriggerKind,
        now: float,
        out: list[Output],
    ) -> None:
        """A trip: suppress on a local guard, or ask the driver to look before acting."""
        if st.pending_token is not None:
            return
        blocked = local_guard(self, rule, target, st, now)
        if blocked is not None:
            self._suppress(rule, target, st, blocked[0], blocked[1], trigger, now, out)
            return
        st.pending_token = self._next_token
        st.pending_trigger = trigger
        self._next_token += 1
        corroborate = isinstance(rule.trigger, AlertTrigger) and rule.trigger.corroborate
        cluster_no = self._cluster_no(target)
        out.append(
            CheckFirst(
                rule=rule.name,
                target=target,
                cluster_no=cluster_no,
                token=st.pending_token,
                probe=trigger == "probe" or corroborate,
                trigger=trigger,
                at=now,
            )
        )

    def _on_preflight(self, p: PreflightResult, now: float, out: list[Output]) -> None:
        st = self.rule_states.get((p.rule, p.target))
        rule = self._rule(p.rule, p.target)
        if st is None or rule is None or st.pending_token != p.token:
            return
        st.pending_token = None
        trigger = st.pending_trigger
        ep = self.episodes.get(st.pending_episode) if st.pending_episode else None
        if trigger == "probe" and not st.tripped:
            self._suppress(
                rule, p.target, st, "recovered", "healthy again before acting", trigger, now, out
            )
            return
        if ep is not None and ep.resolved:
            self._suppress(
                rule,
                p.target,
                st,
                "recovered",
                "the alert resolved before acting",
                trigger,
                now,
                out,
            )
            return
        corroborate = isinstance(rule.trigger, AlertTrigger) and rule.trigger.corroborate
        if corroborate and p.probe is None:
            self._suppress(
                rule,
                p.target,
                st,
                "not_corroborated",
                "no fresh probe to corroborate the alert",
                trigger,
                now,
                out,
            )
            return
        if p.probe is not None and p.probe.ok:
            reason = "not_corroborated" if trigger == "alert" else "recovered"
            self._suppress(
                rule, p.target, st, reason, "a fresh probe was healthy", trigger, now, out
            )
            return
        if p.cluster_busy:
            self._suppress(
                rule,
                p.target,
                st,
                "cluster_busy",
                p.cluster_detail or "cluster status is changing",
                trigger,
                now,
                out,
            )
            return
        if rule.name == MANUAL:
            blocked = manual_guard(self, rule, p.target, now)
        else:
            blocked = local_guard(self, rule, p.target, st, now)
        if blocked is not None:
            self._suppress(rule, p.target, st, blocked[0], blocked[1], trigger, now, out)
            return
        self._act(rule, p.target, st, trigger, now, p, out)

    def _act(
        self,
        rule: Rule,
        target: str,
        st: RuleState,
        trigger: TriggerKind,
        now: float,
        p: PreflightResult,
        out: list[Output],
    ) -> None:
        detected = st.first_failure_at if st.first_failure_at is not None else now
        if trigger == "manual":
            why = f"requested by an operator: {self._manual_reason.get(target, '')}"
        elif trigger == "alert":
            why = "alert firing"
        else:
            why = _window_text(st)
        if p.probe is not None:
            why += f"; fresh probe failed ({p.probe.reason})"
        if p.cluster_busy is None and p.cluster_detail:
            why += f"; cluster status unknown ({p.cluster_detail})"
        elif p.cluster_detail:
            why += f"; cluster not changing ({p.cluster_detail})"
        if trigger != "manual":
            why += f"; guards passed: {passed_summary(self, rule, target, st, now)}"
        st.action_times.append(now)
        episode = st.pending_episode
        ep = self.episodes.get(episode) if episode else None
        if ep is not None:
            ep.final = True
        st.reset_trip()
        if rule.mode == "shadow":
            out.append(
                self._decision(
                    rule,
                    target,
                    "shadow",
                    "shadow",
                    now,
                    trigger,
                    f"would {rule.action}: {why}",
                    episode=episode,
                )
            )
            return
        self.fleet_action_times.append(now)
        self.last_action_at[target] = now
        self.targets[target].in_flight = InFlight(
            rule=rule.name, action=rule.action, phase="acting", decided_at=now, trigger=trigger
        )
        out.append(
            self._decision(
                rule,
                target,
                "acted",
                trigger,
                now,
                trigger,
                f"{rule.action}: {why}",
                episode=episode,
            )
        )
        out.append(
            Act(
                rule=rule.name,
                target=target,
                cluster_no=self._cluster_no(target),
                action=rule.action,
                trigger=trigger,
                detected_at=detected,
                at=now,
            )
        )

    def _suppress(
        self,
        rule: Rule,
        target: str,
        st: RuleState,
        reason: str,
        detail: str,
        trigger: TriggerKind,
        now: float,
        out: list[Output],
    ) -> None:
        episode = st.pending_episode
        ep = self.episodes.get(episode) if episode else None
        repeat = st.last_reason == reason
        if ep is not None:
            repeat = ep.last_reason == reason
            ep.last_reason = reason
            if reason in _FINAL_FOR_EPISODE:
                ep.final = True
        if reason in ("recovered", "not_corroborated") or trigger == "alert":
            st.reset_trip()
        else:
            st.last_reason = reason
        if not repeat:
            out.append(
                self._decision(
                    rule, target, "suppressed", reason, now, trigger, detail, episode=episode
                )
            )

    # -- actions and verification --------------------------------------------------------

    def _wake(self, at: float) -> None:
        """Have `_expire` look again at `at` (a deadline or a pause's end)."""
        self._wake_at = min(self._wake_at, at)

    # -- pauses --------------------------------------------------------------------------

    def _apply_pause(self, target: str | None, until: float, reason: str) -> None:
        self._wake(until)
        if target is None:
            self.all_paused_until, self.all_pause_reason = until, reason
        elif target in self.targets:
            self.targets[target].paused_until = until
            self.targets[target].pause_reason = reason

    def _on_resume(self, r: Resume, now: float, out: list[Output], *, lift: bool = True) -> None:
        names = list(self.targets) if r.target is None else [r.target]
        if r.target is None and lift:
            self.all_paused_until, self.all_pause_reason = None, ""
        for name in names:
            ts = self.targets.get(name)
            if ts is None:
                continue
            if lift:
                ts.paused_until, ts.pause_reason = None, ""
            if not r.reset_breaker:
                continue
            for rule in self.policy.rules_for(name):
                st = self.rule_states[(rule.name, name)]
                if st.breaker_open:
                    st.breaker_open = False
                    out.append(
                        BreakerChanged(
                            rule=rule.name,
                            target=name,
                            open=False,
                            at=now,
                            detail="reset by an operator",
                        )
                    )

    def paused(self, target: str, now: float) -> tuple[bool, str]:
        """Whether `target` is paused at `now`, and why."""
        ts = self.targets[target]
        if ts.paused_until is not None and now < ts.paused_until:
            return True, ts.pause_reason
        if self.all_paused_until is not None and now < self.all_paused_until:
            return True, self.all_pause_reason
        return False, ""

    # -- helpers -------------------------------------------------------------------------

    def _cluster_no(self, target: str) -> str:
        ref = self.policy.target(target)
        return ref.cluster_no if ref else ""

    def _decision(
        self,
        rule: Rule,
        target: str,
        outcome: str,
        reason: str,
        now: float,
        trigger: TriggerKind,
        detail: str,
        *,
        episode: tuple[str, str] | None = None,
    ) -> Decision:
        return Decision(
            rule=rule.name,
            target=target,
            outcome=outcome,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            at=now,
            trigger=trigger,
            action=rule.action,
            episode=episode,
        )


def _window_text(st: RuleState) -> str:
    failures = sum(1 for ok in st.window if not ok)
    return f"{failures} of the last {len(st.window)} probes failed"
