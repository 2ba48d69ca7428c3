"""Carries out what the engine decides: feeds it one event at a time, records and counts its
decisions, and answers its requests — the look before acting (`preflight`), the signed
actions with their intents written first (`sending`) — watching the action path on the way
(`actionpath`).

All engine calls go through `Driver.feed`, under one lock, so the engine sees one event at a
time. The engine's requests are answered by the one `Runner`: the slow answers (fresh probes,
cluster status reads, signed calls) run on the actions executor, never under the lock.
Observers (the demo's narrator) hear each event fed in (`event_listeners`) and then each output
it produced (`listeners`), outside the lock.

The collaborators a reload replaces (`rewire`) are the driver's attributes, read by each answer
when it starts; the parts it delegates to keep only what outlives a reload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import assert_never

from remediator.clock import Clock
from remediator.config.health import HealthCheck
from remediator.core.decisions import (
    Act,
    ApprovalRequested,
    ApprovalSettled,
    BreakerChanged,
    CheckFirst,
    Decision,
    Escalated,
    Output,
    Remediated,
)
from remediator.core.engine import Engine
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    Event,
    PreflightResult,
    ProbeResult,
    Tick,
)
from remediator.metrics import Metrics
from remediator.ncp.client import CdssClient
from remediator.ncp.results import ClusterStatus
from remediator.notify import messages
from remediator.notify.sinks import Router
from remediator.runtime import approvals, history, preflight, report
from remediator.runtime.actionpath import ActionPath
from remediator.runtime.alertqueue import AlertQueue
from remediator.runtime.ledgerwatch import LedgerWatch
from remediator.runtime.notices import Notices
from remediator.runtime.probelog import ProbeLog
from remediator.runtime.respect import Respect
from remediator.runtime.runner import Runner
from remediator.runtime.sending import Sender
from remediator.store import Ledger

log = logging.getLogger("remediator.runtime.daemon")

Probe = Callable[[HealthCheck], ProbeResult]


class Driver:
    """The thin driver between the pure engine and the world."""

    def __init__(  # noqa: PLR0913 - injected collaborators, by keyword
        self,
        *,
        engine: Engine,
        ledger: Ledger,
        client: CdssClient,
        probe: Probe,
        checks: dict[str, HealthCheck],
        regions: dict[str, str],
        metrics: Metrics,
        clock: Clock,
        executor: Executor,
        dry_run: bool = False,
        failpoint: str | None = None,
        router: Router | None = None,
        respect: Respect | None = None,
    ) -> None:
        self.engine = engine
        # Where notifications go; they are written to the ledger with what causes them.
        self.notices = Notices(ledger, router)
        self.ledger = ledger
        self.client = client
        self._probe = probe
        self.probe_log = ProbeLog(clock)
        self.checks = checks
        self.regions = regions
        self.metrics = metrics
        self.clock = clock
        self.executor = executor
        self.dry_run = dry_run
        # Silences and maintenance windows, asked before each action (None: nothing to ask).
        self.respect = respect
        self.lock = threading.RLock()
        self._idle = threading.Condition()
        self._busy = 0  # work running on the executor (answers, alerts)
        self.ledger_watch = LedgerWatch(ledger, metrics, clock)
        self.path = ActionPath(self.notices, clock)
        # Readiness checks use their own single-attempt client (see check_action_path).
        self.path_client = client
        self.sender = Sender(
            ledger=ledger,
            ledger_watch=self.ledger_watch,
            notices=self.notices,
            path=self.path,
            metrics=metrics,
            clock=clock,
            failpoint=failpoint,
        )
        self.listeners: list[Callable[[Output], None]] = []
        self.event_listeners: list[Callable[[Event], None]] = []
        # Sees every event in the order the engine does (for `explain` recordings).
        self.recorder: Callable[[Event, float], object] | None = None
        self._recorder_failing = False
        self._history = history.HistoryWriter(ledger)
        # `self.feed` looked up each time: tests wrap it.
        self._alerts = AlertQueue(
            self.executor.submit, lambda alert: self._guarded(self.feed, alert)
        )
        self._runner = Runner(
            self._step, check_first=self._check_first, act=self._send, submit=self.submit
        )

    def rewire(  # noqa: PLR0913 - a reload's collaborators, by keyword
        self,
        *,
        engine: Engine,
        client: CdssClient,
        probe: Probe,
        checks: dict[str, HealthCheck],
        regions: dict[str, str],
        path_client: CdssClient | None = None,
        router: Router | None = None,
        respect: Respect | None = None,
    ) -> None:
        """Switch to a reloaded configuration's engine and collaborators (call under `lock`)."""
        self.engine, self.client, self._probe = engine, client, probe
        if router is not None:
            self.notices.router = router
        self.respect = respect
        self.path_client = path_client or client
        self.checks, self.regions = checks, regions

    # -- events in -----------------------------------------------------------------------

    def feed(self, event: Event) -> list[Output]:
        """Hand one event to the engine and carry out what it says; returns its outputs."""
        return self._runner.feed(event)

    def _step(self, event: Event) -> list[Output]:
        """One event through the engine, under the lock; what it asks for is the runner's."""
        with self.lock:
            now = self.clock.now()
            outputs = self.engine.handle(event, now)
            # A tick that changed nothing replays the same without its line (86,400 a day).
            if self.recorder is not None and (outputs or not isinstance(event, Tick)):
                self._record(self.recorder, event, now)
            for out in outputs:
                self._carry_out(out)
            if isinstance(event, ActionOutcome) and event.result == "not_available":
                self.sender.count_unavailable(event, outputs)
        # Suppressions are said outside the lock: an alert storm makes thousands, and their
        # log lines must not hold probes back (an acted decision is said inside, in order).
        for out in outputs:
            if isinstance(out, Decision) and out.outcome == "suppressed":
                report.say(out, self.metrics)
        # The history too, but before the runner sends what was decided.
        self._history.write(event, outputs)
        for event_listener in self.event_listeners:
            event_listener(event)
        for out in outputs:
            for listener in self.listeners:
                listener(out)
        return outputs

    def _record(self, recorder: Callable[[Event, float], object], event: Event, now: float) -> None:
        """Record for `explain`; a failing recording (a full disk) never fails the event."""
        try:
            recorder(event, now)
        except Exception:
            if not self._recorder_failing:
                log.exception(
                    "could not record an event for `remediator explain`; the recording has gaps "
                    "from here (said once, until it works again)",
                    extra={"event": "record"},
                )
            self._recorder_failing = True
        else:
            self._recorder_failing = False

    def feed_alerts(self, alerts: list[AlertEvent]) -> None:
        """Hand webhook alerts to the engine, off the request thread (see `AlertQueue`)."""
        self._alerts.put(alerts)

    # -- probes --------------------------------------------------------------------------

    def probe(self, check: HealthCheck) -> ProbeResult:
        """Probe a target now, waiting for it, and count it; does not feed the engine."""
        return self.count_probe(self._probe(check))

    def count_probe(self, result: ProbeResult) -> ProbeResult:
        """Count a probe's result in the metrics, and log it if the target's health changed."""
        outcome = "success" if result.ok else "failure"
        self.metrics.probes.labels(target=result.target, result=outcome).inc()
        self.metrics.probe_duration.observe(result.duration)
        self.metrics.target_up.labels(target=result.target).set(1 if result.ok else 0)
        self.probe_log.note(result)
        return result

    def probe_and_feed(self, check: HealthCheck) -> None:
        """Probe a target now, count it and feed it (the harness's step; scheduled probes run
        on the probe loop and arrive through `take_probe`)."""
        self.feed(self.probe(check))

    def take_probe(self, result: ProbeResult) -> None:
        """A scheduled probe's result: count it and feed it."""
        self.feed(self.count_probe(result))

    # -- the action path -----------------------------------------------------------------

    def check_action_path(self) -> None:
        """One signed read-only call per region, with the single-attempt client (see
        `ActionPath.check`)."""
        self.path.check(self.engine.policy, self.regions, self.path_client)

    @property
    def action_path_up(self) -> bool | None:
        """Whether the last signed read-only call succeeded (None: none made yet)."""
        return self.path.up

    def cluster_status(
        self, client: CdssClient, cluster_no: str, region: str | None
    ) -> ClusterStatus:
        """A signed read-only call; whether it worked is what `status` says of the action path."""
        return self.path.read(client, cluster_no, region)

    # -- outputs, under the lock ---------------------------------------------------------

    def _carry_out(self, out: Output) -> None:
        # Records that the ledger cannot take now are kept and written later (`write`); an
        # intent that cannot be written stops its action (see `Sender.record_intent`).
        write = self.ledger_watch.record
        match out:
            case Decision():
                report.record_decision(out, self.engine, self.ledger, self.metrics, write)
                if out.outcome == "acted":
                    self.sender.decided(out)
            case CheckFirst():
                pass  # answered by the runner, off the lock
            case Act():
                self.sender.record_intent(out, dry_run=self.dry_run)
            case Remediated():
                notices = self.notices.route(messages.remediated(out, self._cluster_no(out.target)))
                report.record_remediation(out, self.ledger, self.metrics, write, notices=notices)
                self.sender.settled(out.target)
                self.notices.written(notices)
            case Escalated():
                report.record_escalation(out, self.ledger, write)
                self.sender.settled(out.target)
            case BreakerChanged():
                notices = self.notices.route(messages.breaker(out, self._cluster_no(out.target)))
                report.record_breaker(out, self.ledger, self.metrics, write, notices=notices)
                self.notices.written(notices)
            case ApprovalRequested():
                approvals.record_request(out, self.ledger, self.notices, write)
            case ApprovalSettled():
                approvals.record_settled(out, self.ledger, self.notices, write)
            case _:
                assert_never(out)

    def _cluster_no(self, target: str) -> str:
        ref = self.engine.policy.target(target)
        return ref.cluster_no if ref else ""

    # -- answers and other slow work, on the actions executor ----------------------------

    def _check_first(self, c: CheckFirst) -> PreflightResult:
        """The answer to a `CheckFirst`: the look before acting (see `preflight`)."""
        return preflight.look(
            c,
            client=self.client,
            region=self.regions.get(c.target),
            check=self.checks.get(c.target),
            probe=self.probe,
            path=self.path,
            respect=self.respect,
            clock=self.clock,
        )

    def _send(self, a: Act) -> ActionOutcome | None:
        """The answer to an `Act`: the signed call's outcome (None in a dry run: nothing sent)."""
        return self.sender.send(
            a, client=self.client, region=self.regions.get(a.target), dry_run=self.dry_run
        )

    def submit(self, work: Callable[[], None]) -> None:
        """Run `work` on the actions executor; an exception in it is logged, not lost."""
        self.executor.submit(self._guarded, work)

    def _guarded(self, fn: Callable[..., object], *args: object) -> None:
        with self._idle:
            self._busy += 1
        try:
            fn(*args)
        except Exception:  # a bug must not kill the executor thread silently
            log.exception("internal error while carrying out a decision")
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> int:
        """Wait up to `timeout` s for the work on the executor to end; how much still runs."""
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout)
            return self._busy
