"""`remediator run`, unchanged, plus a scheduler listener that records each probe's lateness.

Usage: `python bench/daemon_shim.py OUT.json run -c CONFIG ...` — everything after OUT.json is
passed to remediator's own command line. Before the daemon starts its scheduler, a listener is
added through APScheduler's public `add_listener`; it records, for every `probe:*` job, when
it was submitted and when it finished relative to its scheduled (already jittered) run time,
and every missed or skipped run. The records are written to OUT.json when the daemon exits.

This measures what the daemon does not (yet) export itself: scheduling lateness. The cost is one
list append per event, two events per probe.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)

from remediator.cli import main
from remediator.clock import SystemClock
from remediator.runtime.daemon import Daemon

CLOCK = SystemClock()
MASK = (
    EVENT_JOB_SUBMITTED
    | EVENT_JOB_EXECUTED
    | EVENT_JOB_ERROR
    | EVENT_JOB_MISSED
    | EVENT_JOB_MAX_INSTANCES
)
KINDS = {
    EVENT_JOB_SUBMITTED: "submitted",
    EVENT_JOB_EXECUTED: "done",
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "skipped",
}
# (monotonic time of the event, kind, seconds after the scheduled run time)
RECORDS: list[tuple[float, str, float]] = []


def listener(event: Any) -> None:
    """Record one scheduler event of a probe job."""
    if not str(event.job_id).startswith("probe:"):
        return
    now, mono = CLOCK.now(), CLOCK.monotonic()
    kind = KINDS.get(event.code, "other")
    scheduled = getattr(event, "scheduled_run_time", None)
    if scheduled is None:
        scheduled = event.scheduled_run_times[-1]
    RECORDS.append((mono, kind, now - scheduled.timestamp()))


def run(argv: list[str]) -> int:
    """Run the daemon's command line with the listener in place; write the records at exit."""
    out, rest = argv[0], argv[1:]
    original_start = Daemon.start

    def start(self: Daemon) -> None:
        self.scheduler.add_listener(listener, MASK)
        original_start(self)

    Daemon.start = start  # type: ignore[method-assign]
    try:
        return main(rest)
    finally:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(RECORDS, f, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
