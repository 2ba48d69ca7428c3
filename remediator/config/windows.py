"""When maintenance windows are: a cron schedule of starts in a time zone, and a duration.

APScheduler's `CronTrigger` does the cron arithmetic on wall-clock time (as if the zone had no
daylight saving); `zoneinfo` then places each wall-clock start on the timeline, so that the
clock changes come out as operators expect:

- a start in the hour skipped in spring (02:30 on the night clocks go 02:00 → 03:00) begins at
  the moment the clocks jump, as cron runs such jobs;
- a start in the hour repeated in autumn begins once, at its first occurrence;
- `duration` is elapsed time: a 2h window lasts two real hours across a change.

Pure: every time is a parameter (epoch seconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

# DST shifts are at most 2 hours; searching wall time from this much earlier finds every start.
_MARGIN = timedelta(hours=3)
# A schedule with more starts than this inside one window is open all the time anyway.
MAX_STARTS = 1000
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC_DAYS = re.compile(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?")


@dataclass(frozen=True)
class Window:
    """One maintenance window: `name`'s, from `start` to `end` (epoch seconds, end excluded)."""

    name: str
    start: float
    end: float
    timezone: str

    def local(self, at: float) -> str:
        """`at` on the window zone's clocks, to the minute, with its offset."""
        return datetime.fromtimestamp(at, zone(self.timezone)).isoformat(timespec="minutes")

    def describe(self) -> str:
        """`weekly-patching (Asia/Seoul): 2027-01-17T02:00+09:00 to 2027-01-17T04:00+09:00`."""
        return f"{self.name} ({self.timezone}): {self.local(self.start)} to {self.local(self.end)}"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (`Asia/Seoul`); ValueError naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin, UTC)"
        ) from None


def cron(expression: str) -> CronTrigger:
    """A five-field cron expression (`minute hour day month day-of-week`) on wall-clock time;
    ValueError saying what is wrong with it."""
    # Loaded here, not with the module: every command reads the config, and `--help` and the
    # operator commands must not pay for the scheduler.
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

    fields = expression.split()
    try:
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields, got {len(fields)}")
        fields[4] = _weekdays(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone=UTC)
    except ValueError as exc:
        raise ValueError(f"{expression!r} is not a cron schedule: {exc}") from None


def _weekdays(field: str) -> str:
    """Crontab's day-of-week numbers (0 or 7 Sunday) as names: APScheduler 3 counts from Monday.

    Numbers, ranges and steps become lists of names (`1-5` → `mon,tue,wed,thu,fri`); names
    are left to APScheduler.
    """
    if field == "*":
        return field
    out: list[str] = []
    for item in field.split(","):
        match = _NUMERIC_DAYS.fullmatch(item)
        if match is None:
            out.append(item)
            continue
        span, step = match.group(1), int(match.group(2) or 1)
        if span == "*":
            first, last = 0, 6
        else:
            head, _, tail = span.partition("-")
            first = int(head)
            last = int(tail) if tail else (6 if match.group(2) else first)
        if not 0 <= first <= last <= 7 or step < 1:
            raise ValueError(f"day of week {item!r}: days are 0-7 (0 and 7 are Sunday)")
        out += [_DAYS[day % 7] for day in range(first, last + 1, step)]
    return ",".join(dict.fromkeys(out))


class Schedule:
    """The windows of one `maintenance:` entry."""

    def __init__(self, name: str, expression: str, duration: float, timezone: str) -> None:
        self.name = name
        self.duration = duration
        self.timezone = timezone
        self._tz = zone(timezone)
        self._trigger = cron(expression)

    def starts(self, after: float) -> Iterator[float]:
        """Every window start at or after `after`, in order (epoch seconds)."""
        wall = self._wall(after) - _MARGIN
        previous: datetime | None = None
        last = None
        for _ in range(MAX_STARTS * 2):
            fire = self._trigger.get_next_fire_time(previous, wall)
            if fire is None:  # a schedule that never comes (Feb 30)
                return
            previous, wall = fire, fire + timedelta(seconds=1)
            start = self._instant(fire.replace(tzinfo=None))
            if start >= after and start != last:  # skipped-hour starts share one instant
                last = start
                yield start

    def current(self, now: float) -> Window | None:
        """The window open at `now` (overlapping windows as one), or None."""
        first: float | None = None
        end = now
        for count, start in enumerate(self.starts(now - self.duration)):
            if start + self.duration <= now:
                continue  # ended exactly at `now`
            if start > end or count >= MAX_STARTS:
                break
            first = start if first is None else first
            end = max(end, start + self.duration)
        return None if first is None else Window(self.name, first, end, self.timezone)

    def next(self, now: float) -> Window | None:
        """The first window that opens after `now` (after the current one, if open)."""
        current = self.current(now)
        after = current.end if current is not None else now
        for start in self.starts(after):
            if start > now:
                return Window(self.name, start, start + self.duration, self.timezone)
        return None

    def _wall(self, at: float) -> datetime:
        """The zone's wall-clock time at `at`, labelled UTC for the trigger's arithmetic."""
        local = datetime.fromtimestamp(at, self._tz).replace(tzinfo=None)
        return local.replace(tzinfo=UTC)

    def _instant(self, wall: datetime) -> float:
        """When the zone's clocks show `wall`: its first occurrence, or, for a time the clocks
        skipped, the moment they jumped."""
        first = wall.replace(tzinfo=self._tz, fold=0).timestamp()
        if datetime.fromtimestamp(first, self._tz).replace(tzinfo=None) == wall:
            return first
        # In a gap, fold=0 reads `wall` with the offset before the jump (later on the
        # timeline) and fold=1 with the one after (earlier): the jump is between them.
        lo, hi = wall.replace(tzinfo=self._tz, fold=1).timestamp(), first
        offset = self._offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) / 2
            if self._offset(mid) == offset:
                hi = mid
            else:
                lo = mid
        return float(round(hi))

    def _offset(self, at: float) -> timedelta | None:
        return datetime.fromtimestamp(at, self._tz).utcoffset()
