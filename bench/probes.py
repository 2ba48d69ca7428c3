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
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from common import (
    CLOCK,
    HERE,
    BenchError,
    Processes,
    child_env,
    cpu_seconds,
    ensure_alive,
    free_port,
    hangs,
    log_tail,
    median,
    percentile,
    raise_on,
    results,
    run_guarded,
    say,
    start_target,
    target_entry,
)
from probes_report import (
    TAIL_SLACK,
    DaemonRun,
    ExporterRun,
    Scrape,
    Window,
    daemon_jitter,
    summarise,
)
from requests.adapters import HTTPAdapter

EXPORTER = "/usr/bin/prometheus-blackbox-exporter"


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


# -- phase 1: the daemon -----------------------------------------------------------------------


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
    # The default log level (INFO), as deployed: the log volume is one of the figures.
    run = ["run", "-c", str(config)]
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
    log_before = count_lines(log)
    window = measure(proc, name, log, args.seconds)
    log_window = count_lines(log) - log_before
    tail_end = window.end + args.interval + daemon_jitter(args.interval) + TAIL_SLACK
    # Scraped after the window, so that rendering the series is not counted as probing.
    scrape = scrape_cost(session, f"{base}/metrics", proc, window)
    sleep_alive(proc, name, log, tail_end)
    metrics = parse_metrics(session.get(f"{base}/metrics", timeout=30).text)
    threads = proc_status(proc.pid).get("Threads", 0)
    code = procs.stop(proc)
    if code != 0:
        say(f"remediator exited with code {code} on SIGTERM:\n{log_tail(log)}")
    records = None
    if not args.plain:
        try:
            raw = json.loads(records_file.read_text(encoding="utf-8"))
            records = [(float(m), str(k), float(x), int(str(t)[1:])) for m, k, x, t in raw]
        except (OSError, ValueError) as exc:
            say(f"no lateness records from the daemon ({exc}); reporting target-side numbers only")
    levels: dict[str, int] = {}
    for line in log_tail(log, 10_000_000).splitlines():
        for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            if f'"{level}"' in line or f" {level} " in line:
                levels[level] = levels.get(level, 0) + 1
                if level in ("ERROR", "CRITICAL") and levels[level] <= 3:
                    say(f"the daemon logged {level}: {line[:400]}")
    pool_note = f"{threads} threads at the end"
    return DaemonRun(
        window,
        tail_end,
        startup,
        rss_ready,
        records,
        metrics,
        pool_note,
        log_window,
        log_before,
        levels,
        scrape,
    )


def count_lines(path: Path) -> int:
    """Lines in a file so far."""
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def scrape_cost(
    session: requests.Session,
    url: str,
    proc: subprocess.Popen[bytes],
    window: Window,
    blocks: int = 3,
    per_block: int = 5,
) -> Scrape | None:
    """The daemon's CPU per /metrics scrape (gzip, as Prometheus asks): `blocks` blocks of
    `per_block` scrapes back to back (CPU is counted in 10 ms ticks), 1 s apart; the median
    block. Net: less the CPU that probing uses meanwhile (the window's average rate)."""
    rate = window.cpu / window.seconds if window.seconds else 0.0
    gross: list[float] = []
    net: list[float] = []
    walls: list[float] = []
    text = ""
    try:
        for _ in range(blocks):
            cpu0, t0 = cpu_seconds(proc.pid), CLOCK.monotonic()
            for _ in range(per_block):
                response = session.get(url, timeout=30, headers={"Accept-Encoding": "gzip"})
                text = response.text
            cpu1, t1 = cpu_seconds(proc.pid), CLOCK.monotonic()
            gross.append((cpu1 - cpu0) / per_block)
            net.append((cpu1 - cpu0 - rate * (t1 - t0)) / per_block)
            walls.append((t1 - t0) / per_block)
            CLOCK.sleep(1.0)
    except requests.RequestException as exc:
        say(f"could not scrape {url}: {exc}")
        return None
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    created = sum(
        1 for line in series if line.split("{", 1)[0].split(" ", 1)[0].endswith("_created")
    )
    return Scrape(median(gross), median(net), median(walls), len(series), created)


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
    # A /probe of a hanging target holds a driver thread for the timeout: enough threads that
    # the driver itself keeps the schedule.
    hanging = sum(1 for n in range(args.targets) if hangs(n, args.hang_fraction))
    workers = 16 + math.ceil(hanging * args.timeout / args.interval * 1.5)
    driver = Driver(base, target_port, args.targets, args.interval, args.timeout, workers)
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
    parser.add_argument(
        "--hang-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="this fraction of the targets accept the connection and never answer (spread "
        "evenly; default 0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(20, args.interval + 5)
    if args.targets < 1 or args.interval < 1 or args.seconds < 1 or args.timeout < 1:
        parser.error("--targets, --interval, --seconds and --timeout must be at least 1")
    if not 0.0 <= args.hang_fraction < 1.0:
        parser.error("--hang-fraction must be at least 0 and less than 1")
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
        target, target_log, target_port = start_target(
            procs, tmp, timeout=15, hang_fraction=args.hang_fraction
        )
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
