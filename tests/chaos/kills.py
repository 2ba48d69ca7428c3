"""The SIGKILL campaign: a daemon process killed at a random point of a remediation — before
the intent, between the intent and the call, during the call, during verification, after —
then started again on the same ledger, and finally stopped with SIGTERM.

Per kill: the gateway's restartCMAKService requests for the incident (more than one is a
duplicate: the cooldown is an hour), an intent for every call that reached the gateway,
`PRAGMA integrity_check` after the kill and at the end, every row with a result once the
restarted daemon has settled, and the SIGTERM's exit code and time.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from remediator.clock import SystemClock
from remediator.sandbox import Sandbox
from tests.chaos.proc import AK, ORDERS, SK, Daemon
from tests.waiting import wait_for

CLOCK = SystemClock()
FAILPOINTS = ("after_intent", "after_call")
_COUNTS = (
    "kills",
    "calls",
    "duplicates",
    "lost_intents",
    "corrupt",
    "rows",
    "reconciled",
    "unsettled",
    "unexplained",
    "sigterms",
    "sigterm_slow",
    "sigterm_failed",
)


@dataclass
class KillResult:
    """What the kills came to."""

    kills: int = 0
    calls: int = 0  # restartCMAKService requests that reached the gateway, all incidents
    duplicates: int = 0  # requests beyond the first of an incident
    lost_intents: int = 0  # incidents with a request at the gateway and no intent row
    corrupt: int = 0  # ledgers whose integrity_check was not "ok"
    rows: int = 0
    reconciled: int = 0  # rows a restart found without a result
    unsettled: int = 0  # rows still without a result after the restart settled
    unexplained: int = 0  # reconciled rows whose detail does not say what is known
    sigterms: int = 0
    sigterm_slow: int = 0  # not gone 10 s after SIGTERM
    sigterm_failed: int = 0  # an exit code other than 0
    points: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, other: KillResult) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for point, n in other.points.items():
            self.points[point] = self.points.get(point, 0) + n
        self.notes += other.notes


def _integrity(db: Path) -> bool:
    if not db.exists():
        return True
    conn = sqlite3.connect(db, timeout=10)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def _rows(db: Path) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return list(conn.execute("SELECT result, remediation, detail, mode FROM actions"))
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def kill_once(tmp: Path, sb: Sandbox, r: random.Random) -> KillResult:
    """One incident, one SIGKILL at a random point, one restart, one SIGTERM."""
    result = KillResult(kills=1)
    sb.reset()
    sb.set_cmak_restart(ORDERS, "available")
    if r.random() < 0.3:  # a slow gateway: more kills land during the call
        sb.inject_latency(r.uniform(1.0, 3.0), operation="restartCMAKService")
    d = Daemon(tmp, sb, cooldown="1h", grace="1s", verify="8s", ncp_timeout="5s")
    failpoint = r.choice(FAILPOINTS) if r.random() < 0.2 else None
    env = {"REMEDIATOR_FAILPOINT": failpoint} if failpoint else {}
    proc = d.start(env=env)
    try:
        wait_for(d.answers, timeout=30, what="the listener", detail=d.output)
        sb.break_tool(ORDERS, "down")
        if failpoint is not None:
            point = failpoint
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                result.notes.append(f"{tmp}: failpoint {failpoint} never reached")
                proc.kill()
        else:
            delay = r.uniform(0.0, 14.0)
            CLOCK.sleep(delay)
            point = _phase(d)
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        result.points[point] = 1
        result.corrupt += 0 if _integrity(d.db) else 1
        CLOCK.sleep(3.5)  # a call the gateway was still carrying out lands
        calls_at_kill = len(sb.action_calls(ORDERS))
        if calls_at_kill and not _rows(d.db):
            result.lost_intents += 1
        before = _rows(d.db)
        result.reconciled += sum(1 for row in before if row[0] is None and row[3] == "enforce")
        d.start()  # the restart, no failpoint
        wait_for(d.answers, timeout=30, what="the restarted listener", detail=d.output)
        wait_for(
            lambda: _settled(d.db),
            timeout=60,
            what="the incident to end after the restart",
            detail=lambda: d.output()[-3000:],
        )
        result.sigterms += 1
        assert d.proc is not None
        start = CLOCK.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        result.sigterm_slow += 1 if code is None or CLOCK.monotonic() - start >= 10 else 0
        result.sigterm_failed += 0 if code == 0 else 1
    finally:
        d.kill()
    rows = _rows(d.db)
    result.rows = len(rows)
    result.unsettled = sum(1 for row in rows if row[0] is None and row[3] == "enforce")
    result.unexplained = sum(
        1
        for row in rows
        if "the daemon stopped after recording the intent" in str(row[2])
        and ("may or may not have reached CDSS" not in str(row[2]) or row[0] != "unknown")
    )
    result.corrupt += 0 if _integrity(d.db) else 1
    calls = len(sb.action_calls(ORDERS))
    result.calls = calls
    result.duplicates = max(0, calls - 1)
    if result.duplicates or result.lost_intents or result.unsettled or result.unexplained:
        result.notes.append(f"{tmp}: {result}")
    return result


def _phase(d: Daemon) -> str:
    """Where the remediation stood when the kill came, from the ledger."""
    rows = _rows(d.db)
    if not rows:
        return "before the intent"
    result, remediation = rows[-1][0], rows[-1][1]
    if result is None:
        return "between intent and result"
    if remediation is None:
        return "during verification"
    return "after the remediation"


def _settled(db: Path) -> bool:
    rows = _rows(db)
    return bool(rows) and all(row[1] is not None for row in rows if row[3] == "enforce")


def campaign(tmp: Path, kills: int, seed: int = 14, workers: int = 4) -> KillResult:
    """`kills` kills, `workers` at a time (each with a sandbox of its own)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - the campaign only

    total = KillResult()

    def worker(w: int) -> KillResult:
        r = random.Random(seed * 1000 + w)
        mine = KillResult()
        box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
        try:
            for n in range(w, kills, workers):
                mine.add(kill_once(tmp / f"kill-{n}", box, r))
        finally:
            box.stop()
        return mine

    with ThreadPoolExecutor(workers) as pool:
        for part in pool.map(worker, range(workers)):
            total.add(part)
    return total
