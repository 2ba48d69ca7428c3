"""When each target is probed: every `interval`, by timers on the probe loop.

A target's runs are due on a fixed grid — its staggered first run plus whole intervals, so that
periods never drift — and each run is a task on the loop, bounded by its probe's deadline: no
probe, however stuck, holds a thread or delays another. A run the loop could not start within
half an interval (the loop was blocked) is missed: counted, said at most once a minute, never
made up in a burst. A run due while the same target's previous probe is still going (timeout =
interval) starts as soon as that one ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from remediator.config.health import HealthCheck
from remediator.core.events import ProbeResult
from remediator.probe.loop import ProbeLoop

log = logging.getLogger("remediator.probe")

RunKind = Literal["started", "finished", "missed"]
# (kind, target, when the run was due, when this happened), both in the loop's monotonic time.
Observer = Callable[[RunKind, str, float, float], None]
Probe = Callable[[HealthCheck], Awaitable[ProbeResult]]
Deliver = Callable[[ProbeResult], None]

# First runs are spread over one interval, plus up to this much (seconds) at random.
JITTER = 0.1
# Missed runs are said at most this often (seconds).
WARN_EVERY = 60.0


def grace(interval: float) -> float:
    """How late a run may start and still run (the rest is missed)."""
    return max(1.0, interval / 2)


def catch_up(due: float, interval: float, now: float) -> tuple[bool, list[float], float]:
    """At `now`, for a run due at `due`: whether to run now, the due times missed, and when
    the next run is due.

    Of the runs due by `now`, the last one runs if it is at most `grace` late (the earlier ones
    are missed); otherwise all of them are missed.
    """
    passed = max(0, int((now - due) // interval))
    last = due + passed * interval
    run = now - last <= grace(interval)
    missed = [due + k * interval for k in range(passed if run else passed + 1)]
    return run, missed, last + interval


@dataclass(eq=False, slots=True)
class _Slot:
    """One target's place in the schedule."""

    check: HealthCheck
    due: float
    timer: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = None  # the run in flight, if any

    def ended(self, task: asyncio.Task[None]) -> None:
        """`task` is done: let it go (a done task kept per target, with its coroutine and its
        place in asyncio's task set, cost ~0.7 KiB a target)."""
        if self.task is task:
            self.task = None


class ProbeSchedule:
    """Runs `probe` for every check on its interval, on the probe loop, and hands each result
    to `deliver` (called on the loop: it must not block)."""

    def __init__(
        self,
        loop: ProbeLoop,
        probe: Probe,
        deliver: Deliver,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._probes = loop
        self._probe = probe
        self._deliver = deliver
        self._jitter = jitter
        self._wanted: tuple[HealthCheck, ...] = ()
        self._slots: dict[str, _Slot] = {}
        self._running = False
        self._failing: set[str] = set()
        self._missed_unsaid = 0
        self._said_at = -WARN_EVERY
        self.missed = 0  # runs missed since start
        self.observers: list[Observer] = []

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets probed (once started), in configuration order."""
        return tuple(c.target for c in self._wanted)

    def set(self, checks: Sequence[HealthCheck]) -> None:
        """Probe exactly `checks` from now on (from any thread): a new target from a staggered
        first run, a kept one on its grid (unless its interval changed), a removed one no more."""
        self._wanted = tuple(checks)
        if self._running:
            self._probes.call(self._apply, self._wanted)

    def start(self) -> None:
        """Begin probing on the (running) probe loop."""
        self._running = True
        self._probes.call(self._apply, self._wanted)

    def stop(self) -> None:
        """Stop starting runs (those in flight end with the loop)."""
        if self._running:
            self._running = False
            self._probes.call(self._apply, ())

    # -- on the loop -----------------------------------------------------------------------

    def _apply(self, checks: tuple[HealthCheck, ...]) -> None:
        loop = self._probes.loop
        now = loop.time()
        wanted = {c.target: c for c in checks}
        for target in [t for t in self._slots if t not in wanted]:
            slot = self._slots.pop(target)
            if slot.timer is not None:
                slot.timer.cancel()
            if slot.task is not None:
                slot.task.cancel()
        for i, check in enumerate(checks):
            old = self._slots.get(check.target)
            if old is not None and old.check.interval == check.interval:
                old.check = check
                continue
            if old is not None and old.timer is not None:
                old.timer.cancel()
            # Stagger first runs across one interval so that probes do not move in lockstep.
            due = now + check.interval * i / len(checks) + JITTER * self._jitter()
            slot = _Slot(check, due, task=old.task if old is not None else None)
            self._slots[check.target] = slot
            slot.timer = loop.call_at(due, self._fire, slot)

    def _fire(self, slot: _Slot) -> None:
        loop = self._probes.loop
        now = loop.time()
        check = slot.check
        run, missed, slot.due = catch_up(slot.due, check.interval, now)
        slot.timer = loop.call_at(slot.due, self._fire, slot)
        if missed:
            self._count_missed(check.target, missed, now)
        if run:
            previous = slot.task if slot.task is not None and not slot.task.done() else None
            task = loop.create_task(self._run(check, slot.due - check.interval, previous))
            task.add_done_callback(slot.ended)
            slot.task = task

    async def _run(
        self, check: HealthCheck, due: float, previous: asyncio.Task[None] | None
    ) -> None:
        loop = self._probes.loop
        if previous is not None:
            await asyncio.wait([previous])
        if self.observers:
            self._observe("started", check.target, due, loop.time())
        try:
            result = await self._probe(check)
        except Exception:  # our bug or misconfiguration, not the target's health
            if check.target not in self._failing:
                self._failing.add(check.target)
                log.exception(
                    f"could not probe {check.target} (said once, until it works again)",
                    extra={"event": "probe", "target": check.target},
                )
            return
        self._failing.discard(check.target)
        self._deliver(result)
        if self.observers:
            self._observe("finished", check.target, due, loop.time())

    def _count_missed(self, target: str, missed: list[float], now: float) -> None:
        self.missed += len(missed)
        self._missed_unsaid += len(missed)
        for due in missed if self.observers else ():
            self._observe("missed", target, due, now)
        if now - self._said_at >= WARN_EVERY:
            log.warning(
                f"probes fell behind: {self._missed_unsaid} run(s) missed since the last such "
                "line (the probe loop was blocked); missed runs are not made up",
                extra={"event": "probe", "missed": self._missed_unsaid},
            )
            self._said_at, self._missed_unsaid = now, 0

    def _observe(self, kind: RunKind, target: str, due: float, at: float) -> None:
        for observer in self.observers:
            observer(kind, target, due, at)
