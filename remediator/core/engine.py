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

from remediator.core.decisions import (
    Act,
    BreakerChanged,
    CheckFirst,
    Decision,
    Output,
    Remediated,
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
from remediator.core.rules import AlertTrigger, Budget, Policy, ProbeTrigger, Rule, Verify
from remediator.core.state import (
    ActionRecord,
    EpisodeState,
    InFlight,
    PauseRecord,
    RuleState,
    TargetState,
)

# Suppressions after which a re-sent alert episode is not looked at again.
_FINAL_FOR_EPISODE = frozenset({"in_progress", "recovered", "not_corroborated", "duplicate"})
_FLEET_WINDOW = 3600.0


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
        decided_episodes: Iterable[tuple[str, str, str]] = (),
        now: float,
    ) -> None:
        """Rebuild cooldowns, budgets, breakers, pauses and unfinished work from the ledger.

        An action whose outcome was never recorded (a crash mid-call) counts as sent with an
        unknown outcome: it spends cooldown and budget and is verified, never resent.
        """
        latest: dict[str, ActionRecord] = {}
        for rec in sorted(actions, key=lambda a: a.intent_at):
            st = self.rule_states.get((rec.rule, rec.target))
            if st is not None:
                st.action_times.append(rec.intent_at)
                if rec.remediation:
                    st.last_outcome = rec.remediation
            if rec.mode == "enforce":
                self.fleet_action_times.append(rec.intent_at)
                self.last_action_at[rec.target] = rec.intent_at
                latest[rec.target] = rec
        for target, rec in latest.items():
            rule = self._rule(rec.rule, target, rec.action)
            ts = self.targets.get(target)
            if rule is None or ts is None or rec.remediation is not None:
                continue
            if rec.result in ("failure", "not_available"):
                continue
            started = rec.outcome_at if rec.result is not None and rec.outcome_at else now
            ts.in_flight = InFlight(
                rule=rec.rule,
                action=rec.action,
                phase="verifying",
                decided_at=rec.intent_at,
                grace_until=started + rule.verify.grace,
                deadline=started + rule.verify.timeout,
            )
            self._wake(started + rule.verify.timeout)
        for rule_name, target in breakers:
            st = self.rule_states.get((rule_name, target))
            if st is not None:
                st.breaker_open = True
        for p in pauses:
            self._apply_pause(p.target, p.until, p.reason)
        for fingerprint, starts_at, target in decided_episodes:
            self.episodes[(fingerprint, starts_at)] = EpisodeState(target=target, final=True)

    def adopt(self, old: Engine) -> None:
        """Take over what `old` (the engine of the previous config) saw live, after a restore.

        Probe windows and trips carry over for rules whose trigger did not change; health,
        in-flight work and alert episodes carry over for targets that still exist. Cooldowns,
        budgets and breakers come from the ledger, recomputed with the new rules.
        """
        self._next_token = old._next_token
        self._wake_at = -math.inf  # adopted work has deadlines of its own
        self.episodes.update(old.episodes)
        for name, ts in self.targets.items():
            before = old.targets.get(name)
            if before is None:
                continue
            ts.last_ok, ts.healthy_since = before.last_ok, before.healthy_since
            flight = before.in_flight
            if flight is not None and flight.rule in self.rules:
                ts.in_flight = flight
        for key, st in self.rule_states.items():
            prev = old.rule_states.get(key)
            rule, prev_rule = self.rules[key[0]], old.rules.get(key[0])
            if prev is None or prev_rule is None or prev_rule.trigger != rule.trigger:
                continue
            st.window = prev.window.copy()
            st.first_failure_at, st.tripped = prev.first_failure_at, prev.tripped
            st.last_reason, st.healthy_since = prev.last_reason, prev.healthy_since

    # -- the one entry point -------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Output]:
        """Feed one event; returns the decisions taken and the work asked of the driver."""
        out: list[Output] = []
        self._expire(now, out)
        if isinstance(event, ProbeResult):
            self._on_probe(event, now, out)
        elif isinstance(event, AlertEvent):
            self._on_alert(event, now, out)
        elif isinstance(event, PreflightResult):
            self._on_preflight(event, now, out)
        elif isinstance(event, ActionOutcome):
            self._on_outcome(event, now, out)
        elif isinstance(event, Pause):
            self._apply_pause(event.target, event.until, event.reason)
        elif isinstance(event, Resume):
            self._on_resume(event, now, out)
        elif isinstance(event, ManualRestart):
            self._on_manual(event, now, out)
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
            rule = self._manual_rule(target, action, force=False, dry_run=False)
        return rule

    def _manual_rule(self, target: str, action: str, *, force: bool, dry_run: bool) -> Rule:
        rules = self.policy.rules_for(target)
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
        self._manual[target] = rule
        self.rule_states.setdefault((MANUAL, target), RuleState())
        return rule

    def _on_manual(self, m: ManualRestart, now: float, out: list[Output]) -> None:
        if m.target not in self.targets:
            return
        if m.reset_breaker:
            self._on_resume(Resume(m.target, now, reset_breaker=True), now, out, lift=False)
        rule = self._manual_rule(m.target, m.action, force=m.force, dry_run=m.dry_run)
        st = self.rule_states[(MANUAL, m.target)]
        st.reset_trip()
        st.tripped = True
        self._manual_reason[m.target] = m.reason
        blocked = manual_guard(self, rule, m.target, now)
        if blocked is not None:
            self._suppress(rule, m.target, st, blocked[0], blocked[1], "manual", now, out)
            return
        st.pending_token = self._next_token
        st.pending_trigger = "manual"
        self._next_token += 1
        out.append(
            CheckFirst(
                rule=MANUAL,
                target=m.target,
                cluster_no=self._cluster_no(m.target),
                token=st.pending_token,
                probe=False,
                trigger="manual",
                at=now,
            )
        )

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
            self._verify_step(r, flight, now, out)
        for rule in self.policy.rules_for(r.target):
            st = self.rule_states[(rule.name, r.target)]
            self._maybe_close_breaker(rule, r.target, st, ts, now, out)
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

    def _on_alert(self, a: AlertEvent, now: float, out: list[Output]) -> None:
        if a.target not in self.targets:
            return
        ep = self.episodes.get(a.episode)
        if a.status == "resolved":
            if ep is None:
                self.episodes[a.episode] = EpisodeState(target=a.target, final=True, resolved=True)
            else:
                ep.resolved = True
            return
        rules = [
            r
            for r in self.policy.rules_for(a.target)
            if isinstance(r.trigger, AlertTrigger) and r.trigger.matches(a.alertname, a.labels)
        ]
        if not rules:
            return
        if ep is None:
            ep = self.episodes[a.episode] = EpisodeState(target=a.target)
            acted = self.last_action_at.get(a.target)
            if a.starts_at_ts is not None and acted is not None and acted >= a.starts_at_ts:
                # The target was acted on after this alert began: that action answered it.
                ep.final = ep.duplicate_reported = True
                for rule in rules:
                    out.append(
                        self._decision(
                            rule,
                            a.target,
                            "suppressed",
                            "duplicate",
                            now,
                            "alert",
                            f"alert episode {a.fingerprint}@{a.starts_at} began before the "
                            f"action at {acted:.0f} on {a.target}, which answers it",
                            episode=a.episode,
                        )
                    )
                return
        for rule in rules:
            st = self.rule_states[(rule.name, a.target)]
            if ep.final or ep.resolved:
                if not ep.duplicate_reported:
                    ep.duplicate_reported = True
                    out.append(
                        self._decision(
                            rule,
                            a.target,
                            "suppressed",
                            "duplicate",
                            now,
                            "alert",
                            f"alert episode {a.fingerprint}@{a.starts_at} already handled",
                            episode=a.episode,
                        )
                    )
                continue
            if st.pending_token is not None:
                # Another episode is being looked at for this rule and target right now:
                # whatever that decides answers this one too.
                ep.final = ep.duplicate_reported = True
                out.append(
                    self._decision(
                        rule,
                        a.target,
                        "suppressed",
                        "duplicate",
                        now,
                        "alert",
                        f"alert episode {a.fingerprint}@{a.starts_at} arrived while the look "
                        f"before acting on {a.target} was under way",
                        episode=a.episode,
                    )
                )
                continue
            st.tripped = True
            st.pending_episode = a.episode
            if st.first_failure_at is None:
                st.first_failure_at = a.at
            self._evaluate(rule, a.target, st, "alert", now, out)

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

    def _on_outcome(self, o: ActionOutcome, now: float, out: list[Output]) -> None:
        ts = self.targets.get(o.target)
        rule = self._rule(o.rule, o.target)
        if ts is None or rule is None or ts.in_flight is None or ts.in_flight.rule != o.rule:
            return
        flight = ts.in_flight
        if flight.phase != "acting":
            return
        if o.result in ("success", "unknown"):
            flight.phase = "verifying"
            flight.grace_until = now + rule.verify.grace
            flight.deadline = now + rule.verify.timeout
            self._wake(flight.deadline)
            flight.successes = 0
            return
        if o.result == "not_available" and rule.fallback_action and not flight.fallback_used:
            flight.fallback_used = True
            flight.action = rule.fallback_action
            out.append(
                Act(
                    rule=rule.name,
                    target=o.target,
                    cluster_no=self._cluster_no(o.target),
                    action=rule.fallback_action,
                    trigger=flight.trigger,
                    detected_at=flight.decided_at,
                    at=now,
                    fallback_of=o.action,
                )
            )
            return
        detail = f"{o.action} failed: {o.detail}" if o.detail else f"{o.action} failed"
        self._finish(rule, o.target, "not_recovered", detail, now, out)

    def _verify_step(self, r: ProbeResult, flight: InFlight, now: float, out: list[Output]) -> None:
        rule = self._rule(flight.rule, r.target)
        assert rule is not None
        if r.at < flight.grace_until:
            return
        if not r.ok:
            flight.successes = 0
            return
        flight.successes += 1
        if flight.successes >= rule.verify.successes:
            self._finish(
                rule,
                r.target,
                "recovered",
                f"{flight.successes} healthy probes after {flight.action}",
                now,
                out,
            )

    def _finish(
        self, rule: Rule, target: str, outcome: str, detail: str, now: float, out: list[Output]
    ) -> None:
        ts = self.targets[target]
        action = ts.in_flight.action if ts.in_flight else rule.action
        ts.in_flight = None
        st = self.rule_states[(rule.name, target)]
        st.last_outcome = outcome
        out.append(
            Remediated(
                rule=rule.name,
                target=target,
                action=action,
                outcome="recovered" if outcome == "recovered" else "not_recovered",
                detail=detail,
                at=now,
            )
        )
        spent = st.actions_within(now, rule.budget.per) >= rule.budget.max
        if outcome == "not_recovered" and spent and not st.breaker_open:
            st.breaker_open = True
            out.append(
                BreakerChanged(
                    rule=rule.name,
                    target=target,
                    open=True,
                    at=now,
                    detail=f"budget of {rule.budget.max} actions per {rule.budget.per:g}s "
                    f"spent and the last {action} did not recover {target}: a human must look",
                )
            )

    def _expire(self, now: float, out: list[Output]) -> None:
        """Time out verifications and lift pauses; scans targets only when something is due."""
        cutoff = now - _FLEET_WINDOW
        if self.fleet_action_times and self.fleet_action_times[0] <= cutoff:
            self.fleet_action_times = [t for t in self.fleet_action_times if t > cutoff]
        if now < self._wake_at:
            return
        wake = math.inf
        for name, ts in self.targets.items():
            flight = ts.in_flight
            if flight is not None and flight.phase == "verifying":
                if now >= flight.deadline:
                    rule = self._rule(flight.rule, name)
                    assert rule is not None
                    self._finish(
                        rule,
                        name,
                        "not_recovered",
                        f"not healthy {rule.verify.timeout:g}s after {flight.action}",
                        now,
                        out,
                    )
                else:
                    wake = min(wake, flight.deadline)
            if ts.paused_until is not None:
                if now >= ts.paused_until:
                    ts.paused_until, ts.pause_reason = None, ""
                else:
                    wake = min(wake, ts.paused_until)
        if self.all_paused_until is not None:
            if now >= self.all_paused_until:
                self.all_paused_until, self.all_pause_reason = None, ""
            else:
                wake = min(wake, self.all_paused_until)
        self._wake_at = wake

    def _wake(self, at: float) -> None:
        """Have `_expire` look again at `at` (a deadline or a pause's end)."""
        self._wake_at = min(self._wake_at, at)

    def _maybe_close_breaker(
        self,
        rule: Rule,
        target: str,
        st: RuleState,
        ts: TargetState,
        now: float,
        out: list[Output],
    ) -> None:
        if not st.breaker_open or ts.healthy_since is None or ts.in_flight is not None:
            return
        if now - ts.healthy_since >= rule.cooldown:
            st.breaker_open = False
            out.append(
                BreakerChanged(
                    rule=rule.name,
                    target=target,
                    open=False,
                    at=now,
                    detail=f"{target} stayed healthy for {rule.cooldown:g}s",
                )
            )

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
