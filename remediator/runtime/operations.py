"""What operators can do to a daemon's decisions: pause, resume, restart — one implementation,
used by the admin API of a running daemon and by the commands when no daemon runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from remediator.clock import Clock, as_wall
from remediator.core.decisions import BreakerChanged, Decision, Output
from remediator.core.events import ManualRestart, Pause, Resume
from remediator.core.guardrails import MANUAL
from remediator.core.rules import ACTIONS, blast_radius_of, manual_plan
from remediator.runtime.driver import Driver
from remediator.store import Ledger
from remediator.timetext import iso


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

    def pause(self, target: str | None, seconds: float, reason: str) -> dict[str, Any]:
        """Hold every action on `target` (all when None) for `seconds`."""
        self._target(target)
        if seconds <= 0:
            raise ValueError("the pause must last at least 1s")
        if not reason.strip():
            raise ValueError("a reason is required")
        now = self.clock.now()
        until = now + seconds
        self.ledger.record_pause(target=target, until=until, reason=reason, at=now)
        self.driver.feed(Pause(target, until, reason, now))
        return {"paused": target or "*", "until": iso(as_wall(self.clock, until)), "reason": reason}

    def resume(self, target: str | None, reset_breaker: bool) -> dict[str, Any]:
        """Lift a pause (all when None); close breakers too with `reset_breaker`."""
        self._target(target)
        now = self.clock.now()
        with self.driver.lock:
            engine = self.driver.engine
            names = [target] if target is not None else list(engine.targets)
            was_paused = any(engine.paused(name, now)[0] for name in names)
        self.ledger.clear_pause(target=target, at=now)
        outputs = self.driver.feed(Resume(target, now, reset_breaker=reset_breaker))
        closed = [
            f"{o.rule}/{o.target}" for o in outputs if isinstance(o, BreakerChanged) and not o.open
        ]
        return {"resumed": target or "*", "was_paused": was_paused, "breakers_closed": closed}

    def restart(
        self,
        target: str,
        action: str | None,
        reason: str,
        *,
        force: bool,
        reset_breaker: bool,
        dry_run: bool,
        allow_fallback: bool = False,
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
        decided = threading.Event()
        seen: list[Output] = []

        def listen(out: Output) -> None:
            if out.target == target and out.rule == MANUAL:
                seen.append(out)
                if isinstance(out, Decision):
                    decided.set()

        self.driver.listeners.append(listen)
        try:
            now = self.clock.now()
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
        return {
            "target": target,
            "action": chosen,
            "blast_radius": blast_radius_of(chosen),
            "plan": plan,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "detail": decision.detail,
        }

    def _default_action(self, target: str) -> str:
        """The first step of the target's first rule: never a cluster-wide guess."""
        rules = self.driver.engine.policy.rules_for(target)
        if not rules:
            raise ValueError(
                f"no rule applies to {target}: name the action (--action), one of "
                f"{', '.join(ACTIONS)}"
            )
        return rules[0].action
