"""Webhook benchmark: the daemon's Alertmanager endpoint against a bare waitress app, then a storm.

    .venv/bin/python bench/webhook.py [--seconds 5] [--rounds 3] [--warmup 3]
                                      [--concurrency 8] [--clusters 100] [--alerts 100]

Everything listens on 127.0.0.1; the CDSS API is the sandbox, in this process. Two phases:

1. Throughput and latency. The real daemon (`remediator run`) takes Alertmanager payloads on
   `POST /api/v1/alerts/alertmanager` with its whole path: bearer token (constant-time), the
   v4 model, the label-to-target map, and the durable episode record before the 200 (a new
   episode is written: SQLite, WAL, synchronous=FULL, group commit; a re-send finds its
   episode on disk); the engine hears the alerts afterwards. Against it, in the same run and by
   the same client (wrk: Debian's package, required), a bare app on the same waitress settings
   and threads (remediator.http.server.HttpServer) that reads the body and answers 200. The
   daemon gets Alertmanager's kind of traffic (`--episodes` episodes, re-sent again and again)
   and, as a second figure, the worst case: every request a new episode. After a warm-up of
   each, every round measures all three, rotating which goes first; the medians give the
   ratios. Goal: daemon (Alertmanager's traffic) / bare >= 0.5.
2. Alert storm. A fresh daemon with an alert rule (CMAKDown -> restart_cmak) on `--clusters`
   targets gets `--clusters` payloads of `--alerts` alerts each (one group per cluster, as
   `group_by: [alertname, cluster_no]` makes them), all sent at once. Goals: at most one action
   per cluster and no more than the fleet guardrails allow (max_concurrent_actions 1, so one is
   expected), every alert recorded, and probes on schedule meanwhile: the daemon runs through
   bench/daemon_shim.py, which records each probe run's lateness, and probes bench/target.py,
   which records arrivals.

It prints a table, PASS/FAIL per goal, and one JSON line last. Exit 0 when every goal passes,
1 when one fails, 2 when the benchmark could not run, 130 when interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from common import (
    CLOCK,
    GOAL_LATENESS_P99,
    HERE,
    BenchError,
    Interrupted,
    Processes,
    child_env,
    cpu_seconds,
    ensure_alive,
    free_port,
    log_tail,
    median,
    percentile,
    raise_on,
    read_port,
    results,
    run_guarded,
    say,
    start_target,
    target_entry,
)
from prometheus_client.parser import text_string_to_metric_families

from remediator import __version__
from remediator.http.intake import PATH
from remediator.http.server import Environ, HttpServer, StartResponse
from remediator.sandbox import Sandbox
from remediator.sandbox.state import ClusterSpec

AK, SK = "BENCH-AK", "bench-sk"  # sandbox keys, not secrets
TOKEN = "bench-webhook-token-0123456789abcdef"  # a bench token, not a secret
HEADERS = {
    "User-Agent": "Alertmanager/0.25.0",
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json",
}
GOAL_RATIO = 0.5
FIRST_CLUSTER = 3_000_000


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds for the table."""
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
    """Wait until the daemon answers 200 on /-/ready."""
    deadline = CLOCK.monotonic() + 60
    while CLOCK.monotonic() < deadline:
        ensure_alive(proc, name, log)
        try:
            if get(port, "/-/ready", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        CLOCK.sleep(0.1)
    raise BenchError(f"{name} was not ready within 60s:\n{log_tail(log)}")


def metrics(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The daemon's samples by name."""
    status, body = get(port, "/metrics", timeout=30)
    if status != 200:
        raise BenchError(f"/metrics answered {status}")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    """The sum of `name`'s samples whose labels include `match`."""
    return sum(v for labels, v in samples.get(name, []) if match.items() <= labels.items())


# -- the bare app ------------------------------------------------------------------------------


def bare_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Read the body, answer 200: what any webhook receiver must do, and nothing else."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    body = b'{"status":"ok"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "15")])
    return [body]


def serve_bare() -> int:
    """`--serve-bare`: the bare app on remediator's own waitress settings, until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    server = HttpServer(bare_app, "127.0.0.1", 0)
    server.start()
    print(server.port, flush=True)
    stop.wait()
    server.close()
    return 0


# -- payloads ----------------------------------------------------------------------------------


def rfc3339_nano(epoch: float) -> str:
    """A time as Alertmanager writes startsAt (nine fractional digits, UTC)."""
    whole = math.floor(epoch)
    nanos = round((epoch - whole) * 1e9) % 1_000_000_000
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def payload(alertname: str, cluster_no: str, alerts: list[tuple[str, str, str]]) -> bytes:
    """A v4 webhook body for one group: `alerts` are (fingerprint, startsAt, instance)."""
    group = {"alertname": alertname, "cluster_no": cluster_no}
    return json.dumps(
        {
            "receiver": "remediator",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": group | {"severity": "critical", "instance": instance},
                    "annotations": {
                        "summary": "CMAK health check failing",
                        "runbook_url": "https://runbooks.example/cmak",
                    },
                    "startsAt": starts,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.local/graph",
                    "fingerprint": fingerprint,
                }
                for fingerprint, starts, instance in alerts
            ],
            "groupLabels": group,
            "commonLabels": group | {"severity": "critical"},
            "commonAnnotations": {"summary": "CMAK health check failing"},
            "externalURL": "http://alertmanager.local:9093",
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{alertname}", cluster_no="{cluster_no}"}}',
            "truncatedAlerts": 0,
        },
        separators=(",", ":"),
    ).encode()


# -- closed-loop load (wrk) --------------------------------------------------------------------

# wrk's script: POST the bodies of a file (one JSON document a line), each thread its own share
# in turn (so "every request new" stays new), and report as one JSON line when done.
WRK_SCRIPT = """
wrk.method = "POST"
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
local bodies = {}
local i, step
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  step = tonumber(args[2])
  i = first
end
function request()
  local body = bodies[i % #bodies + 1]
  i = i + step
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "socket_errors": %d, "not_2xx": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Load:
    """One measured run of wrk against one server."""

    server: str
    seconds: float
    requests: int
    p50: float
    p99: float
    cpu: float  # the server's CPU seconds over the run

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds


def wrk_binary() -> str:
    """The load generator; a clear error where it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("bench/webhook.py needs wrk: apt-get install wrk (Debian's package)")
    return found


def closed_loop(
    server: str, port: int, pid: int, bodies: Path, connections: int, seconds: float
) -> Load:
    """wrk keeps `connections` keep-alive connections busy for `seconds`, each POSTing the
    next body as soon as the last is answered; the server's CPU seconds are read around it."""
    threads = min(2, connections)
    script = bodies.with_suffix(".lua")
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    argv = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout=30s",
        *(arg for name, value in HEADERS.items() for arg in ("-H", f"{name}: {value}")),
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{PATH}",
        "--",
        str(bodies),
        str(threads),
    ]
    cpu_before = cpu_seconds(pid)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    cpu = cpu_seconds(pid) - cpu_before
    report = [line for line in done.stdout.splitlines() if line.startswith('{"requests"')]
    if done.returncode != 0 or not report:
        raise BenchError(f"wrk against {server} failed ({done.returncode}): {done.stderr[-500:]}")
    out = json.loads(report[-1])
    if out["socket_errors"] or out["not_2xx"]:
        raise BenchError(
            f"{server}: {out['not_2xx']} answers not 2xx and {out['socket_errors']} socket errors"
        )
    return Load(
        server,
        out["duration_us"] / 1e6,
        out["requests"],
        out["p50_us"] / 1e6,
        out["p99_us"] / 1e6,
        cpu,
    )


# -- the daemon --------------------------------------------------------------------------------


def cluster_no(n: int) -> str:
    """The CDSS cluster number of bench cluster `n`."""
    return str(FIRST_CLUSTER + n)


def write_config(
    tmp: Path,
    name: str,
    *,
    listen: int,
    cdss: str,
    target_port: int,
    clusters: int,
    interval: float,
) -> Path:
    """A daemon config: `clusters` targets probed over HTTP on the bench target, and a rule
    that restarts CMAK on CMAKDown (cooldown and verification longer than the benchmark)."""
    base = tmp / name
    (base / "rules").mkdir(parents=True)
    token = base / "webhook-token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    (base / "rules" / "alerts.yaml").write_text(
        "rules:\n"
        "  - name: cmak-down-alert\n"
        '    targets: ["*"]\n'
        "    trigger: {alert: {alertname: CMAKDown}}\n"
        "    action: restart_cmak\n"
        "    cooldown: 15m\n"
        "    verify: {grace: 2m, successes: 2, timeout: 10m}\n",
        encoding="utf-8",
    )
    lines = [
        f"ncp: {{endpoint: {json.dumps(cdss)}, access_key: {{env: AK}}, "
        "secret_key: {env: SK}, timeout: 5s}",
        f'server: {{listen: "127.0.0.1:{listen}", '
        f"webhook_token: {{file: {json.dumps(str(token))}}}}}",
        f"state: {{path: {json.dumps(str(base / 'state.db'))}}}",
        "guardrails:",
        "  max_concurrent_actions: 1",
        "  max_actions_per_hour: 6",
        "  mass_failure: {fraction: 0.5, min_unhealthy: 3}",
        "targets:",
    ]
    for n in range(clusters):
        lines += target_entry(f"c{n:03d}", cluster_no(n), target_port, n, f"{interval:g}s", "1s")
    lines.append("rules: [rules/*.yaml]")
    path = base / "remediator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Daemon:
    """A running `remediator run` (through bench/daemon_shim.py: probe lateness recorded)."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    records: Path
    name: str = "remediator"


def start_daemon(procs: Processes, config: Path, listen: int, tag: str) -> Daemon:
    """Start the daemon on `config` (listening on `listen`) and wait until it is ready."""
    records = config.parent / "lateness.json"
    log = config.parent / "remediator.log"
    argv = [sys.executable, str(HERE / "daemon_shim.py"), str(records), "run", "-c", str(config)]
    proc = procs.start(argv, log, child_env(AK=AK, SK=SK))
    daemon = Daemon(proc, listen, log, records, f"remediator ({tag})")
    wait_ready(listen, proc, daemon.name, log)
    say(f"{daemon.name} ready on 127.0.0.1:{listen} (pid {proc.pid})")
    return daemon


def stop_daemon(procs: Processes, daemon: Daemon) -> list[tuple[float, str, float]]:
    """SIGTERM; the shim's lateness records: (monotonic time, kind, seconds late)."""
    code = procs.stop(daemon.proc)
    if code != 0:
        raise BenchError(f"{daemon.name} exited {code} on SIGTERM:\n{log_tail(daemon.log)}")
    try:
        raw = json.loads(daemon.records.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"no lateness records from {daemon.name}: {exc}") from exc
    return [(float(m), str(k), float(x)) for m, k, x, *_ in raw]


def log_levels(log: Path) -> dict[str, int]:
    """How many daemon log lines were at WARNING or above, by level, and how many were not
    remediator's JSON at all (waitress's "Task queue depth is N", on stderr, for instance)."""
    levels: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            levels["not JSON"] += 1
            continue
        for level in ("WARNING", "ERROR", "CRITICAL"):
            if f'"level": "{level}"' in line:
                levels[level] += 1
    return dict(levels)


# -- phase 1: throughput -----------------------------------------------------------------------


@dataclass
class Throughput:
    """Phase 1's results."""

    runs: list[Load]
    rates: dict[str, float]  # the median of the rounds, per server
    p50: dict[str, float]  # the median of the rounds' p50 latency, per server
    p99: dict[str, float]  # the median of the rounds' p99 latency, per server
    single: dict[str, Load]
    recorded: dict[str, float]
    episodes: int
    log_levels: dict[str, int]

    @property
    def ratio(self) -> float:
        """Daemon throughput / bare throughput (the goal's ratio: Alertmanager's traffic)."""
        return self.of("daemon")

    def of(self, name: str) -> float:
        """`name`'s throughput / bare throughput."""
        return self.rates[name] / self.rates["bare"] if self.rates["bare"] else 0.0


def phase_throughput(
    args: argparse.Namespace, procs: Processes, tmp: Path, sb: Sandbox, target_port: int
) -> Throughput:
    """Alternate the bare app and the daemon, `--rounds` times, with the same client."""
    listen = free_port()
    config = write_config(
        tmp,
        "throughput",
        listen=listen,
        cdss=sb.url,
        target_port=target_port,
        clusters=args.clusters,
        interval=15,
    )
    daemon = start_daemon(procs, config, listen, "throughput")
    bare_log = tmp / "bare.log"
    bare = procs.start(
        [sys.executable, str(Path(__file__).resolve()), "--serve-bare"],
        bare_log,
        child_env(),
        pipe_stdout=True,
    )
    bare_port = read_port(bare, "the bare app", timeout=30)
    # Mostly re-sends, as Alertmanager's traffic is: --episodes distinct alert episodes, each
    # sent again and again (a new one is written durably before its 200; a re-send finds its
    # episode on disk). "new" is the worst case: every request a new episode, and so a write.
    now = CLOCK.now()

    def bodies_for(prefix: int, count: int) -> Path:
        path = tmp / f"bodies-{prefix}.jsonl"
        with path.open("wb") as f:
            for k in range(count):
                f.write(
                    payload(
                        "BenchAlert",
                        cluster_no(k % args.clusters),
                        [(f"{prefix:04x}{k:012x}", rfc3339_nano(now - 600 + k / 1000), f"p-{k}")],
                    )
                    + b"\n"
                )
        return path

    resends = bodies_for(0, args.episodes)
    servers = {"bare": (bare_port, bare.pid), "daemon": (daemon.port, daemon.proc.pid)}
    servers["new"] = servers["daemon"]
    fresh = itertools.count(1)

    def load(name: str, connections: int, seconds: float) -> Load:
        port, pid = servers[name]
        bodies = resends
        if name == "new":
            # Enough distinct payloads that none repeats (8,000 req/s is far above what one
            # interpreter answers here), written before the clock starts; then removed.
            bodies = bodies_for(next(fresh), int(8000 * seconds))
        try:
            return closed_loop(name, port, pid, bodies, connections, seconds)
        finally:
            if bodies is not resends:
                bodies.unlink()

    # Unmeasured: every server's first requests (imports, caches, the daemon's first probes).
    for name in servers:
        say(f"warm-up: {name}, {args.warmup:g}s")
        load(name, args.concurrency, args.warmup)
    runs: list[Load] = []
    names = list(servers)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            say(f"round {r + 1}/{args.rounds}: {name}, {args.seconds:g}s")
            runs.append(load(name, args.concurrency, args.seconds))
            ensure_alive(daemon.proc, daemon.name, daemon.log)
            ensure_alive(bare, "the bare app", bare_log)
    # One client, as one Alertmanager sends: the latency it sees when nothing queues.
    single: dict[str, Load] = {}
    for name in servers:
        say(f"one client: {name}, {args.seconds:g}s")
        single[name] = load(name, 1, args.seconds)
    samples = metrics(daemon.port)
    recorded = {
        outcome: total(samples, "remediator_alerts_received_total", outcome=outcome)
        for outcome in ("matched", "duplicate", "unmatched")
    }
    stop_daemon(procs, daemon)
    procs.stop(bare)

    def pick(name: str) -> list[Load]:
        return [run for run in runs if run.server == name]

    return Throughput(
        runs=runs,
        rates={name: median([run.rate for run in pick(name)]) for name in servers},
        p50={name: median([run.p50 for run in pick(name)]) for name in servers},
        p99={name: median([run.p99 for run in pick(name)]) for name in servers},
        single=single,
        recorded=recorded,
        episodes=args.episodes,
        log_levels=log_levels(daemon.log),
    )


# -- phase 2: the storm ------------------------------------------------------------------------


@dataclass
class Storm:
    """Phase 2's results."""

    alerts_sent: int
    payloads: int
    offered: float  # seconds from the first request sent to the last one sent
    accepted: float  # seconds from the first request sent to the last reply
    codes: Counter[int]
    p99_reply: float | None
    settled: float  # seconds from the first request to the engine having decided every cluster
    recorded: dict[str, float]
    decisions: dict[str, float]
    actions: list[tuple[str, str, bool]]  # (cluster, operation, applied)
    late_quiet: list[float]
    late_storm: list[float]
    missed_storm: int
    arrival_gaps: list[float]  # per target, gap minus interval, for gaps overlapping the storm
    interval: float
    healthy_after: bool
    log_levels: dict[str, int]

    @property
    def per_cluster_max(self) -> int:
        """The most actions any one cluster saw."""
        counts = Counter(c for c, _, _ in self.actions)
        return max(counts.values(), default=0)


def send_storm(port: int, bodies: list[bytes], concurrency: int) -> tuple[list[Any], float]:
    """POST every body at once over `concurrency` connections; (replies, start time)."""
    gate = threading.Event()

    def one(body: bytes) -> tuple[int, float, float]:
        gate.wait()
        sent = CLOCK.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("POST", PATH, body=body, headers=HEADERS)
            resp = conn.getresponse()
            resp.read()
            return resp.status, sent, CLOCK.monotonic()
        except (OSError, http.client.HTTPException):
            return 0, sent, CLOCK.monotonic()
        finally:
            conn.close()

    with ThreadPoolExecutor(concurrency, thread_name_prefix="storm") as pool:
        futures = [pool.submit(one, body) for body in bodies]
        CLOCK.sleep(0.2)  # let the workers reach the gate
        start = CLOCK.monotonic()
        gate.set()
        return [f.result() for f in futures], start


def arrival_gaps(
    target_port: int, clusters: int, interval: float, begin: float, end: float
) -> list[float]:
    """For each target, every gap between probe arrivals overlapping [begin, end], minus the
    interval (bench/target.py's arrival times, CLOCK_MONOTONIC as ours)."""
    status, body = get(target_port, "/_arrivals", timeout=30)
    if status != 200:
        raise BenchError(f"the target server's /_arrivals answered {status}")
    data = json.loads(body)
    times: dict[int, list[float]] = {}
    for t, n, who in zip(data["t"], data["n"], data["ua"], strict=True):
        if who == "r" and n < clusters:
            times.setdefault(n, []).append(t)
    gaps: list[float] = []
    for n in range(clusters):
        for a, b in pairwise(sorted(times.get(n, []))):
            if b >= begin and a <= end:
                gaps.append(b - a - interval)
    return gaps


def phase_storm(
    args: argparse.Namespace, procs: Processes, tmp: Path, sb: Sandbox, target_port: int
) -> Storm:
    """A fresh daemon; warm up; every payload at once; wait until each cluster is decided."""
    interval = args.storm_interval
    listen = free_port()
    config = write_config(
        tmp,
        "storm",
        listen=listen,
        cdss=sb.url,
        target_port=target_port,
        clusters=args.clusters,
        interval=interval,
    )
    sb.clear_faults()
    calls_before = len(sb.action_calls())
    daemon = start_daemon(procs, config, listen, "storm")
    warm_until = CLOCK.monotonic() + 3 * interval
    now = CLOCK.now()
    bodies = [
        payload(
            "CMAKDown",
            cluster_no(c),
            [
                (f"{c:08x}{i:08x}", rfc3339_nano(now - 60 + i / 1000), f"probe-{i}")
                for i in range(args.alerts)
            ],
        )
        for c in range(args.clusters)
    ]
    while CLOCK.monotonic() < warm_until:
        ensure_alive(daemon.proc, daemon.name, daemon.log)
        CLOCK.sleep(0.2)
    say(f"storm: {args.clusters} payloads x {args.alerts} alerts, all at once")
    replies, start = send_storm(daemon.port, bodies, args.storm_concurrency)
    codes = Counter(code for code, _, _ in replies)
    offered = max(sent for _, sent, _ in replies) - start
    accepted = max(done for _, _, done in replies) - start
    reply_times = [done - sent for _, sent, done in replies]
    # Settled: every alert counted, every cluster decided, and the decision count still for a
    # second; `settled` is when it last changed.
    deadline = CLOCK.monotonic() + 120
    last, changed = -1.0, CLOCK.monotonic()
    while True:
        ensure_alive(daemon.proc, daemon.name, daemon.log)
        polled = CLOCK.monotonic()
        samples = metrics(daemon.port)
        decided = {
            labels["target"] for labels, v in samples.get("remediator_decisions_total", []) if v
        }
        count = total(samples, "remediator_decisions_total")
        received = total(samples, "remediator_alerts_received_total")
        if count != last:
            last, changed = count, polled
        elif (
            received >= args.clusters * args.alerts
            and len(decided) >= args.clusters
            and polled - changed >= 1.0
        ):
            break
        if polled > deadline:
            raise BenchError(
                f"the storm did not settle in 120s: {received:.0f} alerts counted, "
                f"{len(decided)} clusters decided"
            )
        CLOCK.sleep(0.1)
    settled = changed - start
    healthy = get(daemon.port, "/-/healthy")[0] == 200
    recorded = {
        outcome: total(samples, "remediator_alerts_received_total", outcome=outcome)
        for outcome in ("matched", "duplicate", "unmatched")
    }
    decisions: dict[str, float] = {}
    for labels, v in samples.get("remediator_decisions_total", []):
        key = f"{labels['outcome']}/{labels['reason']}"
        decisions[key] = decisions.get(key, 0.0) + v
    # Probe runs due in the storm window have all run (or been missed) one interval later.
    storm_end = start + settled + interval + 1.0
    while CLOCK.monotonic() < storm_end + 0.5:
        CLOCK.sleep(0.2)
    records = stop_daemon(procs, daemon)
    # Judged, as in bench/probes.py, on scheduled -> finished: the conservative bound.
    quiet = [x for t, k, x in records if k == "done" and start - 2 * interval <= t < start]
    storm = [x for t, k, x in records if k == "done" and start <= t <= storm_end]
    missed = sum(1 for t, k, _ in records if k in ("missed", "skipped") and t >= start)
    gaps = arrival_gaps(target_port, args.clusters, interval, start, storm_end)
    actions = [(c.cluster_no or "", c.operation or "", c.applied) for c in sb.action_calls()]
    return Storm(
        alerts_sent=args.clusters * args.alerts,
        payloads=args.clusters,
        offered=offered,
        accepted=accepted,
        codes=codes,
        p99_reply=percentile(reply_times, 99),
        settled=settled,
        recorded=recorded,
        decisions=decisions,
        actions=actions[calls_before:],
        late_quiet=quiet,
        late_storm=storm,
        missed_storm=missed,
        arrival_gaps=gaps,
        interval=interval,
        healthy_after=healthy,
        log_levels=log_levels(daemon.log),
    )


# -- the report --------------------------------------------------------------------------------


@dataclass
class Goal:
    """One goal and whether it was met."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def spread(values: list[float]) -> str:
    """p50 and p99 of latencies, for the table."""
    return f"p50 {ms(percentile(values, 50))}, p99 {ms(percentile(values, 99))}"


def report_throughput(
    args: argparse.Namespace, tp: Throughput
) -> tuple[list[str], Goal, dict[str, Any]]:
    """Phase 1's table, goal and JSON."""

    def row(label: str, name: str) -> tuple[str, ...]:
        runs = [run for run in tp.runs if run.server == name]
        done = sum(run.requests for run in runs)
        cpu = f"{sum(run.cpu for run in runs) / done * 1000:.2f} s" if done else "-"
        ratio = "" if name == "bare" else f"{tp.of(name):.2f}"
        return (label, f"{tp.rates[name]:.0f}", ratio, ms(tp.p50[name]), ms(tp.p99[name]), cpu)

    lines = [
        f"1. Throughput: wrk, {args.concurrency} keep-alive connections, closed loop, "
        f"{args.rounds} rounds of {args.seconds:g}s per server after {args.warmup:g}s of "
        "warm-up (medians)",
        *table(
            [
                ("", "req/s", "ratio", "p50", "p99", "CPU per 1,000 req"),
                row("bare waitress app", "bare"),
                row(f"remediator: {tp.episodes} episodes, re-sent", "daemon"),
                row("remediator: every request new", "new"),
            ]
        ),
        "one client (as one Alertmanager sends): "
        + "; ".join(
            f"{name} p50 {ms(run.p50)}, p99 {ms(run.p99)}" for name, run in tp.single.items()
        ),
        "per round (req/s): " + ", ".join(f"{run.server} {run.rate:.0f}" for run in tp.runs),
        f"the daemon recorded {tp.recorded['matched']:.0f} new episodes (each written and "
        f"fsynced before its 200) and {tp.recorded['duplicate']:.0f} re-sends; daemon log lines "
        f"at WARNING or above, or not JSON: {tp.log_levels or 'none'}",
    ]
    goal = Goal(
        f"throughput ratio >= {GOAL_RATIO}",
        tp.ratio >= GOAL_RATIO,
        f"{tp.ratio:.2f} ({tp.rates['daemon']:.0f} / {tp.rates['bare']:.0f} req/s); every "
        f"request new: {tp.of('new'):.2f}",
    )
    document = {
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "rps": {name: round(rate, 1) for name, rate in tp.rates.items()},
        "ratio": round(tp.ratio, 3),
        "ratio_all_new": round(tp.of("new"), 3),
        "p99_ms": {name: _ms(v) for name, v in tp.p99.items()},
        "one_client_p99_ms": {n: _ms(r.p99) for n, r in tp.single.items()},
        "rounds_rps": [[run.server, round(run.rate, 1)] for run in tp.runs],
    }
    return lines, goal, document


def report_storm(
    args: argparse.Namespace, storm: Storm
) -> tuple[list[str], list[Goal], dict[str, Any]]:
    """Phase 2's table, goals and JSON."""
    late_p99 = percentile(storm.late_storm, 99)
    late_max = max(storm.late_storm, default=None)
    gap_max = max(storm.arrival_gaps, default=None)
    applied = sum(1 for _, _, ok in storm.actions if ok)
    calls = " ".join(f"{op}@{c}" for c, op, _ in storm.actions)

    def joined(values: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.0f}" for k, v in sorted(values.items()))

    lines = [
        f"2. Storm: {storm.alerts_sent:,} alerts over {args.clusters} clusters "
        f"({storm.payloads} payloads of {args.alerts}) on {args.storm_concurrency} connections",
        *table(
            [
                ("offered within", f"{storm.offered:.2f} s"),
                ("all answered within", f"{storm.accepted:.2f} s (p99 {ms(storm.p99_reply)})"),
                ("replies", ", ".join(f"{c}: {n}" for c, n in sorted(storm.codes.items()))),
                ("alerts recorded", joined(storm.recorded)),
                ("every cluster decided after", f"{storm.settled:.2f} s"),
                ("decisions", joined(storm.decisions)),
                ("action calls", f"{len(storm.actions)} ({applied} applied): {calls}"),
                (
                    f"probe lateness ({args.clusters} targets every {storm.interval:g}s)",
                    f"before p99 {ms(percentile(storm.late_quiet, 99))}; during "
                    f"{spread(storm.late_storm)}, max {ms(late_max)} "
                    f"({len(storm.late_storm)} runs); missed or skipped {storm.missed_storm}",
                ),
                ("probe inter-arrival beyond interval", f"max {ms(gap_max)}"),
                ("/-/healthy after", "200" if storm.healthy_after else "not 200"),
                ("log lines at WARNING+ or not JSON", str(storm.log_levels or "none")),
            ]
        ),
    ]
    limit = min(args.clusters, 6)  # max_actions_per_hour of the bench config
    goals = [
        Goal(
            "storm: every alert recorded",
            storm.codes.get(200, 0) == storm.payloads
            and storm.recorded["matched"] == storm.alerts_sent,
            f"{storm.codes.get(200, 0)}/{storm.payloads} payloads 200, "
            f"{storm.recorded['matched']:.0f}/{storm.alerts_sent} alerts recorded",
        ),
        Goal(
            "storm: at most one action per cluster, within the fleet guardrails",
            storm.per_cluster_max <= 1 and applied <= limit,
            f"{applied} applied, at most {storm.per_cluster_max} on one cluster "
            "(max_concurrent_actions 1, max_actions_per_hour 6)",
        ),
        Goal(
            f"storm: probes on schedule (p99 lateness <= {GOAL_LATENESS_P99 * 1000:.0f} ms, "
            "none missed)",
            late_p99 is not None and late_p99 <= GOAL_LATENESS_P99 and storm.missed_storm == 0,
            f"p99 {ms(late_p99)}, {storm.missed_storm} missed or skipped",
        ),
    ]
    document = {
        "alerts": storm.alerts_sent,
        "clusters": args.clusters,
        "offered_s": round(storm.offered, 3),
        "answered_s": round(storm.accepted, 3),
        "settled_s": round(storm.settled, 3),
        "codes": {str(c): n for c, n in storm.codes.items()},
        "recorded": storm.recorded,
        "decisions": storm.decisions,
        "actions_applied": applied,
        "per_cluster_max": storm.per_cluster_max,
        "probe_lateness_p99_ms": _ms(late_p99),
        "probe_lateness_max_ms": _ms(late_max),
        "probes_missed": storm.missed_storm,
        "arrival_gap_max_ms": _ms(gap_max),
    }
    return lines, goals, document


def summarise(
    args: argparse.Namespace, tp: Throughput, storm: Storm
) -> tuple[list[str], dict[str, Any], bool]:
    """The table, the JSON document, and whether every goal passed."""
    tp_lines, tp_goal, tp_doc = report_throughput(args, tp)
    storm_lines, storm_goals, storm_doc = report_storm(args, storm)
    goals = [tp_goal, *storm_goals]
    lines = [
        f"remediator {__version__} webhook benchmark - Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}",
        "",
        *tp_lines,
        "",
        *storm_lines,
        "",
        *(goal.line() for goal in goals),
    ]
    passed = all(goal.passed for goal in goals)
    document = {
        "bench": "webhook",
        "version": __version__,
        "cpus": os.cpu_count(),
        "throughput": tp_doc,
        "storm": storm_doc,
        "goals": {goal.name: goal.passed for goal in goals},
        "pass": passed,
    }
    return lines, document, passed


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="each measured run (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="runs per server (default 3)")
    p.add_argument(
        "--warmup", type=float, default=3.0, help="unmeasured run per server first (default 3)"
    )
    p.add_argument("--concurrency", type=int, default=8, help="client connections (default 8)")
    p.add_argument(
        "--episodes", type=int, default=2000, help="distinct payloads in phase 1 (default 2000)"
    )
    p.add_argument("--clusters", type=int, default=100, help="storm clusters (default 100)")
    p.add_argument("--alerts", type=int, default=100, help="alerts per cluster (default 100)")
    p.add_argument(
        "--storm-concurrency", type=int, default=50, help="storm connections (default 50)"
    )
    p.add_argument(
        "--storm-interval", type=float, default=2.0, help="probe interval in the storm (2)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary files and logs")
    p.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    if args.serve_bare:
        return serve_bare()
    raise_on((signal.SIGTERM, signal.SIGHUP), Interrupted)
    procs = Processes()
    # mkdtemp, not TemporaryDirectory: that one removes itself at exit, even with --keep.
    tmp = Path(tempfile.mkdtemp(prefix="remediator-webhook-bench-"))
    specs = [ClusterSpec(cluster_no(n), f"c{n:03d}", "cmak") for n in range(args.clusters)]
    sb = Sandbox(
        access_key=AK, secret_key=SK, restart_delay=2.0, cmak_restart="available", clusters=specs
    )

    def run() -> int:
        sb.start()
        target, target_log, target_port = start_target(procs, tmp, timeout=30)
        say(f"sandbox on {sb.url}, target server on 127.0.0.1:{target_port}; files in {tmp}")
        throughput = phase_throughput(args, procs, tmp, sb, target_port)
        storm = phase_storm(args, procs, tmp, sb, target_port)
        ensure_alive(target, "the target server", target_log)
        lines, document, passed = summarise(args, throughput, storm)
        print()
        return results(lines, document, passed)

    return run_guarded(run, procs, tmp, keep=args.keep, close=sb.stop)


if __name__ == "__main__":
    sys.exit(main())
