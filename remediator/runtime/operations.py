"""What operators can do to a daemon's decisions: pause, resume, restart, approve and deny — one
implementation, used by the admin API of a running daemon and by the commands when no daemon
runs. Each act is logged and written to the history with who did it and why (`actor`: see
`history.cli_actor` and `http.admin.api_actor`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from remediator.clock import Clock, as_wall
from remediator.core.approval import pending_by_id
from remediator.core.decisions import ApprovalSettled, BreakerChanged, Decision, Output, Remediated
from remediator.core.events import ApprovalAnswer, ManualRestart, Pause, Resume
from remediator.core.guardrails import MANUAL
from remediator.core.rules import ACTIONS, blast_radius_of, manual_plan
from remediator.notify import messages
from remediator.runtime import approvals
from remediator.runtime.driver import Driver
from remediator.runtime.history import operator_act
from remediator.store import Ledger
from remediator.timetext import format_duration, iso

log = logging.getLogger("remediator.runtime.daemon")


class Operator:
    """Operator commands, carried out through the engine and recorded in the ledger."""

    def __init__(
        self,
        driver: Driver,
        ledger: Ledger,
        clock: Clock,
        *,
        drain: Callable[[], None] | None = None,
        wait: float = 30.0,
    ) -> None:
        self.driver, self.ledger, self.clock = driver, ledger, clock
        self._drain = drain  # runs deferred work now (when no daemon threads do)
        self._wait = wait

    def _target(self, name: str | None) -> str | None:
        if name is not None and name not in self.driver.engine.targets:
            known = ", ".join(self.driver.engine.targets)
            raise ValueError(f"unknown target {name!r} (configured: {known})")
        return name

    def _cluster_no(self, target: str | None) -> str | None:
        ref = None if target is None else self.driver.engine.policy.target(target)
        return ref.cluster_no if ref else None

    def pause(
        self, target: str | None, seconds: float, reason: str, *, actor: str = ""
    ) -> dict[str, Any]:
        """Hold every action on `target` (all when None) for `seconds`."""
        self._target(target)
        if seconds <= 0:
            raise ValueError("the pause must last at least 1s")
        if not reason.strip():
            raise ValueError("a reason is required")
        now = self.clock.now()
        until = now + seconds
        notices = self.driver.notices.route(
            messages.paused(target, self._cluster_no(target), until, reason, now)
        )
        self.ledger.record_pause(target=target, until=until, reason=reason, at=now, notices=notices)
        self.driver.notices.written(notices)
        detail = f"for {format_duration(seconds)}, until {iso(as_wall(self.clock, until))}"
        self._act("pause", target, actor, reason, now, detail=detail)
        self.driver.feed(Pause(target, until, reason, now))
        return {"paused": target or "*", "until": iso(as_wall(self.clock, until)), "reason": reason}

    def resume(
        self, target: str | None, reset_breaker: bool, *, reason: str = "", actor: str = ""
    ) -> dict[str, Any]:
        """Lift a pause (all when None); close breakers too with `reset_breaker`."""
        self._target(target)
        now = self.clock.now()
        with self.driver.lock:
            engine = self.driver.engine
            names = [target] if target is not None else list(engine.targets)
            was_paused = any(engine.paused(name, now)[0] for name in names)
        notices = self.driver.notices.route(
            messages.resumed(target, self._cluster_no(target), reset_breaker, now)
        )
        self.ledger.clear_pause(target=target, at=now, notices=notices)
        self.driver.notices.written(notices)
        detail = "and close its breakers" if reset_breaker else ""
        self._act("resume", target, actor, reason, now, detail=detail)
        outputs = self.driver.feed(Resume(target, now, reset_breaker=reset_breaker))
        closed = [
            f"{o.rule}/{o.target}" for o in outputs if isinstance(o, BreakerChanged) and not o.open
        ]
        return {"resumed": target or "*", "was_paused": was_paused, "breakers_closed": closed}

    def _act(  # noqa: PLR0913 - an act's fields; the rest by keyword
        self,
        act: str,
        target: str | None,
        actor: str,
        reason: str,
        now: float,
        *,
        action: str = "",
        detail: str = "",
    ) -> None:
        """Log an operator's act and write it to the history, with who and why."""
        entry = operator_act(
            act, target, actor=actor, reason=reason, at=now, action=action, detail=detail
        )
        self.ledger.record_history([entry])
        what = " ".join(p for p in (act, target or "every target", action, detail) if p)
        log.info(
            f"{what}, by {entry.actor}: {reason or 'no reason given'}",
            extra={
                "event": "operator",
                "act": act,
                "target": entry.target,
                "reason": reason,
                "actor": entry.actor,
            },
        )

    def restart(  # noqa: PLR0913 - the operator's restart options, by keyword
        self,
        target: str,
        action: str | None,
        reason: str,
        *,
        force: bool,
        reset_breaker: bool,
        dry_run: bool,
        allow_fallback: bool = False,
        actor: str = "",
    ) -> dict[str, Any]:
        """Ask the engine for a restart; returns its decision (and whether it was sent).

        A fallback to a wider blast radius (a withdrawn restart_cmak to restart_all_services)
        happens only with `allow_fallback`."""
        self._target(target)
        if not reason.strip():
            raise ValueError("a reason is required")
        chosen = action or self._default_action(target)
        if chosen not in ACTIONS:
            raise ValueError(f"unknown action {chosen!r} (one of {', '.join(ACTIONS)})")
        plan = manual_plan(chosen, allow_fallback=allow_fallback, dry_run=dry_run)
        flags = [
            flag
            for flag, on in (
                ("--force", force),
                ("--reset-breaker", reset_breaker),
                ("--dry-run", dry_run),
                ("--allow-fallback", allow_fallback),
            )
            if on
        ]
        now = self.clock.now()
        self._act("restart", target, actor, reason, now, action=chosen, detail=" ".join(flags))
        decided = threading.Event()
        seen: list[Output] = []

        def listen(out: Output) -> None:
            if out.target == target and out.rule == MANUAL:
                seen.append(out)
                if isinstance(out, Decision):
                    decided.set()

        self.driver.listeners.append(listen)
        try:
            self.driver.feed(
                ManualRestart(
                    target, chosen, reason, now, force, reset_breaker, dry_run, allow_fallback
                )
            )
            if self._drain is not None:
                self._drain()
            decided.wait(self._wait)
        finally:
            self.driver.listeners.remove(listen)
        decision = next((o for o in seen if isinstance(o, Decision)), None)
        if decision is None:
            return {
                "target": target,
                "action": chosen,
                "blast_radius": blast_radius_of(chosen),
                "plan": plan,
                "outcome": "pending",
                "detail": "no decision yet (the cluster status read is slow); see status",
            }
        reply: dict[str, Any] = {
            "target": target,
            "action": chosen,
            "blast_radius": blast_radius_of(chosen),
            "plan": plan,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "detail": decision.detail,
        }
        ended = next((o for o in seen if isinstance(o, Remediated)), None)
        if ended is not None:  # it ended before the reply (a call refused or failed)
            reply["remediation"] = ended.outcome
            reply["remediation_detail"] = ended.detail
        return reply

    def approvals(self) -> list[dict[str, Any]]:
        """The approvals waiting for an answer (see `runtime.approvals.pending`)."""
        with self.driver.lock:
            return approvals.pending(self.driver.engine, self.clock.now())

    def answer(self, approval: str, approve: bool, reason: str, by: str) -> dict[str, Any]:
        """Approve or deny a pending approval, as `by`; on approval, what the look before acting
        that it asks for decided (acted, or why not)."""
        if not reason.strip():
            raise ValueError("a reason is required")
        now = self.clock.now()
        with self.driver.lock:
            found = pending_by_id(self.driver.engine.state, approval)
        if found is None or found.approved or now >= found.expires_at:
            known = self.ledger.approval(approval)
            if known is None:
                raise LookupError(f"no approval {approval!r} (`remediator approvals` lists them)")
            state = "being acted on" if found is not None else known.status
            raise ValueError(f"approval {approval} is no longer pending: it is {state}")
        target, rule = found.target, found.rule
        decided = threading.Event()
        seen: list[Decision] = []

        def listen(out: Output) -> None:
            if out.target == target and out.rule == rule and isinstance(out, Decision):
                seen.append(out)
                decided.set()

        self.driver.listeners.append(listen)
        try:
            outputs = self.driver.feed(ApprovalAnswer(approval, approve, by, reason, now))
            if not any(isinstance(o, ApprovalSettled) for o in outputs):
                raise ValueError(f"approval {approval} is no longer pending")
            self._act(
                "approve" if approve else "deny",
                target,
                by,
                reason,
                now,
                action=found.action,
                detail=f"approval {approval}",
            )
            if self._drain is not None:
                self._drain()
            decided.wait(self._wait)
        finally:
            self.driver.listeners.remove(listen)
        result: dict[str, Any] = {
            "id": approval,
            "decision": "approve" if approve else "deny",
            "by": by,
            "target": target,
            "rule": rule,
            "action": found.action,
            "blast_radius": blast_radius_of(found.action),
        }
        decision = seen[-1] if seen else None
        if decision is None:
            result |= {"outcome": "pending", "detail": "no decision yet; see status"}
        else:
            result |= {
                "outcome": decision.outcome,
                "reason": decision.reason,
                "detail": decision.detail,
            }
        return result

    def _default_action(self, target: str) -> str:
        """The first step of the target's first rule: never a cluster-wide guess."""
        rules = self.driver.engine.policy.rules_for(target)
        if not rules:
            raise ValueError(
                f"no rule applies to {target}: name the action (--action), one of "
                f"{', '.join(ACTIONS)}"
            )
        return rules[0].action
