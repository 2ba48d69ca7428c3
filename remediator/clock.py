"""The only module that reads real time; everything else takes a `Clock`."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time for records and signatures, monotonic time for intervals, and sleeping."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class OffsetClock(SystemClock):
    """The real clock shifted by `offset` seconds (a host whose clock drifted)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset


class SteadyClock:
    """Wall time that only ever moves with the monotonic clock: `now()` is the wall time read
    when it was made plus the monotonic time elapsed since.

    The daemon decides on it — schedules, cooldowns, budgets, verification deadlines, pauses
    — so that a step of the wall clock (NTP, a VM resumed, an operator's `date -s`) neither
    ends a cooldown early nor fakes a verification timeout nor stops the probes. It reads
    like wall time and equals it until the wall clock steps; `wall()` is the wall time itself
    (for signatures, the ledger and display) and `to_wall`/`from_wall` convert.
    """

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._wall0 = base.now()
        self._mono0 = base.monotonic()

    def now(self) -> float:
        return self._wall0 + (self.base.monotonic() - self._mono0)

    def monotonic(self) -> float:
        return self.base.monotonic()

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)

    def wall(self) -> float:
        """The wall clock's time now."""
        return self.base.now()

    def stepped(self) -> float:
        """How far the wall clock has been stepped since this clock was made (+ ahead)."""
        return self.base.now() - self.now()

    def to_wall(self, at: float) -> float:
        """A steady time as wall time (the wall clock's reading at that moment)."""
        return at + self.stepped()

    def from_wall(self, at: float) -> float:
        """A wall time as steady time."""
        return at - self.stepped()


def wall_clock(clock: Clock) -> Clock:
    """The wall clock under `clock` (itself, unless it is a SteadyClock)."""
    return clock.base if isinstance(clock, SteadyClock) else clock


def as_steady(clock: Clock, wall: float) -> float:
    """A wall time (from elsewhere: Alertmanager, the ledger) in `clock`'s time."""
    return clock.from_wall(wall) if isinstance(clock, SteadyClock) else wall


def as_wall(clock: Clock, at: float) -> float:
    """A time read from `clock` as wall time (for display and the ledger)."""
    return clock.to_wall(at) if isinstance(clock, SteadyClock) else at


class FakeClock:
    """A clock that moves only when told to; `sleep` advances it and records the wait."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock alone, as NTP or a VM resume does (monotonic time goes on)."""
        with self._lock:
            self._now += seconds
