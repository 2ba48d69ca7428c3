"""The ledger unwritable at the moment of a trip, under a real daemon process: another process
holding the SQLite file's write lock for 12 s (as a backup or an `sqlite3` shell does), or the
PostgreSQL server stopped for 20 s. While it lasts: no call, `/-/ready` 503,
`remediator_ledger_writable` 0; afterwards, the target remediated once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from remediator.clock import SystemClock
from remediator.sandbox import Sandbox
from tests.chaos.proc import ORDERS, Daemon
from tests.pg import Postgres
from tests.waiting import wait_for

CLOCK = SystemClock()


@dataclass
class Outage:
    """What was seen during and after one ledger outage."""

    what: str
    seconds: float
    calls_during: int = 0
    # /-/ready answered 200 after the daemon had seen the ledger unwritable, while it lasted
    ready_during: bool | None = None
    writable_metric_during: float | None = None  # 0 once seen 0 while it lasted
    noticed_after: float | None = None  # seconds until the metric said it
    calls_after: int = 0
    remediated: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """What must hold: nothing sent meanwhile, readiness and the metric said it, and one
        remediation after."""
        return (
            self.calls_during == 0
            and self.ready_during is False
            and self.writable_metric_during == 0.0
            and self.calls_after == 1
            and self.remediated == "recovered"
        )


def _failed_probes(d: Daemon) -> float:
    return d.metric('remediator_probes_total{result="failure",target="orders"}') or 0.0


def outage(
    d: Daemon,
    sb: Sandbox,
    what: str,
    seconds: float,
    begin: Callable[[], None],
    end: Callable[[], None],
) -> Outage:
    """Break CMAK; begin the outage just before the third failed probe trips the rule; hold it
    `seconds`; end it; follow the remediation."""
    seen = Outage(what=what, seconds=seconds)
    d.start()
    try:
        wait_for(d.ready, timeout=30, what="the daemon ready", detail=d.output)
        sb.break_tool(ORDERS, "down")
        wait_for(lambda: _failed_probes(d) >= 2, timeout=20, what="two failed probes")
        begin()
        start = CLOCK.monotonic()
        ready_seen = False
        metric: float | None = None
        while CLOCK.monotonic() < start + seconds:
            value = d.metric("remediator_ledger_writable")
            if value == 0.0 and seen.noticed_after is None:
                seen.noticed_after = CLOCK.monotonic() - start
            if seen.noticed_after is not None:
                ready_seen = ready_seen or d.ready()
            metric = value if metric != 0.0 else metric
            CLOCK.sleep(0.5)
        seen.ready_during = ready_seen
        seen.writable_metric_during = metric
        seen.calls_during = len(sb.action_calls(ORDERS))
        end()
        wait_for(
            lambda: [r[2] for r in d.rows()] in (["recovered"], ["not_recovered"]),
            timeout=90,
            what="the remediation after the outage",
            detail=lambda: d.output()[-3000:],
        )
        seen.calls_after = len(sb.action_calls(ORDERS))
        seen.remediated = str(d.rows()[0][2])
    except AssertionError as exc:
        seen.notes.append(str(exc)[:2000])
    finally:
        d.kill()
    return seen


def locked_sqlite(tmp: Path, sb: Sandbox, seconds: float = 12.0) -> Outage:
    """Another process holds the SQLite ledger's write lock for `seconds` at the trip."""
    d = Daemon(tmp, sb, cooldown="1h", grace="1s", verify="20s")
    holder: list[sqlite3.Connection] = []

    def begin() -> None:
        conn = sqlite3.connect(d.db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holder.append(conn)

    def end() -> None:
        holder[0].execute("ROLLBACK")
        holder[0].close()

    return outage(d, sb, f"SQLite write lock held {seconds:g} s", seconds, begin, end)


def stopped_postgres(tmp: Path, sb: Sandbox, server: Postgres, seconds: float = 20.0) -> Outage:
    """The PostgreSQL server stopped for `seconds` at the trip."""
    d = Daemon(tmp, sb, url=server.database(), cooldown="1h", grace="1s", verify="20s")
    return outage(d, sb, f"PostgreSQL stopped {seconds:g} s", seconds, server.halt, server.start)
