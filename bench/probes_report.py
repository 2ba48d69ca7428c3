"""What the probe benchmark measured, how each goal is judged, and the report (table + JSON).

Not a script: `bench/probes.py` imports it (its folder is `sys.path[0]`).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from common import GOAL_LATENESS_P99, hangs, percentile

import remediator
from remediator import __version__

GOAL_MISSED = 0
GOAL_CPU_SHARE = 0.50  # of one core
GOAL_RATIO = 0.80  # CPU per 1,000 healthy probes, remediator / blackbox exporter
GOAL_LOG_PER_MINUTE = 100
GOAL_SCRAPE_CPU = 0.100  # seconds of the daemon's CPU per /metrics scrape
GOAL_STARTUP = 3.0  # seconds to ready, up to 5,000 targets


def rss_goal_mib(targets: int) -> float | None:
    """The RSS goal at this many targets (none above 5,000)."""
    if targets <= 1000:
        return 60.0
    return 80.0 if targets <= 5000 else None


# After the window, wait this much more than one interval (+ jitter) so that a run due inside
# the window but missing shows as a gap rather than disappearing off the end.
TAIL_SLACK = 2.0


def daemon_jitter(interval: float) -> float:
    """The jitter remediator's scheduler adds to each probe run (none since the first stagger
    alone spreads the probes; kept as a function so that an older tree can be measured)."""
    return 0.0 * interval


@dataclass
class Window:
    """What one process used over the measurement window (monotonic seconds)."""

    start: float
    end: float
    cpu: float
    rss_max_kib: int
    hwm_kib: int
    threads: int

    @property
    def seconds(self) -> float:
        """The window's length."""
        return self.end - self.start


@dataclass
class ArrivalStats:
    """What the target saw of one prober during the window."""

    probes: int  # arrivals inside the window
    missed: int  # runs that never arrived (from gaps between arrivals)
    deviations: list[float]  # inter-arrival time minus the interval, for gaps in the window
    never_probed: int  # targets with no arrival at all


def analyse_arrivals(
    times: dict[int, list[float]],
    targets: int,
    window: Window,
    tail_end: float,
    interval: float,
    jitter: float,
) -> ArrivalStats:
    """Count probes in the window and missed runs, from each target's arrival times.

    APScheduler 3 adds each run's jitter (uniform 0..jitter) to the previous *jittered* run time,
    so runs are on average `interval + jitter / 2` apart; a gap of about k such periods is k - 1
    missed runs. A target whose last arrival is before the window's end and that saw nothing in
    the tail (more than one interval + jitter + TAIL_SLACK) missed at least one run.
    """
    period = interval + jitter / 2
    probes = missed = never = 0
    deviations: list[float] = []
    for n in range(targets):
        ts = sorted(t for t in times.get(n, ()) if t <= tail_end)
        if not ts:
            never += 1
            missed += max(1, round(window.seconds / period))
            continue
        probes += sum(1 for t in ts if window.start <= t < window.end)
        if ts[0] >= window.start:
            missed += max(1, round((ts[0] - window.start) / period))
        for a, b in pairwise(ts):
            if b <= window.start or a >= window.end:
                continue
            deviations.append(b - a - interval)
            missed += max(0, round((b - a) / period) - 1)
        if ts[-1] < window.end:
            missed += max(1, round((window.end - ts[-1]) / period))
    return ArrivalStats(probes, missed, deviations, never)


@dataclass
class Scrape:
    """What a scrape of the daemon's /metrics costs it, and what it holds."""

    cpu_gross: float  # CPU seconds of the daemon during one scrape (median of the blocks)
    cpu_net: float  # the same less what probing costs over the scrape's wall time
    seconds: float  # wall time of one scrape
    series: int
    created: int  # `*_created` series


@dataclass
class DaemonRun:
    """What the daemon phase measured."""

    window: Window
    tail_end: float
    startup: float
    rss_ready_kib: int
    records: list[tuple[float, str, float, int]] | None  # from daemon_shim; None with --plain
    metrics: dict[str, float]
    pool_note: str
    log_window: int  # log lines written during the window
    log_before: int  # log lines written before the window (start-up and warm-up)
    log_levels: dict[str, int]  # whole run
    scrape: Scrape | None


@dataclass
class ExporterRun:
    """What the exporter phase measured."""

    window: Window
    tail_end: float
    version: str
    ok: int
    failed: int
    driver_lateness_p99: float | None


# -- the report --------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds for the table."""
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def num(value: float | None, digits: int = 2) -> str:
    """A number for the table."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A number for the JSON line."""
    return None if value is None else round(value, digits)


@dataclass
class Goal:
    """One goal: its value, its threshold, and the verdict (None: not judged in this run)."""

    key: str
    label: str
    value: float | None
    shown: str
    target: str
    ok: bool | None

    def line(self) -> str:
        """Its line in the table."""
        verdict = "-" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return f"{self.label:44}{self.shown:>16}  {self.target:>12}  {verdict}"


def summarise(
    args: argparse.Namespace,
    daemon: DaemonRun,
    target_times: dict[str, dict[int, list[float]]],
    exporter: ExporterRun | None,
    baseline_problem: str | None,
) -> tuple[list[str], dict[str, Any], bool]:
    """The table's lines, the JSON document, and whether every goal judged passed."""
    jitter = daemon_jitter(args.interval)
    nominal = args.targets * args.seconds / args.interval
    hanging = {n for n in range(args.targets) if hangs(n, args.hang_fraction)}
    d = analyse_arrivals(
        target_times.get("r", {}),
        args.targets,
        daemon.window,
        daemon.tail_end,
        args.interval,
        jitter,
    )
    d_cpu_k = daemon.window.cpu / d.probes * 1000 if d.probes else None
    cpu_share = daemon.window.cpu / daemon.window.seconds

    done: list[float] = []  # scheduled -> finished, targets that answer
    done_hanging: list[float] = []
    started: list[float] = []  # scheduled -> started, every target
    sched_missed = 0
    if daemon.records is not None:
        w = daemon.window
        for mono, kind, late, n in daemon.records:
            if not w.start <= mono < w.end:
                continue
            if kind == "done":
                (done_hanging if n in hanging else done).append(late)
            elif kind == "submitted":
                started.append(late)
            elif kind in ("missed", "skipped", "error"):
                sched_missed += 1
    deviation = [abs(x) for x in d.deviations]
    mean_period = args.interval + sum(d.deviations) / len(d.deviations) if d.deviations else None
    cdss_calls = sum(
        1
        for t in target_times.get("c", {}).get(-1, [])
        if daemon.window.start <= t < daemon.window.end
    )
    m = daemon.metrics
    probe_mean = m["duration_sum"] / m["duration_count"] if m["duration_count"] else None
    log_per_minute = daemon.log_window * 60 / daemon.window.seconds

    e: ArrivalStats | None = None
    e_cpu_k = ratio = None
    if exporter is not None:
        e = analyse_arrivals(
            target_times.get("b", {}),
            args.targets,
            exporter.window,
            exporter.tail_end,
            args.interval,
            0.0,
        )
        e_cpu_k = exporter.window.cpu / e.probes * 1000 if e.probes else None
        if d_cpu_k is not None and e_cpu_k:
            ratio = d_cpu_k / e_cpu_k

    def pair(dv: str, ev: str = "") -> str:
        return f"{dv:>16}  {ev if exporter is not None else '(no baseline)':>20}"

    ew = exporter.window if exporter is not None else None
    e_dev = [abs(x) for x in e.deviations] if e else []
    cores = os.cpu_count() or 1
    sc = daemon.scrape
    rows: list[tuple[str, str]] = [
        (
            f"probes in window (nominal {nominal:.0f})",
            pair(str(d.probes), str(e.probes if e else "")),
        ),
        (
            "probes per second",
            pair(
                num(d.probes / daemon.window.seconds, 1),
                num(e.probes / ew.seconds, 1) if e and ew else "",
            ),
        ),
        ("CPU seconds in window", pair(num(daemon.window.cpu), num(ew.cpu) if ew else "")),
        ("CPU seconds per 1,000 probes", pair(num(d_cpu_k, 3), num(e_cpu_k, 3))),
        (
            "CPU, % of one core",
            pair(num(100 * cpu_share, 1), num(100 * ew.cpu / ew.seconds, 1) if ew else ""),
        ),
        (
            "RSS max in window (MiB)",
            pair(
                num(daemon.window.rss_max_kib / 1024, 1),
                num(ew.rss_max_kib / 1024, 1) if ew else "",
            ),
        ),
        (
            "RSS peak, VmHWM (MiB)",
            pair(num(daemon.window.hwm_kib / 1024, 1), num(ew.hwm_kib / 1024, 1) if ew else ""),
        ),
        ("threads (max)", pair(str(daemon.window.threads), str(ew.threads) if ew else "")),
        ("missed runs (target side)", pair(str(d.missed), str(e.missed) if e else "")),
        (
            "missed runs (daemon)",
            pair(str(sched_missed) if daemon.records is not None else "n/a (--plain)", "-"),
        ),
        (
            "probe failures (whole run)",
            pair(f"{m['probes_failure']:.0f}", str(exporter.failed) if exporter else ""),
        ),
        ("mean probe duration", pair(ms(probe_mean), "-")),
        (f"signed CDSS calls in window ({args.cdss})", pair(str(cdss_calls), "-")),
        ("lateness p50, scheduled -> started", pair(ms(percentile(started, 50)), "-")),
        ("lateness p99, scheduled -> started", pair(ms(percentile(started, 99)), "-")),
        ("lateness max, scheduled -> started", pair(ms(max(started, default=None)), "-")),
        ("lateness p99, scheduled -> finished", pair(ms(percentile(done, 99)), "-")),
        (
            "  hanging targets: scheduled -> failed, p50",
            pair(ms(percentile(done_hanging, 50)), "-"),
        ),
        (
            "|inter-arrival - interval| p50 / p99",
            pair(
                f"{ms(percentile(deviation, 50))} / {ms(percentile(deviation, 99))}",
                f"{ms(percentile(e_dev, 50))} / {ms(percentile(e_dev, 99))}" if e else "",
            ),
        ),
        (
            "mean period between probes",
            pair(f"{num(mean_period, 3)} s", f"{args.interval} s (driver)"),
        ),
        ("log lines: start-up and warm-up", pair(str(daemon.log_before), "-")),
        (
            "log lines in window (per minute)",
            pair(f"{daemon.log_window} ({log_per_minute:.0f})", "-"),
        ),
        (
            "log lines by level (whole run)",
            pair(
                ", ".join(f"{k} {v}" for k, v in sorted(daemon.log_levels.items())) or "none", "-"
            ),
        ),
        (
            "/metrics: series, of them _created",
            pair(f"{sc.series}, {sc.created}" if sc else "n/a", "-"),
        ),
        (
            "/metrics scrape: CPU gross / net, wall",
            pair(f"{ms(sc.cpu_gross)} / {ms(sc.cpu_net)}, {ms(sc.seconds)}" if sc else "n/a", "-"),
        ),
        ("start-up to ready", pair(f"{daemon.startup:.1f} s", "-")),
        ("RSS at ready (MiB)", pair(num(daemon.rss_ready_kib / 1024, 1), "-")),
    ]

    # A run the daemon missed never arrives either, so the target-side count includes it; the
    # larger of the two, not their sum.
    missed_total = max(d.missed, sched_missed)
    dev_p99 = percentile(deviation, 99)
    started_p99 = percentile(started, 99) if daemon.records is not None else None
    done_p99 = percentile(done, 99) if daemon.records is not None else None
    rss_goal = rss_goal_mib(args.targets)
    hwm = daemon.window.hwm_kib / 1024
    judge_ratio = ratio is not None and not hanging
    goals = [
        Goal(
            "missed_runs",
            "missed runs",
            missed_total,
            str(missed_total),
            f"= {GOAL_MISSED}",
            missed_total == GOAL_MISSED,
        ),
        Goal(
            "interarrival_dev_p99_s",
            "|inter-arrival - interval| p99 (target side)",
            dev_p99,
            ms(dev_p99),
            f"< {ms(GOAL_LATENESS_P99)}",
            dev_p99 is not None and dev_p99 < GOAL_LATENESS_P99,
        ),
        Goal(
            "started_lateness_p99_s",
            "lateness p99, scheduled -> started",
            started_p99,
            ms(started_p99),
            f"< {ms(GOAL_LATENESS_P99)}",
            None if started_p99 is None else started_p99 < GOAL_LATENESS_P99,
        ),
        Goal(
            "finished_lateness_p99_s",
            "lateness p99, scheduled -> finished (ok)",
            done_p99,
            ms(done_p99),
            f"< {ms(GOAL_LATENESS_P99)}",
            None if done_p99 is None else done_p99 < GOAL_LATENESS_P99,
        ),
        Goal(
            "cpu_share",
            "CPU, share of one core",
            cpu_share,
            f"{100 * cpu_share:.1f} %",
            f"< {100 * GOAL_CPU_SHARE:.0f} %",
            cpu_share < GOAL_CPU_SHARE,
        ),
        Goal(
            "ratio_cpu_per_1k",
            "CPU per 1,000 probes / exporter's",
            ratio,
            f"{ratio:.2f}x" if ratio is not None else "n/a",
            f"<= {GOAL_RATIO:.2f}x",
            (ratio <= GOAL_RATIO) if judge_ratio and ratio is not None else None,
        ),
        Goal(
            "rss_hwm_mib",
            "RSS peak (VmHWM)",
            hwm,
            f"{hwm:.1f} MiB",
            f"<= {rss_goal:.0f} MiB" if rss_goal else "-",
            None if rss_goal is None else hwm <= rss_goal,
        ),
        Goal(
            "log_lines_per_minute",
            "log lines per minute in window",
            log_per_minute,
            f"{log_per_minute:.0f}",
            f"<= {GOAL_LOG_PER_MINUTE}",
            log_per_minute <= GOAL_LOG_PER_MINUTE,
        ),
        Goal(
            "scrape_cpu_s",
            "/metrics scrape CPU (net), no _created",
            sc.cpu_net if sc else None,
            ms(sc.cpu_net) if sc else "n/a",
            f"<= {ms(GOAL_SCRAPE_CPU)}",
            None if sc is None else sc.cpu_net <= GOAL_SCRAPE_CPU and sc.created == 0,
        ),
        Goal(
            "startup_s",
            "start-up to ready",
            daemon.startup,
            f"{daemon.startup:.1f} s",
            f"<= {GOAL_STARTUP:.0f} s",
            daemon.startup <= GOAL_STARTUP if args.targets <= 5000 else None,
        ),
    ]
    passed = all(g.ok is not False for g in goals)

    lines = [
        f"remediator {__version__} probe benchmark: {args.targets} targets, kind: http, every "
        f"{args.interval} s, timeout {args.timeout} s, {len(hanging)} hanging "
        f"(--hang-fraction {args.hang_fraction:g})",
        f"window {args.seconds} s after a {args.warmup} s warm-up, each prober on its own; "
        f"{cores} CPUs, Python {platform.python_version()}, {platform.machine()}, "
        f"tree {source_revision()}",
        "baseline: "
        + (exporter.version if exporter is not None else f"NONE ({baseline_problem or 'not run'})"),
        "",
        f"{'':44}{'remediator':>16}  {'blackbox exporter':>20}",
        *(f"{label:44}{value}" for label, value in rows),
        "",
        "CPU per 1,000 probes, remediator / blackbox exporter: "
        + (f"{ratio:.2f}x" if ratio is not None else "n/a (no baseline)")
        + ("" if not hanging else " (not judged with hanging targets)"),
        f"daemon: {daemon.pool_note}",
        "",
        f"{'goal':44}{'value':>16}  {'target':>12}  verdict",
        *(g.line() for g in goals),
    ]
    document: dict[str, Any] = {
        "bench": "probes",
        "version": __version__,
        "targets": args.targets,
        "hanging": len(hanging),
        "hang_fraction": args.hang_fraction,
        "interval_s": args.interval,
        "timeout_s": args.timeout,
        "window_s": args.seconds,
        "warmup_s": args.warmup,
        "cpus": cores,
        "revision": source_revision(),
        "daemon": {
            "mode": "plain" if args.plain else "shim",
            "probes": d.probes,
            "cpu_s": rounded(daemon.window.cpu),
            "cpu_s_per_1k_probes": rounded(d_cpu_k),
            "cpu_share": rounded(cpu_share),
            "rss_max_mib": rounded(daemon.window.rss_max_kib / 1024, 1),
            "rss_hwm_mib": rounded(hwm, 1),
            "rss_ready_mib": rounded(daemon.rss_ready_kib / 1024, 1),
            "missed_runs_target_side": d.missed,
            "missed_runs_daemon": sched_missed if daemon.records is not None else None,
            "probe_failures": int(m["probes_failure"]),
            "started_lateness_p50_s": rounded(percentile(started, 50)),
            "started_lateness_p99_s": rounded(started_p99),
            "started_lateness_max_s": rounded(max(started, default=None)),
            "finished_lateness_p99_s": rounded(done_p99),
            "interarrival_dev_p50_s": rounded(percentile(deviation, 50)),
            "interarrival_dev_p99_s": rounded(dev_p99),
            "mean_period_s": rounded(mean_period),
            "startup_s": rounded(daemon.startup, 2),
            "log_lines_before_window": daemon.log_before,
            "log_lines_window": daemon.log_window,
            "log_levels": daemon.log_levels,
            "scrape": None
            if sc is None
            else {
                "cpu_gross_s": rounded(sc.cpu_gross),
                "cpu_net_s": rounded(sc.cpu_net),
                "wall_s": rounded(sc.seconds),
                "series": sc.series,
                "created": sc.created,
            },
            "cdss": args.cdss,
            "cdss_calls": cdss_calls,
        },
        "baseline": None
        if exporter is None or e is None
        else {
            "name": "prometheus-blackbox-exporter",
            "version": exporter.version,
            "probes": e.probes,
            "cpu_s": rounded(exporter.window.cpu),
            "cpu_s_per_1k_probes": rounded(e_cpu_k),
            "rss_max_mib": rounded(exporter.window.rss_max_kib / 1024, 1),
            "rss_hwm_mib": rounded(exporter.window.hwm_kib / 1024, 1),
            "missed_runs_target_side": e.missed,
            "interarrival_dev_p99_s": rounded(percentile(e_dev, 99)),
            "probe_failures": exporter.failed,
            "driver_lateness_p99_s": rounded(exporter.driver_lateness_p99),
        },
        "baseline_problem": baseline_problem,
        "ratio_cpu_per_1k": rounded(ratio, 3),
        "goals": {
            g.key: {
                "value": rounded(g.value) if isinstance(g.value, float) else g.value,
                "target": g.target,
                "pass": g.ok,
            }
            for g in goals
        },
        "pass": passed,
    }
    return lines, document, passed


def source_revision() -> str:
    """The commit of the remediator being measured (`-dirty`: local changes), else its path."""
    root = str(Path(remediator.__file__).resolve().parent.parent)
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"unknown (from {root})"
    return head + ("-dirty" if dirty else "")
