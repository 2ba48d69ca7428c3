"""`maintenance:` — recurring windows in which no action is taken on their targets (SPEC
section 10): a cron `schedule` for each window's start, in `timezone`, lasting `duration`.

The cron arithmetic and the clock changes are `windows.py`'s; here the entry is validated, so
that a bad schedule or zone is a `FILE:LINE` problem at load, not a surprise at 02:00.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PlainValidator

from remediator.config.model import Duration, Name, Section, Text, fail
from remediator.config.windows import Schedule, cron, zone


def _schedule(value: object) -> str:
    if not isinstance(value, str):
        fail(None, 'must be a cron schedule in quotes, e.g. "0 2 * * SUN" (02:00 every Sunday)')
    try:
        cron(value)
    except ValueError as exc:
        fail(None, str(exc))
    return value


def _timezone(value: object) -> str:
    if not isinstance(value, str):
        fail(None, "must be an IANA time zone name, e.g. Asia/Seoul")
    try:
        zone(value)
    except ValueError as exc:
        fail(None, str(exc))
    return value


Cron = Annotated[str, PlainValidator(_schedule)]
TimeZone = Annotated[str, PlainValidator(_timezone)]


class Maintenance(Section):
    """One entry of `maintenance:`: when its windows start (cron, minute hour day month
    weekday, 0 or 7 Sunday; a day of month and a weekday must both hold), for how long, and
    which targets (globs) they hold."""

    name: Name
    targets: Annotated[tuple[Text, ...], Field(min_length=1)] = ("*",)
    schedule: Cron
    duration: Duration
    timezone: TimeZone = "UTC"

    def windows(self) -> Schedule:
        """This entry's windows on the timeline."""
        return Schedule(self.name, self.schedule, self.duration, self.timezone)
