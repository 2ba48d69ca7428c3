"""The whole fault campaign at full scale, and its one table of figures (`make chaos`).

Each part is the module the reduced tests use (`tests/chaos/test_*.py`), run bigger: 200
SIGKILLs, 100,000 fuzzed webhook bodies, 1,000 mutated configurations, a 60 s flood of 500
slow sockets, ±2 h wall-clock steps, the ledger unwritable at a trip (SQLite lock, PostgreSQL
stopped, a full disk), a full and a read-only state directory at start, and the gateway fault
matrix. A part that cannot run here (no root for tmpfs, no faketime, no PostgreSQL) says so in
its row instead of a figure.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from _pytest.outcomes import Failed, Skipped

from remediator.clock import FakeClock, SystemClock
from remediator.sandbox import Sandbox
from tests.chaos import clocksteps, configs, disk, flood, fuzz, gateway, kills, ledgerdown
from tests.chaos.proc import AK, ORDERS, SK, TOKEN, Daemon
from tests.harness import Harness
from tests.waiting import wait_for

CLOCK = SystemClock()
T = TypeVar("T")
ALERT = {  # aimed at no configured target
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "Elsewhere", "cluster_no": "9999999"},
            "startsAt": "2027-01-15T08:00:00Z",
            "fingerprint": "flood",
        }
    ],
}


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    part: str
    scale: str
    result: str
    goal: str
    held: bool


@contextmanager
def _sandbox() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


def sigkills(work: Path, n: int) -> list[Row]:
    """Kills at random points, each followed by a restart and a SIGTERM."""
    r = kills.campaign(work, kills=n)
    points = ", ".join(f"{k} {v}" for k, v in sorted(r.points.items()))
    return [
        Row(
            "SIGKILL at a random point of a remediation",
            f"{r.kills} kills ({points})",
            f"{r.duplicates} duplicate calls ({r.calls} calls); {r.lost_intents} lost intents; "
            f"{r.corrupt} corrupt ledgers ({2 * r.kills} integrity checks); {r.unsettled} rows "
            f"without a result after the restart; {r.unexplained} of {r.reconciled} reconciled "
            "rows not saying what is known",
            "all 0",
            not (r.duplicates or r.lost_intents or r.corrupt or r.unsettled or r.unexplained),
        ),
        Row(
            "SIGTERM of a running daemon",
            f"{r.sigterms} (after each restart above)",
            f"{r.sigterm_slow} still running after 10 s; {r.sigterm_failed} exits other than 0",
            "all 0",
            not (r.sigterm_slow or r.sigterm_failed),
        ),
    ]


def webhook_fuzz(work: Path, n: int, over_http: int) -> list[Row]:
    """Mutated bodies through the daemon's app, and some over its real listener."""
    clock = FakeClock()
    sb = Sandbox(access_key=AK, secret_key=SK, clock=clock).start()
    (work / "token").write_text(TOKEN)
    h = Harness(
        work,
        sb,
        clock,
        '  - {name: a, targets: ["*"], trigger: {alert: {alertname: CMAKDown}}, '
        "action: restart_cmak}\n",
        server=f'listen: "127.0.0.1:0", webhook_token: {{file: "{work / "token"}"}}',
    )
    try:
        logging.getLogger("remediator").setLevel(logging.INFO)
        result = fuzz.fuzz(h.daemon.http.app, TOKEN, fuzz.bodies(n, seed=14))
        h.executor.drain()
        h.daemon.http.start()
        import requests  # noqa: PLC0415

        url = f"http://127.0.0.1:{h.daemon.http.port}/api/v1/alerts/alertmanager"
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        real = [
            requests.post(url, data=b, headers=headers, timeout=10).status_code
            for b in fuzz.bodies(over_http, seed=15)
        ]
        h.daemon.http.close()
        actions = len(sb.action_calls())
    finally:
        h.daemon.ledger.close()
        sb.stop()
    codes = ", ".join(f"{c}: {k}" for c, k in sorted(result.codes.items()))
    high = sum(k for c, k in result.codes.items() if c >= 500) + sum(1 for c in real if c >= 500)
    return [
        Row(
            "Fuzzed webhook bodies (authenticated)",
            f"{n:,} through the app ({codes}); {over_http:,} over the listener",
            f"{high} answers ≥ 500; {actions} actions ({result.mapped} alerts mapped to a "
            f"target); at most {result.max_log_lines} log lines and {result.max_log_bytes} "
            "bytes per request",
            "0 ≥ 500, 0 actions, bounded log per request",
            high == 0 and actions == 0 and result.max_log_lines <= 2,
        )
    ]


def mutated_configs(work: Path, n: int) -> list[Row]:
    """Mutated configurations through check; the accepted ones run."""
    os.environ.update(configs.ENVIRON)
    with _sandbox() as sb:
        from tests.e2e import free_port  # noqa: PLC0415

        r = configs.campaign(
            work, n, 14, endpoint=sb.url, tool=sb.tool_url(ORDERS), port=free_port()
        )
    defects = "; ".join(r.problems[:3])
    return [
        Row(
            "Mutated configurations",
            f"{r.configs:,} (seeded mutations of a working main and rules file)",
            f"{r.refused} refused with exit 2 and FILE:LINE, no traceback; {r.accepted} accepted, "
            f"{r.runs - len([p for p in r.problems if 'run' in p])} of them run; "
            f"{len(r.problems)} defects" + (f" ({defects})" if defects else ""),
            "every refusal exit 2 with FILE:LINE; nothing accepted that run cannot run",
            not r.problems,
        )
    ]


def slow_sockets(work: Path, idle: int, trickling: int, seconds: float) -> list[Row]:
    """A daemon process's listener under idle and trickling sockets."""
    with _sandbox() as sb:
        d = Daemon(work, sb)
        try:
            d.start()
            wait_for(d.ready, timeout=30, what="the daemon ready", detail=d.output)
            r = flood.flood(
                "127.0.0.1",
                d.port,
                token=TOKEN,
                webhook_body=ALERT,
                idle=idle,
                trickling=trickling,
                seconds=seconds,
            )
        finally:
            d.kill()
    worst = {w: r.worst(w) for w in ("/-/ready", "/metrics", "webhook")}
    said = ", ".join(f"{w} {t * 1000:.0f} ms" for w, t in worst.items())
    return [
        Row(
            "Idle and trickling connections",
            f"{idle} idle + {trickling} trickling for {seconds:g} s "
            f"({r.reopened} reopened after the listener closed them)",
            f"slowest answer: {said}; an unauthenticated 2 MiB body refused from its headers in "
            f"{(r.big_body_refused_in or 0) * 1000:.0f} ms",
            "each within 1 s",
            all(t < 1.0 for t in worst.values()) and not r.failures,
        )
    ]


def clock_steps(work: Path) -> list[Row]:
    """±2 h steps of the wall clock under libfaketime."""
    steps = [
        clocksteps.during_cooldown(work / "a", "+2h"),
        clocksteps.during_cooldown(work / "b", "-2h"),
        clocksteps.during_verification(work / "c", "+2h"),
    ]
    back = clocksteps.back_while_running(work / "d", "-2h")
    extra = sum(max(0, s.actions - 1) for s in steps)
    false = sum(1 for s in steps if "not_recovered" in s.outcomes)
    notes = [n for s in [*steps, back] for n in s.notes]
    return [
        Row(
            "Wall-clock steps (libfaketime)",
            "+2 h and -2 h during a 1 h cooldown, +2 h during verification, -2 h while running",
            f"{extra} extra actions; {false} false not_recovered; after -2 h: "
            f"{back.pets_after} watchdog pets and {back.probes_after:.0f} probes in 6 s, "
            f"/-/healthy {'200' if back.healthy_after else 'not 200'}"
            + (f" ({notes[0][:200]})" if notes else ""),
            "0 extra, 0 false not_recovered, probes and watchdog uninterrupted",
            not notes and extra == 0 and false == 0 and back.pets_after >= 2,
        )
    ]


def ledger_outages(work: Path) -> list[Row]:
    """The ledger unwritable at the moment of a trip."""
    from tests.pg import Postgres  # noqa: PLC0415

    rows = []
    with _sandbox() as sb:
        outages: list[ledgerdown.Outage | str] = [ledgerdown.locked_sqlite(work / "lock", sb, 12.0)]
        sb.reset()
        sb.set_cmak_restart(ORDERS, "available")
        outages.append(_or_skip(lambda: disk.filling(work / "full", sb, 15.0)))
        sb.reset()
        sb.set_cmak_restart(ORDERS, "available")
        server = Postgres()
        try:
            outages.append(ledgerdown.stopped_postgres(work / "pg", sb, server, 20.0))
        finally:
            server.stop()
    for o in outages:
        if isinstance(o, str):
            rows.append(Row("Ledger unwritable at a trip", "state directory full", o, "", False))
            continue
        noticed = f"{o.noticed_after:.1f} s" if o.noticed_after is not None else "never"
        rows.append(
            Row(
                "Ledger unwritable at a trip",
                o.what,
                f"{o.calls_during} calls meanwhile; /-/ready 503 and remediator_ledger_writable "
                f"0 from {noticed} on ({'held' if not o.ready_during else 'NOT held'}); "
                f"{o.calls_after} call after, {o.remediated}"
                + (f" ({o.notes[0][:200]})" if o.notes else ""),
                "0 calls while unwritable; readiness and metric show it; remediated once after",
                o.held,
            )
        )
    return rows


def state_at_start(work: Path) -> list[Row]:
    """A state directory that cannot be written when the daemon starts."""
    rows = []
    with _sandbox() as sb:
        for read_only in (False, True):

            def start(ro: bool = read_only) -> disk.StartFailure:
                return disk.at_start(work / str(ro), sb, read_only=ro)

            seen = _or_skip(start)
            if isinstance(seen, str):
                rows.append(Row("State directory at start", "", seen, "", False))
                continue
            line = next((x for x in seen.output.splitlines() if "cannot start" in x), "")
            line = line.replace(str(work), "WORK")
            rows.append(
                Row(
                    "State directory at start",
                    seen.what,
                    f"exit {seen.code}: {line[:200]}",
                    "exit 1, a message naming the ledger, no traceback",
                    seen.clear,
                )
            )
    return rows


def gateway_matrix(work: Path) -> list[Row]:
    """Every gateway fault on the action and on the read before it."""
    seen = [gateway.incident(work / f"k{i}", kind) for i, kind in enumerate(gateway.kinds())]
    resends = sum(s.resends_after_unknown for s in seen)
    twice = sum(1 for s in seen if s.applied > 1)
    unknown = sum(1 for s in seen if s.result == "unknown")
    return [
        Row(
            "Gateway fault matrix",
            f"{len(seen)} kinds (NCP's error table, 5xx applied and not, a dropped connection, "
            "an applied call never answered; on the action and on the status read)",
            f"{resends} resends after an unknown outcome ({unknown} unknown outcomes); "
            f"{twice} calls carried out twice",
            "all 0",
            resends == 0 and twice == 0,
        )
    ]


def _or_skip(part: Callable[[], T]) -> T | str:
    """A part's result, or why it could not run here (no root for a tmpfs, no faketime)."""
    try:
        return part()
    except (Skipped, Failed) as exc:
        return f"not run: {exc}"


PARTS: dict[str, Callable[[Path, bool], list[Row]]] = {
    "kills": lambda w, q: sigkills(w, 12 if q else 200),
    "fuzz": lambda w, q: webhook_fuzz(w, 3_000 if q else 100_000, 100 if q else 1_000),
    "configs": lambda w, q: mutated_configs(w, 100 if q else 1_000),
    "flood": lambda w, q: slow_sockets(w, 150 if q else 300, 50 if q else 200, 5 if q else 60),
    "clock": lambda w, _q: clock_steps(w),
    "ledger": lambda w, _q: ledger_outages(w),
    "start": lambda w, _q: state_at_start(w),
    "gateway": lambda w, _q: gateway_matrix(w),
}


def run(work: Path, parts: list[str], quick: bool) -> list[Row]:
    """Run `parts` (all by default) in `work`; their rows, in order."""
    rows: list[Row] = []
    for name in parts:
        start = CLOCK.monotonic()
        print(f"chaos: {name} ...", flush=True)
        (work / name).mkdir(parents=True, exist_ok=True)
        try:
            found = PARTS[name](work / name, quick)
        except (Skipped, Failed) as exc:
            found = [Row(name, "", f"not run: {exc}", "", False)]
        except Exception:
            found = [Row(name, "", f"crashed: {traceback.format_exc()[-400:]}", "", False)]
        rows += found
        print(f"chaos: {name} done in {CLOCK.monotonic() - start:.0f} s", flush=True)
    return rows


def table(rows: list[Row]) -> str:
    """The figures as one Markdown table."""
    lines = ["| part | scale | result | goal | held |", "|---|---|---|---|---|"]
    for r in rows:
        cells = (r.part, r.scale, r.result, r.goal, "yes" if r.held else "**NO**")
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
