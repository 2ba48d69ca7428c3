"""The daemon's lifecycle: start, stop, SIGTERM and SIGHUP, the scheduler's jobs and the
listener; its collaborators are built by `remediator.runtime.wiring`."""

from __future__ import annotations

import gc
import logging
import math
import random
import select
import signal
import socket
import threading
from collections.abc import Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from prometheus_client import CollectorRegistry

from remediator.clock import Clock, SteadyClock, SystemClock, as_wall
from remediator.config.diff import describe_changes
from remediator.config.health import HealthCheck
from remediator.config.loader import Config, ConfigError, load_config, resolve_secrets
from remediator.core.alerts import EPISODE_MEMORY, EPISODE_SWEEP
from remediator.core.engine import Engine
from remediator.core.events import Event, ProbeResult, Tick
from remediator.core.rules import BLAST_RADIUS, AlertTrigger
from remediator.core.snapshot import gauge_values
from remediator.http import approvals as approval_http
from remediator.http.admin import gates as admin_gates
from remediator.http.admin import routes as admin_routes
from remediator.http.history import routes as history_routes
from remediator.http.intake import PATH as INTAKE_PATH
from remediator.http.server import HttpServer, Routes, make_app
from remediator.metrics import Metrics
from remediator.notify import messages
from remediator.probe.schedule import ProbeSchedule
from remediator.runtime import history, reconcile
from remediator.runtime.clusterlooks import ClusterLooks
from remediator.runtime.driver import Driver
from remediator.runtime.eventlog import event_to_json
from remediator.runtime.probefeed import ProbeFeed
from remediator.runtime.scheduler import MonotonicScheduler
from remediator.runtime.sdnotify import Notifier
from remediator.runtime.status import status
from remediator.runtime.wiring import build, look_pool_size, probe_sockets, rebuild
from remediator.store import Ledger
from remediator.timetext import format_duration, rfc3339

log = logging.getLogger("remediator.runtime.daemon")

TICK_SECONDS = 1.0
# A signed read-only call per target this often, so that a broken action path shows early.
READINESS_SECONDS = 60.0
# The history older than state.retention is swept this often.
HISTORY_SWEEP = 3600.0
# At SIGTERM, in-flight calls get this long to finish; then they are abandoned (see stop()).
STOP_GRACE = 5.0
# Whether the ledger takes writes is tried this often (a heartbeat row).
LEDGER_CHECK_SECONDS = 5.0


def _settle_heap() -> None:
    """Put what start-up built out of the cyclic collector's way: at 5,000 targets a full
    collection over it (~200,000 objects) took ~70 ms, holding every thread, the probe loop's
    too, and was most of the probes' p99 lateness."""
    gc.collect()
    gc.freeze()


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """A signal's Python handler: nothing (its number reached `Daemon.run` by the wakeup fd)."""


class Daemon:
    """A running remediator: start() brings it up, stop() brings it down cleanly."""

    def __init__(  # noqa: PLR0913 - injected collaborators and options, by keyword
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        notifier: Notifier | None = None,
        dry_run: bool = False,
        executor: Executor | None = None,
        record_events: Path | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        # Decisions, schedules and timeouts run on steady time: a step of the wall clock
        # changes none of them (see clock.SteadyClock); the ledger and the logs keep wall time.
        self.clock = SteadyClock(clock or SystemClock())
        self._stepped = 0.0  # the wall clock's step last said
        self.registry = registry or CollectorRegistry()
        self.notifier = notifier or Notifier(environ)
        self._environ = environ
        self._stopping = threading.Event()
        self._ready = False
        self._episodes_swept_at = -math.inf
        self._history_swept_at = -math.inf
        self.abandoned = 0  # calls still running when stop() gave up waiting
        self.parts = build(
            config,
            clock=self.clock,
            registry=self.registry,
            environ=environ,
            dry_run=dry_run,
            executor=executor,
            ledger=ledger,
        )
        self.scheduler = MonotonicScheduler(
            clock=self.clock,
            executors={
                # Cluster-status looks; probes run on the probe loop (`self.probes`).
                "default": look_pool_size(config),
                # Their own threads, so that a hanging gateway or slow looks never hold back
                # the watchdog's tick (nor the tick the readiness check).
                "readiness": 1,
                "tick": 1,
                # A locked SQLite file blocks a write for its busy timeout: not the tick's.
                "ledger": 1,
            },
        )
        self.cluster_looks = ClusterLooks(self.driver, self.clock)
        # Probes: timed and run on the probe loop; their results taken on the feed's thread.
        self.probe_feed = ProbeFeed(self._take_probe)
        self.probes = ProbeSchedule(self.parts.probe_loop, self._probe, self.probe_feed.put)
        self._recording: TextIO | None = None
        if record_events is not None:
            # Line-buffered: a crash loses at most the line being written.
            self._recording = record_events.open("a", encoding="utf-8", buffering=1)
            recording = self._recording

            def record(event: Event, now: float) -> None:
                recording.write(event_to_json(event, now) + "\n")

            self.driver.recorder = record
        token = self.parts.secrets.admin_token
        asked, answered = approval_http.routes(token, self.parts.operator)
        routes = Routes(
            registry=self.registry,
            healthy=self.healthy,
            ready=self.ready,
            status=self.status,
            extra={
                ("POST", INTAKE_PATH): self.parts.intake,
                **admin_routes(token, self.parts.operator),
                **asked,
                **history_routes(self.history),
            },
            prefixed=answered,
            gates={
                ("POST", INTAKE_PATH): self.parts.intake.gate,
                **admin_gates(token),
                **approval_http.gates(token),
            },
        )
        self.http = HttpServer(
            make_app(routes),
            config.server.host,
            config.server.port,
            gates=routes.gates,
            clock=self.clock,
        )

    # The running configuration's parts (replaced as a whole by a reload).

    @property
    def config(self) -> Config:
        """The configuration running now."""
        return self.parts.config

    @property
    def engine(self) -> Engine:
        """The engine deciding now."""
        return self.parts.driver.engine

    @property
    def driver(self) -> Driver:
        """The driver between the engine and the world."""
        return self.parts.driver

    @property
    def ledger(self) -> Ledger:
        """The durable ledger."""
        return self.parts.ledger

    @property
    def metrics(self) -> Metrics:
        """The metrics on `registry`."""
        return self.parts.metrics

    # -- lifecycle -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Declare every per-target metric; settle the actions a previous daemon left without a
        result (see `reconcile`); decide the alerts recorded but never decided."""
        self._declare()
        self.metrics.config_last_reload_success.set(1)
        reconcile.settle(self.driver, self.clock.now())
        # Still firing after a day, Alertmanager will have re-sent it (repeat_interval).
        policy = self.engine.policy
        pending = [
            a
            for a in self.ledger.pending_alerts(self.clock.now() - 86400.0)
            if any(
                isinstance(r.trigger, AlertTrigger) and r.trigger.matches(a.alertname, a.labels)
                for r in policy.rules_for(a.target)
            )
        ]
        if pending:
            log.warning(
                f"{len(pending)} alert(s) were recorded but not yet decided (a restart after "
                "the webhook's 200?): deciding them now",
                extra={"event": "restore"},
            )
            for alert in pending:
                self.driver.feed(alert)

    def start(self) -> None:
        """Prepare, start probing and serving; then READY=1."""
        self.prepare()
        policy = self.engine.policy
        self.http.start()  # first: a taken address fails before anything runs
        self.parts.probe_loop.start(probe_sockets(self.config))
        self.probe_feed.start()
        self._schedule()
        self.probes.start()
        self.scheduler.start()
        self.parts.dispatcher.start()
        _settle_heap()
        self._ready = True
        self.notifier.send(READY="1", STATUS=self._status_line())
        log.info(
            f"remediator started: {len(policy.targets)} targets, {len(policy.rules)} rules, "
            f"listening on {self.http.host}:{self.http.port}"
            + (
                " — DRY RUN: decisions are made and recorded, no action is sent"
                if self.driver.dry_run
                else ""
            ),
            extra={"event": "start", "dry_run": self.driver.dry_run},
        )

    def stop(self) -> None:
        """Stop scheduling, give in-flight cloud calls STOP_GRACE to finish, flush the ledger.

        A call still running then is abandoned (`abandoned` counts them): its intent is in the
        ledger, so the next start verifies it and never resends it — a crash's path, taken on
        purpose so that SIGTERM ends in seconds, not after a hanging gateway's timeout.
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._ready = False
        self.notifier.send(STOPPING="1")
        log.info("stopping: no new probes; finishing in-flight actions", extra={"event": "stop"})
        self.scheduler.shutdown(wait=False)
        self.probes.stop()
        self.parts.probe_loop.stop()  # cancels the probes in flight
        self.probe_feed.stop()  # the results already taken reach the engine
        # The listener first: a webhook now gets no answer (Alertmanager retries) rather
        # than a 500 from an executor that is shutting down.
        self.http.close()
        self.parts.actions.shutdown(wait=False, cancel_futures=True)
        self.abandoned = self.driver.wait_idle(STOP_GRACE)
        if self.abandoned:
            log.warning(
                f"stopping with {self.abandoned} call(s) still running after {STOP_GRACE:g}s: "
                "abandoned; their intents are in the ledger, so the next start verifies them "
                "and never resends them",
                extra={"event": "stop", "abandoned": self.abandoned},
            )
        self.parts.close()
        if self._recording is not None:
            self._recording.close()
        log.info("stopped", extra={"event": "stop"})

    def run(self) -> int:
        """Run in the foreground until SIGTERM or SIGINT, reloading on SIGHUP; the exit code.

        The signal handlers do nothing: the C-level handler writes each signal's number to a
        socket (`signal.set_wakeup_fd`) that this loop reads. A handler that took a lock (an
        Event's, the logging handler's) could deadlock with the interrupted main thread holding
        it — a daemon that never stops.
        """
        wakeup, wakeup_in = socket.socketpair()
        wakeup_in.setblocking(False)
        previous = signal.set_wakeup_fd(wakeup_in.fileno(), warn_on_full_buffer=False)
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, _noted)
        try:
            self.start()
            while not self._stopping.is_set():
                ready, _, _ = select.select([wakeup], [], [], 1.0)
                for signum in wakeup.recv(64) if ready else b"":
                    if signum == signal.SIGHUP:
                        self._reload_on_signal()
                    elif signum in (signal.SIGTERM, signal.SIGINT):
                        log.info(
                            f"received {signal.Signals(signum).name}", extra={"event": "signal"}
                        )
                        self.stop()
                        break
        finally:
            signal.set_wakeup_fd(previous)
            wakeup.close()
            wakeup_in.close()
        self.stop()
        return 0

    def _reload_on_signal(self) -> None:
        self.notifier.send(RELOADING="1", MONOTONIC_USEC=str(int(self.clock.monotonic() * 1e6)))
        self.reload()
        self.notifier.send(READY="1", STATUS=self._status_line())

    def reload(self) -> bool:
        """Re-read the config and rules; on any problem keep running the old ones."""
        old = self.config
        try:
            new = load_config(old.path)
            secrets = resolve_secrets(new, environ=self._environ)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error(f"reload refused: {problem}", extra={"event": "reload"})
            return self._reload_failed(
                f"{len(exc.problems)} problem(s)", [str(p) for p in exc.problems]
            )
        except OSError as exc:
            log.error(f"reload refused: cannot read {old.path}: {exc}", extra={"event": "reload"})
            return self._reload_failed(str(exc), [f"cannot read {old.path}: {exc.strerror}"])
        for section in ("server", "state"):
            if getattr(new, section) != getattr(old, section):
                log.warning(
                    f"reload: the {section} section changed; it takes effect at the next restart",
                    extra={"event": "reload"},
                )
        self.parts = rebuild(self.parts, new, secrets, clock=self.clock)
        self._declare()
        self._schedule(replace=True)
        gc.unfreeze()
        _settle_heap()
        log.info(f"reloaded {old.path}: {describe_changes(old, new)}", extra={"event": "reload"})
        self.metrics.config_last_reload_success.set(1)
        return True

    def _reload_failed(self, why: str, problems: list[str]) -> bool:
        self.metrics.config_last_reload_success.set(0)
        log.error(
            f"reload refused ({why}): still running the previous configuration",
            extra={"event": "reload"},
        )
        self.driver.notices.write(messages.reload_refused(problems, self.clock.now()))
        return False

    # -- scheduling ----------------------------------------------------------------------

    def _declare(self) -> None:
        self.metrics.declare_actions(BLAST_RADIUS.items())
        policy = self.engine.policy
        self.metrics.declare(
            [t.name for t in policy.targets],
            [(r.name, t.name) for t in policy.targets for r in policy.rules_for(t.name)],
        )
        self.metrics.declare_notifications([(s.name, s.events) for s in self.config.notify])

    def _schedule(self, *, replace: bool = False) -> None:
        if replace:
            for job in self.scheduler.get_jobs():
                if job.id.startswith("cluster:") or job.id == "action-path":
                    job.remove()
        start = datetime.fromtimestamp(self.clock.now(), UTC)
        # Probes are timed on the probe loop, not by APScheduler: a thread per run cannot keep
        # thousands of targets on schedule when some hang (see bench/README.md).
        self.probes.set(self.config.health_checks())
        clusters = self.config.cluster_checks()
        self.cluster_looks.scheduled = frozenset(c.target for c in clusters)
        for i, cluster in enumerate(clusters):
            offset = cluster.interval * i / max(1, len(clusters))
            self.scheduler.add_job(
                self.cluster_looks.look_and_feed,
                "interval",
                args=[cluster],
                seconds=cluster.interval,
                start_date=start + timedelta(seconds=offset + random.uniform(0, 0.1)),
                misfire_grace_time=max(1, int(cluster.interval / 2)),
                id=f"cluster:{cluster.target}",
                name=f"cluster status {cluster.target}",
            )
        self.scheduler.add_job(
            self.driver.check_action_path,
            "interval",
            seconds=READINESS_SECONDS,
            start_date=start + timedelta(seconds=2),
            misfire_grace_time=int(READINESS_SECONDS / 2),
            executor="readiness",
            id="action-path",
            name="action path",
        )
        if replace:
            return
        self.scheduler.add_job(
            self.check_ledger,
            "interval",
            seconds=LEDGER_CHECK_SECONDS,
            executor="ledger",
            id="ledger",
            misfire_grace_time=int(LEDGER_CHECK_SECONDS),
        )
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_SECONDS,
            executor="tick",
            id="tick",
            misfire_grace_time=1,
        )

    async def _probe(self, check: HealthCheck) -> ProbeResult:
        return await self.parts.prober.probe_async(check)  # the prober of the running config

    def _take_probe(self, result: ProbeResult) -> None:
        self.driver.take_probe(result)

    def tick(self) -> None:
        """The periodic job: let time pass in the engine, refresh gauges, pet the watchdog."""
        now = self.clock.now()
        self._say_step()
        self.driver.feed(Tick(now))
        self.cluster_looks.watch_rolling()
        self._update_gauges(now)
        if self.notifier.watchdog_interval is not None:
            self.notifier.send(WATCHDOG="1", STATUS=self._status_line())
        if now >= self._episodes_swept_at + EPISODE_SWEEP:
            self._episodes_swept_at = now
            self._forget_episodes(now)
        if now >= self._history_swept_at + HISTORY_SWEEP:
            self._history_swept_at = now
            self._sweep_history(now)

    def _say_step(self) -> None:
        """Say once when the wall clock steps (NTP, a VM resumed): nothing here depends on it."""
        stepped = self.clock.stepped()
        if abs(stepped - self._stepped) < 1.0:
            return
        change, self._stepped = stepped - self._stepped, stepped
        log.warning(
            f"the wall clock stepped {'+' if change > 0 else '-'}{format_duration(abs(change))} "
            "(NTP, a VM resumed, date -s?): schedules, cooldowns and verification keep to the "
            "monotonic clock and are not affected; the ledger and the logs keep wall time",
            extra={"event": "clock", "stepped_seconds": round(change, 3)},
        )

    def _forget_episodes(self, now: float) -> None:
        """The ledger forgets alert episodes as the engine does (see EPISODE_MEMORY)."""
        try:
            forgotten = self.ledger.forget_episodes(now - EPISODE_MEMORY)
        except Exception:  # the tick goes on; the next sweep tries again
            log.exception("could not forget old alert episodes", extra={"event": "ledger"})
            return
        if forgotten:
            log.info(
                f"forgot {forgotten} alert episode(s) not seen for {EPISODE_MEMORY / 86400:g} days",
                extra={"event": "ledger", "forgotten": forgotten},
            )

    def _sweep_history(self, now: float) -> None:
        """Forget the history older than `state.retention` (SPEC section 11)."""
        retention = self.config.state.retention
        try:
            swept = self.ledger.sweep_history(now - retention)
        except Exception:  # the tick goes on; the next sweep tries again
            log.exception("could not sweep the history", extra={"event": "ledger"})
            return
        if swept:
            log.info(
                f"swept {swept} history entries older than {retention / 86400:g} days",
                extra={"event": "ledger", "swept": swept},
            )

    def _update_gauges(self, now: float) -> None:
        with self.driver.lock:
            values = gauge_values(self.driver.engine, now)
            waiting = {t for t, a in self.driver.engine.approvals.items() if not a.approved}
        m = self.metrics
        for target, paused, rules in values:
            m.paused.labels(target=target).set(1 if paused else 0)
            m.approvals_pending.labels(target=target).set(target in waiting)
            for rule, cooldown, breaker_open in rules:
                m.cooldown_remaining.labels(rule=rule, target=target).set(cooldown)
                m.breaker_open.labels(rule=rule, target=target).set(1 if breaker_open else 0)

    def check_ledger(self) -> None:
        """A heartbeat write (or, while the ledger cannot be written, what was kept), so that
        readiness shows a ledger that stopped taking writes before an intent finds out."""
        self.driver.ledger_watch.check()

    # -- views ---------------------------------------------------------------------------

    def ready(self) -> bool:
        """Started, not stopping, and the ledger takes writes (an intent can be recorded)."""
        return self._ready and self.driver.ledger_watch.writable

    def healthy(self) -> bool:
        """The process and its scheduler run."""
        return not self._stopping.is_set() and self.scheduler.running

    def status(self) -> dict[str, Any]:
        """The data of `remediator status` (its times as wall time)."""
        data = status(self.driver, self.clock.now())
        data["at"] = as_wall(self.clock, data["at"])
        data["time"] = rfc3339(data["at"])
        return data

    def history(self, target: str | None, since: str, limit: int) -> list[dict[str, Any]]:
        """The data of `remediator history` (see `runtime.history.view`)."""
        return history.view(self.ledger, target, since, limit, self.clock.now())

    def _status_line(self) -> str:
        ups = sum(1 for t in self.engine.targets.values() if t.last_ok)
        busy = sum(1 for t in self.engine.targets.values() if t.in_flight is not None)
        return f"{ups}/{len(self.engine.targets)} targets up, {busy} remediation(s) in flight"
