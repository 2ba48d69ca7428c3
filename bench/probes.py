"""Probe benchmark: remediator at 1,000 targets against prometheus-blackbox-exporter, one run.

    .venv/bin/python bench/probes.py [--targets 1000] [--interval 15] [--seconds 60]

Starts a fast local HTTP target (its own process), then runs, one after the other so that they
never compete for the CPUs:

1. the real daemon (`remediator run`, through bench/daemon_shim.py unless --plain) probing
   `http://127.0.0.1:PORT/t/<n>` for every target every interval;
2. the blackbox exporter probing the same URLs through `/probe`, driven on the same schedule by
   a small thread pool in this process.

For each, after a warm-up, it measures over the same window the prober's CPU seconds (utime +
stime from /proc/PID/stat) per 1,000 probes that reached the target, and its RSS; for the
daemon also missed runs and scheduling lateness. It prints a table, PASS/FAIL per goal, and one
JSON line last. Exit 0 when every goal passes (also with no baseline), 1 when a goal fails,
2 when the benchmark could not run, 130 when interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import requests
from common import (
    CLOCK,
    GOAL_LATENESS_P99,
    HERE,
    BenchError,
    Processes,
    child_env,
    cpu_seconds,
    ensure_alive,
    free_port,
    log_tail,
    percentile,
    raise_on,
    results,
    run_guarded,
    say,
    start_target,
    target_entry,
)
from requests.adapters import HTTPAdapter

import remediator
from remediator import __version__

EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
GOAL_MISSED = 0
# After the window, wait this much more than one interval (+ jitter) so that a run due inside
# the window but missing shows as a gap rather than disappearing off the end.
TAIL_SLACK = 2.0


def daemon_jitter(interval: float) -> float:
    """The jitter remediator's scheduler adds to each probe run (none since the first stagger
    alone spreads the probes; kept as a function so that an older tree can be measured)."""
    return 0.0 * interval


# -- processes ---------------------------------------------------------------------------------


def sleep_alive(proc: subprocess.Popen[bytes], name: str, log: Path, until: float) -> None:
    """Sleep until monotonic time `until`, checking every second that `proc` still runs."""
    while (left := until - CLOCK.monotonic()) > 0:
        ensure_alive(proc, name, log)
        CLOCK.sleep(min(1.0, left))
    ensure_alive(proc, name, log)


def wait_http(
    session: requests.Session,
    url: str,
    proc: subprocess.Popen[bytes],
    name: str,
    log: Path,
    timeout: float,
) -> None:
    """Wait until `url` answers 200."""
    deadline = CLOCK.monotonic() + timeout
    while CLOCK.monotonic() < deadline:
        ensure_alive(proc, name, log)
        try:
            if session.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        CLOCK.sleep(0.2)
    raise BenchError(f"{name} did not answer 200 on {url} within {timeout:.0f}s")


def new_session(pool: int = 4) -> requests.Session:
    """An HTTP session for loopback calls: no proxies, `pool` keep-alive connections."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool, max_retries=0)
    session.mount("http://", adapter)
    return session


# -- measuring a process -----------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) and Threads of `pid`."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


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


def measure(proc: subprocess.Popen[bytes], name: str, log: Path, seconds: float) -> Window:
    """CPU over the next `seconds`, and the largest RSS sampled every second meanwhile."""
    ensure_alive(proc, name, log)
    start, cpu0 = CLOCK.monotonic(), cpu_seconds(proc.pid)
    end = start + seconds
    rss = threads = 0
    while True:
        status = proc_status(proc.pid)
        rss, threads = max(rss, status.get("VmRSS", 0)), max(threads, status.get("Threads", 0))
        left = end - CLOCK.monotonic()
        if left <= 0:
            break
        CLOCK.sleep(min(1.0, left))
        ensure_alive(proc, name, log)
    cpu1, stop = cpu_seconds(proc.pid), CLOCK.monotonic()
    hwm = proc_status(proc.pid).get("VmHWM", 0)
    return Window(start, stop, cpu1 - cpu0, rss, hwm, threads)


# -- the target's view -------------------------------------------------------------------------


def arrivals(session: requests.Session, target_port: int) -> dict[str, dict[int, list[float]]]:
    """Arrival times at the target, by prober (`r` remediator, `b` exporter) and target number."""
    data = session.get(f"http://127.0.0.1:{target_port}/_arrivals", timeout=30).json()
    out: dict[str, dict[int, list[float]]] = {}
    for t, n, who in zip(data["t"], data["n"], data["ua"], strict=True):
        out.setdefault(who, {}).setdefault(n, []).append(t)
    return out


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


# -- phase 1: the daemon -----------------------------------------------------------------------


@dataclass
class DaemonRun:
    """What the daemon phase measured."""

    window: Window
    tail_end: float
    startup: float
    rss_ready_kib: int
    records: list[tuple[float, str, float]] | None  # from daemon_shim; None with --plain
    metrics: dict[str, float]
    pool_note: str


def daemon_config(
    tmp: Path,
    targets: int,
    interval: int,
    timeout: int,
    target_port: int,
    listen: int,
    endpoint: str,
) -> Path:
    """A config of `targets` kind: http targets on the bench target, no rules, state in `tmp`."""
    lines = [
        "ncp:",
        "  site: public",
        "  region: KR",
        f"  endpoint: {endpoint}",
        "  access_key: {env: NCLOUD_ACCESS_KEY}",
        "  secret_key: {env: NCLOUD_SECRET_KEY}",
        "server:",
        f"  listen: 127.0.0.1:{listen}",
        "state:",
        f"  path: {json.dumps(str(tmp / 'state.db'))}",
        "targets:",
    ]
    for n in range(targets):
        lines += target_entry(
            f"t{n:04d}", str(1_000_000 + n), target_port, n, f"{interval}s", f"{timeout}s"
        )
    lines.append("rules: []")
    path = tmp / "remediator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def parse_metrics(text: str) -> dict[str, float]:
    """The few daemon metrics the report shows, summed over labels."""
    sums = {
        "probes_success": 0.0,
        "probes_failure": 0.0,
        "duration_sum": 0.0,
        "duration_count": 0.0,
    }
    for line in text.splitlines():
        if line.startswith("remediator_probes_total{"):
            key = "probes_failure" if 'result="failure"' in line else "probes_success"
            sums[key] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("remediator_probe_duration_seconds_sum "):
            sums["duration_sum"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("remediator_probe_duration_seconds_count "):
            sums["duration_count"] = float(line.rsplit(" ", 1)[1])
    return sums


def run_daemon(
    args: argparse.Namespace,
    procs: Processes,
    tmp: Path,
    session: requests.Session,
    target_port: int,
) -> DaemonRun:
    """Phase 1: start the daemon, warm up, measure, wait out the tail, stop it."""
    listen = free_port()
    # No rule ever acts, but the daemon checks each target's action path (a signed
    # getClusterStatus) periodically: the target server answers it, or with --cdss down
    # nothing listens there (the API unreachable).
    cdss_port = target_port if args.cdss == "fake" else free_port()
    config = daemon_config(
        tmp,
        args.targets,
        args.interval,
        args.timeout,
        target_port,
        listen,
        f"http://127.0.0.1:{cdss_port}",
    )
    records_file = tmp / "lateness.json"
    run = ["run", "-c", str(config), "--log-level", "WARNING"]
    if args.plain:
        argv = [str(Path(sys.executable).parent / "remediator"), *run]
    else:
        argv = [sys.executable, str(HERE / "daemon_shim.py"), str(records_file), *run]
    env = child_env(NCLOUD_ACCESS_KEY="bench-access-key", NCLOUD_SECRET_KEY="bench-secret-key")
    log = tmp / "remediator.log"
    name = "remediator"
    launched = CLOCK.monotonic()
    proc = procs.start(argv, log, env)
    base = f"http://127.0.0.1:{listen}"
    wait_http(session, f"{base}/-/ready", proc, name, log, timeout=120)
    startup = CLOCK.monotonic() - launched
    rss_ready = proc_status(proc.pid).get("VmRSS", 0)
    say(f"remediator ready in {startup:.1f}s (pid {proc.pid}); warming up {args.warmup}s")
    sleep_alive(proc, name, log, CLOCK.monotonic() + args.warmup)
    say(f"measuring remediator for {args.seconds}s")
    window = measure(proc, name, log, args.seconds)
    tail_end = window.end + args.interval + daemon_jitter(args.interval) + TAIL_SLACK
    sleep_alive(proc, name, log, tail_end)
    # Scraped after the window, so that rendering ~2,000 series is not counted as probing.
    metrics = parse_metrics(session.get(f"{base}/metrics", timeout=30).text)
    threads = proc_status(proc.pid).get("Threads", 0)
    code = procs.stop(proc)
    if code != 0:
        say(f"remediator exited with code {code} on SIGTERM:\n{log_tail(log)}")
    records = None
    if not args.plain:
        try:
            raw = json.loads(records_file.read_text(encoding="utf-8"))
            records = [(float(m), str(k), float(x)) for m, k, x in raw]
        except (OSError, ValueError) as exc:
            say(f"no lateness records from the daemon ({exc}); reporting target-side numbers only")
    levels: dict[str, int] = {}
    for line in log_tail(log, 1_000_000).splitlines():
        for level in ("WARNING", "ERROR", "CRITICAL"):
            if f'"{level}"' in line or f" {level} " in line:
                levels[level] = levels.get(level, 0) + 1
    counts = ", ".join(f"{n} {level}" for level, n in levels.items()) or "none"
    pool_note = f"{threads} threads at the end; log lines at WARNING or above: {counts}"
    return DaemonRun(window, tail_end, startup, rss_ready, records, metrics, pool_note)


# -- phase 2: the blackbox exporter ------------------------------------------------------------

BLACKBOX_CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
"""


@dataclass
class Driver:
    """Calls the exporter's /probe for every target every interval, staggered like the daemon.

    The driver's own CPU is this process's, not the exporter's: only the exporter is measured.
    """

    exporter: str
    target_port: int
    targets: int
    interval: float
    timeout: float
    workers: int = 16
    ok: int = 0
    failed: int = 0
    lateness: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._session = new_session(self.workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="driver")
        self._thread = threading.Thread(target=self._run, name="driver-clock", daemon=True)

    def start(self) -> None:
        """Begin probing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling and wait for the requests in flight."""
        self._stop.set()
        self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()

    def _run(self) -> None:
        # Slot j is target j % targets, due at start + j * interval / targets.
        start, step, j = CLOCK.monotonic() + 0.2, self.interval / self.targets, 0
        while not self._stop.is_set():
            due = start + j * step
            wait = due - CLOCK.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            self._pool.submit(self._probe, j % self.targets, due)
            j += 1

    def _probe(self, n: int, due: float) -> None:
        began = CLOCK.monotonic()
        try:
            response = self._session.get(
                f"{self.exporter}/probe",
                params={
                    "module": "http_2xx",
                    "target": f"http://127.0.0.1:{self.target_port}/t/{n}",
                },
                timeout=self.timeout + 5,
            )
            good = response.status_code == 200 and bool(
                re.search(r"^probe_success 1$", response.text, re.MULTILINE)
            )
        except requests.RequestException:
            good = False
        with self._lock:
            self.lateness.append(began - due)
            if good:
                self.ok += 1
            else:
                self.failed += 1


@dataclass
class ExporterRun:
    """What the exporter phase measured."""

    window: Window
    tail_end: float
    version: str
    ok: int
    failed: int
    driver_lateness_p99: float | None


def exporter_version(path: str) -> str:
    """The first line of `prometheus-blackbox-exporter --version`."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown version"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown version"


def run_exporter(
    args: argparse.Namespace,
    procs: Processes,
    tmp: Path,
    session: requests.Session,
    target_port: int,
) -> ExporterRun:
    """Phase 2: start the exporter, drive it on the daemon's schedule, measure, stop it."""
    port = free_port()
    config = tmp / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG.format(timeout=args.timeout), encoding="utf-8")
    log = tmp / "blackbox.log"
    name = "blackbox exporter"
    argv = [
        args.exporter,
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    proc = procs.start(argv, log, child_env())
    base = f"http://127.0.0.1:{port}"
    wait_http(session, f"{base}/metrics", proc, name, log, timeout=30)
    driver = Driver(base, target_port, args.targets, args.interval, args.timeout)
    driver.start()
    try:
        say(f"blackbox exporter ready (pid {proc.pid}); warming up {args.warmup}s")
        sleep_alive(proc, name, log, CLOCK.monotonic() + args.warmup)
        say(f"measuring the blackbox exporter for {args.seconds}s")
        window = measure(proc, name, log, args.seconds)
        tail_end = window.end + args.interval + TAIL_SLACK
        sleep_alive(proc, name, log, tail_end)
    finally:
        driver.stop()
    procs.stop(proc)
    return ExporterRun(
        window,
        tail_end,
        exporter_version(args.exporter),
        driver.ok,
        driver.failed,
        percentile(driver.lateness, 99),
    )


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


def summarise(
    args: argparse.Namespace,
    daemon: DaemonRun,
    target_times: dict[str, dict[int, list[float]]],
    exporter: ExporterRun | None,
    baseline_problem: str | None,
) -> tuple[list[str], dict[str, Any], bool]:
    """The table's lines, the JSON document, and whether every goal passed."""
    jitter = daemon_jitter(args.interval)
    nominal = args.targets * args.seconds / args.interval
    d = analyse_arrivals(
        target_times.get("r", {}),
        args.targets,
        daemon.window,
        daemon.tail_end,
        args.interval,
        jitter,
    )
    d_cpu_k = daemon.window.cpu / d.probes * 1000 if d.probes else None

    done: list[float] = []
    submitted: list[float] = []
    sched_missed = 0
    if daemon.records is not None:
        w = daemon.window
        for mono, kind, late in daemon.records:
            if not w.start <= mono < w.end:
                continue
            if kind == "done":
                done.append(late)
            elif kind == "submitted":
                submitted.append(late)
            elif kind in ("missed", "skipped", "error"):
                sched_missed += 1
    beyond_jitter = [max(0.0, x - jitter) for x in d.deviations]
    if daemon.records is not None:
        lateness_p99, lateness_source = percentile(done, 99), "in-daemon, scheduled -> finished"
    else:
        lateness_p99 = percentile(beyond_jitter, 99)
        lateness_source = "target-side estimate: inter-arrival beyond interval + jitter"
    mean_period = args.interval + sum(d.deviations) / len(d.deviations) if d.deviations else None
    cdss_calls = sum(
        1
        for t in target_times.get("c", {}).get(-1, [])
        if daemon.window.start <= t < daemon.window.end
    )
    m = daemon.metrics
    probe_mean = m["duration_sum"] / m["duration_count"] if m["duration_count"] else None

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
    cores = os.cpu_count() or 1
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
            pair(
                num(100 * daemon.window.cpu / daemon.window.seconds, 1),
                num(100 * ew.cpu / ew.seconds, 1) if ew else "",
            ),
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
            "missed/skipped runs (scheduler)",
            pair(str(sched_missed) if daemon.records is not None else "n/a (--plain)", "-"),
        ),
        (
            "probe failures (whole run)",
            pair(f"{m['probes_failure']:.0f}", str(exporter.failed) if exporter else ""),
        ),
        ("mean probe duration", pair(ms(probe_mean), "-")),
        (f"signed CDSS calls in window ({args.cdss})", pair(str(cdss_calls), "-")),
        ("lateness p50, scheduled -> finished", pair(ms(percentile(done, 50)), "-")),
        ("lateness p99, scheduled -> finished", pair(ms(percentile(done, 99)), "-")),
        ("lateness max, scheduled -> finished", pair(ms(max(done, default=None)), "-")),
        ("lateness p99, scheduled -> submitted", pair(ms(percentile(submitted, 99)), "-")),
        (
            "inter-arrival - interval p50 / p99",
            pair(
                f"{ms(percentile(d.deviations, 50))} / {ms(percentile(d.deviations, 99))}",
                f"{ms(percentile(e.deviations, 50))} / {ms(percentile(e.deviations, 99))}"
                if e
                else "",
            ),
        ),
        (
            "inter-arrival beyond jitter, p99",
            pair(ms(percentile(beyond_jitter, 99)), ms(percentile(e.deviations, 99)) if e else ""),
        ),
        (
            "mean period between probes",
            pair(f"{num(mean_period, 3)} s", f"{args.interval} s (driver)"),
        ),
        ("start-up to ready", pair(f"{daemon.startup:.1f} s", "-")),
        ("RSS at ready (MiB)", pair(num(daemon.rss_ready_kib / 1024, 1), "-")),
    ]

    # A run the scheduler missed or skipped never arrives either, so the target-side count
    # includes it; coalesced runs show only there. The larger of the two, not their sum.
    missed_total = max(d.missed, sched_missed)
    goals = [
        ("missed runs", str(missed_total), f"= {GOAL_MISSED}", missed_total == GOAL_MISSED),
        (
            "scheduling lateness p99",
            ms(lateness_p99),
            f"< {ms(GOAL_LATENESS_P99)}",
            lateness_p99 is not None and lateness_p99 < GOAL_LATENESS_P99,
        ),
    ]
    passed = all(ok for *_, ok in goals)

    lines = [
        f"remediator {__version__} probe benchmark: {args.targets} targets, kind: http, every "
        f"{args.interval} s (jitter up to {jitter:.2f} s), timeout {args.timeout} s",
        f"window {args.seconds} s after a {args.warmup} s warm-up, each prober on its own; "
        f"{cores} CPUs, Python {platform.python_version()}, {platform.machine()}, "
        f"tree {source_revision()}",
        "baseline: "
        + (exporter.version if exporter is not None else f"NONE ({baseline_problem or 'not run'})"),
        "",
        f"{'':38}{'remediator':>16}  {'blackbox exporter':>20}",
        *(f"{label:38}{value}" for label, value in rows),
        "",
        "CPU per 1,000 probes, remediator / blackbox exporter: "
        + (f"{ratio:.2f}x" if ratio is not None else "n/a (no baseline)"),
        f"daemon: {daemon.pool_note}; lateness source: {lateness_source}",
        "",
        f"{'goal':38}{'value':>16}  {'target':>12}  verdict",
        *(
            f"{label:38}{value:>16}  {target:>12}  {'PASS' if ok else 'FAIL'}"
            for label, value, target, ok in goals
        ),
    ]
    document: dict[str, Any] = {
        "bench": "probes",
        "version": __version__,
        "targets": args.targets,
        "interval_s": args.interval,
        "window_s": args.seconds,
        "warmup_s": args.warmup,
        "cpus": cores,
        "revision": source_revision(),
        "daemon": {
            "mode": "plain" if args.plain else "shim",
            "probes": d.probes,
            "cpu_s": rounded(daemon.window.cpu),
            "cpu_s_per_1k_probes": rounded(d_cpu_k),
            "rss_max_mib": rounded(daemon.window.rss_max_kib / 1024, 1),
            "rss_hwm_mib": rounded(daemon.window.hwm_kib / 1024, 1),
            "missed_runs_target_side": d.missed,
            "missed_runs_scheduler": sched_missed if daemon.records is not None else None,
            "probe_failures": int(m["probes_failure"]),
            "lateness_p50_s": rounded(percentile(done, 50)),
            "lateness_p99_s": rounded(percentile(done, 99)),
            "lateness_max_s": rounded(max(done, default=None)),
            "submit_lateness_p99_s": rounded(percentile(submitted, 99)),
            "interarrival_dev_p99_s": rounded(percentile(d.deviations, 99)),
            "beyond_jitter_p99_s": rounded(percentile(beyond_jitter, 99)),
            "mean_period_s": rounded(mean_period),
            "startup_s": rounded(daemon.startup, 2),
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
            "missed_runs_target_side": e.missed,
            "probe_failures": exporter.failed,
            "driver_lateness_p99_s": rounded(exporter.driver_lateness_p99),
        },
        "baseline_problem": baseline_problem,
        "ratio_cpu_per_1k": rounded(ratio, 3),
        "goals": {
            "missed_runs": {"value": missed_total, "goal": GOAL_MISSED, "pass": goals[0][3]},
            "lateness_p99_s": {
                "value": rounded(lateness_p99),
                "goal_lt": GOAL_LATENESS_P99,
                "source": lateness_source,
                "pass": goals[1][3],
            },
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


def loud(message: str) -> None:
    """A message nobody can miss, on stdout with the results."""
    bar = "!" * 78
    print(bar)
    for line in message.splitlines():
        print(f"!! {line}")
    print(bar, flush=True)


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark remediator's probing against prometheus-blackbox-exporter."
    )
    parser.add_argument("--targets", type=int, default=1000, help="targets (default 1000)")
    parser.add_argument("--interval", type=int, default=15, help="probe interval, s (default 15)")
    parser.add_argument("--timeout", type=int, default=5, help="probe timeout, s (default 5)")
    parser.add_argument(
        "--seconds", type=int, default=60, help="measurement window, s (default 60)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="warm-up, s (default max(20, interval + 5))"
    )
    parser.add_argument(
        "--exporter", default=EXPORTER, help=f"the blackbox exporter binary (default {EXPORTER})"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the blackbox exporter")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="run `remediator run` itself, without the lateness listener (lateness is then "
        "estimated from arrivals at the target)",
    )
    parser.add_argument(
        "--cdss",
        choices=["fake", "down"],
        default="fake",
        help="the CDSS API the daemon's periodic signed read-only calls reach: 'fake' (the "
        "target server answers all-green, default) or 'down' (nothing listens)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(20, args.interval + 5)
    if args.targets < 1 or args.interval < 1 or args.seconds < 1 or args.timeout < 1:
        parser.error("--targets, --interval, --seconds and --timeout must be at least 1")
    if args.timeout > args.interval:
        parser.error("--timeout must not be longer than --interval")
    if args.warmup < args.interval + daemon_jitter(args.interval) + 1:
        parser.error("--warmup must be longer than one interval, so every target has run once")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    # SIGINT too, explicitly: a shell's background job inherits it ignored.
    raise_on((signal.SIGINT, signal.SIGTERM, signal.SIGHUP), KeyboardInterrupt)
    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="remediator-bench-"))
    session = new_session()

    def run() -> int:
        baseline_problem: str | None = None
        if args.no_baseline:
            baseline_problem = "--no-baseline"
        elif not os.access(args.exporter, os.X_OK):
            baseline_problem = f"{args.exporter} not found"
        target, target_log, target_port = start_target(procs, tmp, timeout=15)
        say(f"target server on 127.0.0.1:{target_port} (pid {target.pid}); files in {tmp}")

        daemon = run_daemon(args, procs, tmp, session, target_port)
        exporter = None
        if baseline_problem is None:
            try:
                exporter = run_exporter(args, procs, tmp, session, target_port)
            except BenchError as exc:
                baseline_problem = f"the blackbox exporter run failed: {exc}"
        ensure_alive(target, "the target server", target_log)
        times = arrivals(session, target_port)
        lines, document, passed = summarise(args, daemon, times, exporter, baseline_problem)
        print()
        if baseline_problem is not None:
            loud(
                f"NO BASELINE: {baseline_problem}.\n"
                "Only remediator's numbers are reported, and there is no ratio. Install the\n"
                "Debian package prometheus-blackbox-exporter (or pass --exporter PATH)."
            )
        return results(lines, document, passed)

    return run_guarded(run, procs, tmp, keep=args.keep, close=session.close)


if __name__ == "__main__":
    sys.exit(main())
