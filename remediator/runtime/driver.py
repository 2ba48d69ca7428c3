"""Carries out what the engine decides: logs and counts decisions, looks before acting, sends
signed actions with the intent written to the ledger first, and reconciles unknown outcomes.

All engine calls go through `Driver.feed`, under one lock, so the engine sees one event at a
time. The engine's requests are answered by the one `Runner`: the slow answers (fresh probes,
cluster status reads, signed calls) run on the actions executor, never under the lock.
Observers (the demo's narrator) hear each event fed in (`event_listeners`) and then each output
it produced (`listeners`), outside the lock.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import assert_never

from remediator.clock import Clock, as_wall
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
    ActionResult,
    AlertEvent,
    Event,
    PreflightResult,
    ProbeResult,
    Tick,
)
from remediator.core.verification import RETRY_UNSENT
from remediator.errors import LedgerError, NcpError, NcpNotFound
from remediator.metrics import Metrics
from remediator.ncp.client import CdssClient
from remediator.ncp.results import ClusterStatus
from remediator.notify import messages
from remediator.notify.sinks import Router
from remediator.probe import cluster as cluster_look
from remediator.runtime import approvals, history, remedies, report
from remediator.runtime.alertqueue import AlertQueue
from remediator.runtime.ledgerwatch import LedgerWatch
from remediator.runtime.notices import Notices
from remediator.runtime.probelog import ProbeLog
from remediator.runtime.respect import Respect
from remediator.runtime.runner import Runner
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
        # Crash tests only: die with SIGKILL at a named point of a remediation.
        self.failpoint = failpoint
        self.lock = threading.RLock()
        self._idle = threading.Condition()
        self._busy = 0  # work running on the executor (answers, alerts)
        # The ledger row of each target's remediation (a fallback is recorded on it), and of
        # each action whose intent is recorded and whose call is on its way.
        self._action_ids: dict[str, int] = {}
        self._intents: dict[Act, int] = {}
        # Actions whose intent could not be written (the ledger's error): never sent.
        self._unrecorded: dict[Act, str] = {}
        self.ledger_watch = LedgerWatch(ledger, metrics, clock)
        self._path_ok: dict[str, bool] = {}
        # The reason of each (rule, target)'s latest acted decision, for its `acted` notice.
        self._acted_why: dict[tuple[str, str], str] = {}
        self._path_turn = -1
        # Whether the last signed read-only call succeeded (None: none made yet).
        self.action_path_up: bool | None = None
        # Readiness checks use their own single-attempt client (see check_action_path).
        self.path_client = client
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
                self._count_unavailable(event, outputs)
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

    def submit(self, work: Callable[[], None]) -> None:
        """Run `work` on the actions executor; an exception in it is logged, not lost."""
        self.executor.submit(self._guarded, work)

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

    def check_action_path(self) -> None:
        """One signed read-only call per region, round-robin over its targets.

        So that a broken key, permission, region or clock shows before an incident, without
        a burst of calls (NCP throttles per key) or retries that would hold a thread.
        """
        by_region: dict[str, list[str]] = {}
        for target in self.engine.policy.targets:
            by_region.setdefault(self.regions.get(target.name, ""), []).append(target.name)
        self._path_turn += 1
        for region, names in sorted(by_region.items()):
            name = names[self._path_turn % len(names)]
            ref = self.engine.policy.target(name)
            assert ref is not None
            was = self._path_ok.get(region)
            try:
                self.cluster_status(self.path_client, ref.cluster_no, region or None)
            except NcpError as exc:
                self._path_ok[region] = False
                if was is not False:
                    log.error(
                        f"action path to CDSS ({region or 'default region'}, checked with "
                        f"{name}) is down: {exc}",
                        extra={"event": "action_path", "target": name, "up": False},
                    )
                    self._notify_path(False, region, name, ref.cluster_no, str(exc))
                continue
            self._path_ok[region] = True
            if was is False:
                log.info(
                    f"action path to CDSS ({region or 'default region'}) is back",
                    extra={"event": "action_path", "target": name, "up": True},
                )
                self._notify_path(True, region, name, ref.cluster_no, "")

    def _notify_path(self, up: bool, region: str, name: str, cluster_no: str, detail: str) -> None:
        now = self.clock.now()
        self.notices.write(
            messages.action_path(
                up, region=region, checked_with=name, cluster_no=cluster_no, detail=detail, at=now
            )
        )

    def feed_alerts(self, alerts: list[AlertEvent]) -> None:
        """Hand webhook alerts to the engine, off the request thread (see `AlertQueue`)."""
        self._alerts.put(alerts)

    # -- outputs -------------------------------------------------------------------------

    def _carry_out(self, out: Output) -> None:
        # Records that the ledger cannot take now are kept and written later (`write`); an
        # intent that cannot be written stops its action (see `_record_intent`).
        write = self.ledger_watch.record
        match out:
            case Decision():
                report.record_decision(out, self.engine, self.ledger, self.metrics, write)
                if out.outcome == "acted":
                    self._acted_why[(out.rule, out.target)] = out.detail
            case CheckFirst():
                pass  # answered by the runner, off the lock
            case Act():
                self._record_intent(out)
            case Remediated():
                notices = self.notices.route(messages.remediated(out, self._cluster_no(out.target)))
                report.record_remediation(out, self.ledger, self.metrics, write, notices=notices)
                self._action_ids.pop(out.target, None)
                self.notices.written(notices)
            case Escalated():
                report.record_escalation(out, self.ledger, write)
                self._action_ids.pop(out.target, None)
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

    def _record_intent(self, a: Act) -> None:
        """The intent, durably, with its `acted` notification, before the runner hands the
        call to the executor; when it cannot be written, the call is not made (`_send` answers
        `not_sent`)."""
        why = self._acted_why.pop((a.rule, a.target), "") if a.fallback_of is None else ""
        notices = self.notices.route(messages.acted(a, why, dry_run=self.dry_run))
        try:
            if a.fallback_of is None:
                action_id = self.ledger_watch.required(
                    "intent",
                    lambda: self.ledger.record_intent(
                        rule=a.rule,
                        target=a.target,
                        cluster_no=a.cluster_no,
                        action=a.action,
                        mode="enforce",
                        trigger=a.trigger,
                        at=a.at,
                        step=a.step,
                        nodes=a.nodes,
                        notices=notices,
                    ),
                )
                self._action_ids[a.target] = action_id
            else:
                action_id = self._action_ids.get(a.target, 0)
                self.ledger_watch.required(
                    "intent",
                    lambda: self.ledger.record_fallback(
                        action_id,
                        action=a.action,
                        at=a.at,
                        detail=f"{a.fallback_of} is not available; fell back to {a.action}",
                        notices=notices,
                    ),
                )
        except LedgerError as exc:
            self._unrecorded[a] = str(exc)
            return
        self._intents[a] = action_id
        self.notices.written(notices)
        self._fail_at("after_intent")

    def _count_unavailable(self, outcome: ActionOutcome, outputs: list[Output]) -> None:
        if not any(isinstance(o, Act) and o.fallback_of == outcome.action for o in outputs):
            # Not available and nothing to fall back to: the remediation failed. With a
            # fallback it goes on (restartCMAKService, withdrawn since 2026-09-17, on every
            # CMAK incident): the 404 shows in remediator_ncp_requests_total, the log and the
            # ledger, not as a failed action that would page someone each time.
            self.metrics.actions.labels(
                target=outcome.target, action=outcome.action, result="failure"
            ).inc()

    def _fail_at(self, point: str) -> None:
        if self.failpoint == point:
            log.critical(f"failpoint {point}: killing this process", extra={"event": "failpoint"})
            os.kill(os.getpid(), signal.SIGKILL)

    # -- slow work on the actions executor -----------------------------------------------

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

    def cluster_status(
        self, client: CdssClient, cluster_no: str, region: str | None
    ) -> ClusterStatus:
        """A signed read-only call; whether it worked is what `status` says of the action path."""
        try:
            status = client.get_cluster_status(cluster_no, region=region)
        except NcpError:
            self.action_path_up = False
            raise
        self.action_path_up = True
        return status

    def _check_first(self, c: CheckFirst) -> PreflightResult:
        """The answer to a `CheckFirst`: the cluster status, a fresh look at the rule's evidence
        when asked (the tool's probe, or that status), what the step needs (see remedies), and
        whether a silence or a maintenance window holds the target."""
        # Maintenance windows are on the wall clock (the decisions' clock may be steady time).
        wall = as_wall(self.clock, self.clock.now())
        held = self.respect.hold(c.target, wall) if c.respect and self.respect else None
        fresh = None
        check = self.checks.get(c.target)
        if c.probe and c.check == "tool" and check is not None:
            fresh = self.probe(check)
        busy: bool | None = None
        detail = ""
        gathered = remedies.Gathered()
        region = self.regions.get(c.target)
        try:
            status = self.cluster_status(self.client, c.cluster_no, region)
        except NcpError as exc:
            detail = f"getClusterStatus failed: {exc}"
            log.warning(detail, extra={"event": "preflight", "target": c.target, "rule": c.rule})
            if c.probe and c.check == "cluster":
                fresh = cluster_look.unreadable(c.target, exc, self.clock.now())
        else:
            busy = status.busy
            detail = cluster_look.summary(status) + (
                f", cmak {status.cmak_status}" if status.cmak_status else ""
            )
            if c.probe and c.check == "cluster":
                fresh = self.count_look(cluster_look.look(c.target, status, self.clock.now()))
            if not busy:
                gathered = remedies.gather(self.client, c.action, c.cluster_no, status, region)
        return PreflightResult(
            rule=c.rule,
            target=c.target,
            token=c.token,
            at=self.clock.now(),
            probe=fresh,
            cluster_busy=busy,
            cluster_detail=detail,
            nodes=gathered.nodes,
            nodes_detail=gathered.nodes_detail,
            precheck_ok=gathered.precheck_ok,
            precheck_message=gathered.precheck_message,
            held=held[0] if held else None,
            held_detail=held[1] if held else "",
        )

    def count_look(self, result: ProbeResult) -> ProbeResult:
        """Log a cluster look that found the cluster unhealthy; returns it."""
        if not result.ok and not result.inconclusive:
            log.info(
                f"cluster status of {result.target} unhealthy: {result.reason}",
                extra={"target": result.target, "reason": result.reason, "event": "cluster"},
            )
        return result

    def _send(self, a: Act) -> ActionOutcome | None:
        """The answer to an `Act`: the signed call's outcome (None in a dry run: nothing sent)."""
        if a in self._unrecorded:
            why = self._unrecorded.pop(a)
            detail = (
                f"its intent could not be written to the ledger ({why}); trying again in "
                f"{RETRY_UNSENT:g}s, after a fresh look"
            )
            report.say_outcome(a, "not_sent", None, detail)
            return ActionOutcome(
                rule=a.rule,
                target=a.target,
                action=a.action,
                result="not_sent",
                at=self.clock.now(),
                detail="its intent could not be written to the ledger",
            )
        action_id = self._intents.pop(a)
        region = self.regions.get(a.target)
        record = self.ledger_watch.record
        if self.dry_run:
            extra = {"event": "action", "rule": a.rule, "target": a.target, "action": a.action}
            log.info(f"dry run: would send {a.action}", extra=extra)
            at = self.clock.now()
            record(
                "outcome",
                lambda: self.ledger.record_outcome(
                    action_id, result="dry_run", at=at, request_id=None, detail=""
                ),
            )
            return None
        self.metrics.detection_to_action.labels(action=a.action).observe(
            max(0.0, a.at - a.detected_at)
        )
        start = self.clock.monotonic()
        request_id: str | None = None
        outcome: ActionResult
        try:
            result = remedies.send(self.client, a, region)
        except NcpNotFound as exc:
            outcome, detail = ("not_available" if exc.withdrawn else "failure"), str(exc)
            request_id = exc.request_id
        except NcpError as exc:
            request_id = exc.request_id
            outcome = "unknown" if exc.sent == "unknown" else "failure"
            detail = str(exc)
        except Exception as exc:
            # A bug or an unexpected library error: whether the call left cannot be known, so
            # it is verified like any unknown outcome, never resent (and never left `acting`).
            log.exception(
                f"internal error while sending {a.action} on {a.target}",
                extra={"event": "action", "rule": a.rule, "target": a.target},
            )
            outcome, detail = "unknown", f"internal error while sending: {exc!r}"
        else:
            outcome, detail, request_id = "success", "", result.request_id
        self._fail_at("after_call")
        elapsed = self.clock.monotonic() - start
        self.metrics.action_duration.labels(action=a.action).observe(elapsed)
        if outcome != "not_available":  # counted once the engine has said what next
            self.metrics.actions.labels(target=a.target, action=a.action, result=outcome).inc()
        at = self.clock.now()
        record(
            "outcome",
            lambda: self.ledger.record_outcome(
                action_id, result=outcome, at=at, request_id=request_id, detail=detail
            ),
        )
        report.say_outcome(a, outcome, request_id, detail)
        if outcome == "unknown":
            self._reconcile(a)
        return ActionOutcome(
            rule=a.rule,
            target=a.target,
            action=a.action,
            result=outcome,
            at=self.clock.now(),
            detail=detail,
        )

    def _reconcile(self, a: Act) -> None:
        """Read the cluster's status after an unknown outcome, to say what most likely happened."""
        extra = {"event": "reconcile", "rule": a.rule, "target": a.target, "action": a.action}
        try:
            status = self.cluster_status(self.client, a.cluster_no, self.regions.get(a.target))
        except NcpError as exc:
            log.warning(f"reconcile: cluster status unreadable ({exc}); verifying", extra=extra)
            return
        if status.busy:
            log.info(
                "reconcile: the cluster is changing, so the action took effect; verifying",
                extra=extra,
            )
        else:
            log.info(
                "reconcile: the cluster is not changing; the action may not have run or has "
                "finished; verifying by probes (not resending)",
                extra=extra,
            )
