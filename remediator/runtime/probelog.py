"""What the log says of probes: a target's change of health, once, and while any target stays
down, one reminder line every few minutes — never a line per failed probe; and a cluster look
that finds its cluster unhealthy (`say_look`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from remediator.clock import Clock
from remediator.core.events import ProbeResult
from remediator.timetext import format_duration

log = logging.getLogger("remediator.runtime.daemon")

# While targets stay down, one reminder line this often (seconds), naming at most NAMED.
REMIND_EVERY = 300.0
NAMED = 10


@dataclass(slots=True)
class _Down:
    """A target whose probes fail: since when, how often, and the last reason."""

    since: float
    reason: str
    failures: int = 1


class ProbeLog:
    """Says when a target's probes start or stop failing, and reminds of those still failing."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._down: dict[str, _Down] = {}
        self._remind_at: float | None = None
        self._lock = threading.Lock()

    def note(self, result: ProbeResult) -> None:
        """Log `result` if it changes its target's health; remind when a reminder is due."""
        now = self._clock.now()
        with self._lock:
            down = self._down.get(result.target)
            if result.ok and down is not None:
                del self._down[result.target]
                log.info(
                    f"probe of {result.target} ok again after {down.failures} failed probe(s) "
                    f"over {format_duration(max(0.0, now - down.since))}",
                    extra={"target": result.target, "event": "probe"},
                )
            elif not result.ok and down is None:
                self._down[result.target] = _Down(now, result.reason)
                log.info(
                    f"probe of {result.target} failed: {result.reason}",
                    extra={"target": result.target, "reason": result.reason, "event": "probe"},
                )
                if self._remind_at is None:
                    self._remind_at = now + REMIND_EVERY
            elif down is not None:
                down.failures += 1
                down.reason = result.reason
            if not self._down:
                self._remind_at = None
            elif self._remind_at is not None and now >= self._remind_at:
                self._remind_at = now + REMIND_EVERY
                self._remind(now)

    def _remind(self, now: float) -> None:
        named = sorted(self._down.items(), key=lambda item: item[1].since)[:NAMED]
        parts = [
            f"{target} ({d.reason}; {d.failures} failed over "
            f"{format_duration(max(0.0, now - d.since))})"
            for target, d in named
        ]
        more = len(self._down) - len(named)
        log.info(
            f"probes still failing on {len(self._down)} target(s): {', '.join(parts)}"
            + (f" and {more} more" if more else ""),
            extra={"event": "probe", "failing": len(self._down)},
        )


def say_look(result: ProbeResult) -> ProbeResult:
    """Log a cluster look that found the cluster unhealthy; returns it."""
    if not result.ok and not result.inconclusive:
        log.info(
            f"cluster status of {result.target} unhealthy: {result.reason}",
            extra={"target": result.target, "reason": result.reason, "event": "cluster"},
        )
    return result
