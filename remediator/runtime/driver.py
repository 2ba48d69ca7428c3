"""Carries out what the engine decides: logs and counts decisions, looks before acting, sends
signed actions with the intent written to the ledger first, and reconciles unknown outcomes.

All engine calls go through `Driver.feed`, under one lock, so the engine sees one event at a
time; slow work (fresh probes, cloud calls) runs on the actions executor, never under the lock.
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

from remediator.clock import Clock
from remediator.config.health import HealthCheck
from remediator.core.decisions import Act, BreakerChanged, CheckFirst, Decision, Output, Remediated
from remediator.core.engine import Engine
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    Event,
    PreflightResult,
    ProbeResult,
    Tick,
)
from remediator.errors import NcpError, NcpNotFound
from remediator.metrics import Metrics
from remediator.ncp.client import CdssClient
from remediator.store import Ledger

log = logging.getLogger("remediator.runtime.daemon")

Probe = Callable[[HealthCheck], ProbeResult]


class Driver:
    """The thin driver between the pure engine and the world."""

    def __init__(
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
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.client = client
        self._probe = probe
        self.checks = checks
        self.regions = regions
        self.metrics = metrics
        self.clock = clock
        self.executor = executor
        self.dry_run = dry_run
        # Crash tests only: die with SIGKILL at a named point of a remediation.
        self.failpoint = failpoint
        self.lock = threading.RLock()
        self._action_ids: dict[str, int] = {}
        self._path_ok: dict[str, bool] = {}
        self._path_turn = -1
        # Readiness checks use their own single-attempt client (see check_action_path).
        self.path_client = client
        self.listeners: list[Callable[[Output], None]] = []
        self.event_listeners: list[Callable[[Event], None]] = []
        # Sees every event in the order the engine does (for `explain` recordings).
        self.recorder: Callable[[Event, float], object] | None = None
        # Webhook alerts waiting for the engine, and whether a drain task is under way.
        self._alerts_lock = threading.Lock()
        self._alert_batches: list[list[AlertEvent]] = []
        self._alerts_draining = False

    def rewire(
        self,
        *,
        engine: Engine,
        client: CdssClient,
        probe: Probe,
        checks: dict[str, HealthCheck],
        regions: dict[str, str],
        path_client: CdssClient | None = None,
    ) -> None:
        """Switch to a reloaded configuration's engine and collaborators (call under `lock`)."""
        self.engine, self.client, self._probe = engine, client, probe
        self.path_client = path_client or client
        self.checks, self.regions = checks, regions

    # -- events in -----------------------------------------------------------------------

    def feed(self, event: Event) -> list[Output]:
        """Hand one event to the engine and carry out what it says."""
        with self.lock:
            now = self.clock.now()
            outputs = self.engine.handle(event, now)
            # A tick that changed nothing replays the same without its line (86,400 a day).
            if self.recorder is not None and (outputs or not isinstance(event, Tick)):
                self.recorder(event, now)
            for out in outputs:
                self._carry_out(out)
        # Suppressions are said outside the lock: an alert storm makes thousands, and their
        # log lines must not hold probes back (an acted decision is said inside, in order).
        for out in outputs:
            if isinstance(out, Decision) and out.outcome == "suppressed":
                self._say(out)
        for event_listener in self.event_listeners:
            event_listener(event)
        for out in outputs:
            for listener in self.listeners:
                listener(out)
        return outputs

    def probe(self, check: HealthCheck) -> ProbeResult:
        """Probe a target and count it; does not feed the engine."""
        result = self._probe(check)
        outcome = "success" if result.ok else "failure"
        self.metrics.probes.labels(target=result.target, result=outcome).inc()
        self.metrics.probe_duration.observe(result.duration)
        self.metrics.target_up.labels(target=result.target).set(1 if result.ok else 0)
        if not result.ok:
            log.info(
                f"probe of {result.target} failed: {result.reason}",
                extra={"target": result.target, "reason": result.reason, "event": "probe"},
            )
        return result

    def probe_and_feed(self, check: HealthCheck) -> None:
        """The scheduled probe job of one target."""
        self.feed(self.probe(check))

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
                self.path_client.get_cluster_status(ref.cluster_no, region=region or None)
            except NcpError as exc:
                self._path_ok[region] = False
                if was is not False:
                    log.error(
                        f"action path to CDSS ({region or 'default region'}, checked with "
                        f"{name}) is down: {exc}",
                        extra={"event": "action_path", "target": name, "up": False},
                    )
                continue
            self._path_ok[region] = True
            if was is False:
                log.info(
                    f"action path to CDSS ({region or 'default region'}) is back",
                    extra={"event": "action_path", "target": name, "up": True},
                )

    def feed_alerts(self, alerts: list[AlertEvent]) -> None:
        """Hand webhook alerts to the engine, off the request thread.

        One drain task at a time feeds every batch queued, in the order they came: under a
        burst of requests, a request only appends its batch (no thread woken per request).
        """
        with self._alerts_lock:
            self._alert_batches.append(alerts)
            if self._alerts_draining:
                return
            self._alerts_draining = True
        try:
            self.executor.submit(self._drain_alerts)
        except BaseException:
            with self._alerts_lock:
                self._alerts_draining = False
            raise

    def _drain_alerts(self) -> None:
        try:
            while True:
                with self._alerts_lock:
                    batches, self._alert_batches = self._alert_batches, []
                    if not batches:
                        self._alerts_draining = False
                        return
                for batch in batches:
                    for alert in batch:
                        self._guarded(self.feed, alert)
        except BaseException:
            with self._alerts_lock:  # the next batch starts a new drain
                self._alerts_draining = False
            raise

    # -- outputs -------------------------------------------------------------------------

    def _carry_out(self, out: Output) -> None:
        if isinstance(out, Decision):
            self._decision(out)
        elif isinstance(out, CheckFirst):
            self.executor.submit(self._guarded, self._check_first, out)
        elif isinstance(out, Act):
            self._act(out)
        elif isinstance(out, Remediated):
            self._remediated(out)
        elif isinstance(out, BreakerChanged):
            self._breaker(out)

    def _decision(self, d: Decision) -> None:
        if d.outcome != "suppressed":
            self._say(d)
        if d.episode is not None:
            ep = self.engine.episodes.get(d.episode)
            if ep is not None and ep.final:
                self.ledger.mark_episode_decided(*d.episode, at=d.at)
        if d.outcome == "shadow":
            ref = self.engine.policy.target(d.target)
            self.ledger.record_intent(
                rule=d.rule,
                target=d.target,
                cluster_no=ref.cluster_no if ref else "",
                action=d.action,
                mode="shadow",
                trigger=d.trigger,
                at=d.at,
                detail=d.detail,
            )

    def _say(self, d: Decision) -> None:
        """Count and log a decision, once."""
        self.metrics.decisions.labels(
            rule=d.rule, target=d.target, outcome=d.outcome, reason=d.reason
        ).inc()
        log.info(
            f"decision on {d.target} by {d.rule}: {d.outcome} ({d.reason}): {d.detail}",
            extra={
                "event": "decision",
                "rule": d.rule,
                "target": d.target,
                "outcome": d.outcome,
                "reason": d.reason,
                "trigger": d.trigger,
                "action": d.action,
            },
        )

    def _act(self, a: Act) -> None:
        if a.fallback_of is None:
            action_id = self.ledger.record_intent(
                rule=a.rule,
                target=a.target,
                cluster_no=a.cluster_no,
                action=a.action,
                mode="enforce",
                trigger=a.trigger,
                at=a.at,
            )
            self._action_ids[a.target] = action_id
        else:
            action_id = self._action_ids.get(a.target, 0)
            self.ledger.record_fallback(
                action_id,
                action=a.action,
                at=a.at,
                detail=f"{a.fallback_of} is not available; fell back to {a.action}",
            )
        self._fail_at("after_intent")
        self.executor.submit(self._guarded, self._send, a, action_id)

    def _remediated(self, r: Remediated) -> None:
        self.metrics.remediations.labels(rule=r.rule, target=r.target, outcome=r.outcome).inc()
        self.ledger.record_remediation(
            rule=r.rule, target=r.target, outcome=r.outcome, at=r.at, detail=r.detail
        )
        self._action_ids.pop(r.target, None)
        level = logging.INFO if r.outcome == "recovered" else logging.WARNING
        log.log(
            level,
            f"remediation of {r.target} by {r.rule} {r.outcome}: {r.detail}",
            extra={
                "event": "remediation",
                "rule": r.rule,
                "target": r.target,
                "action": r.action,
                "outcome": r.outcome,
            },
        )

    def _breaker(self, b: BreakerChanged) -> None:
        self.metrics.breaker_open.labels(rule=b.rule, target=b.target).set(1 if b.open else 0)
        self.ledger.record_breaker(
            rule=b.rule, target=b.target, open=b.open, at=b.at, detail=b.detail
        )
        if b.open:
            log.error(
                f"breaker open, escalating: {b.detail}",
                extra={"event": "breaker", "rule": b.rule, "target": b.target, "open": True},
            )
        else:
            log.info(
                f"breaker closed: {b.detail}",
                extra={"event": "breaker", "rule": b.rule, "target": b.target, "open": False},
            )

    def _fail_at(self, point: str) -> None:
        if self.failpoint == point:
            log.critical(f"failpoint {point}: killing this process", extra={"event": "failpoint"})
            os.kill(os.getpid(), signal.SIGKILL)

    # -- slow work on the actions executor -----------------------------------------------

    def _guarded(self, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception:  # a bug must not kill the executor thread silently
            log.exception("internal error while carrying out a decision")

    def _check_first(self, c: CheckFirst) -> None:
        fresh = None
        check = self.checks.get(c.target)
        if c.probe and check is not None:
            fresh = self.probe(check)
        busy: bool | None = None
        detail = ""
        try:
            status = self.client.get_cluster_status(c.cluster_no, region=self.regions.get(c.target))
        except NcpError as exc:
            detail = f"getClusterStatus failed: {exc}"
            log.warning(detail, extra={"event": "preflight", "target": c.target, "rule": c.rule})
        else:
            busy = status.busy
            detail = f"broker {status.broker_status}, zookeeper {status.zookeeper_status}" + (
                f", cmak {status.cmak_status}" if status.cmak_status else ""
            )
        self.feed(
            PreflightResult(
                rule=c.rule,
                target=c.target,
                token=c.token,
                at=self.clock.now(),
                probe=fresh,
                cluster_busy=busy,
                cluster_detail=detail,
            )
        )

    def _send(self, a: Act, action_id: int) -> None:
        extra: dict[str, object] = {
            "event": "action",
            "rule": a.rule,
            "target": a.target,
            "action": a.action,
        }
        region = self.regions.get(a.target)
        if self.dry_run:
            log.info(f"dry run: would send {a.action}", extra=extra)
            self.ledger.record_outcome(
                action_id, result="dry_run", at=self.clock.now(), request_id=None, detail=""
            )
            return
        self.metrics.detection_to_action.labels(action=a.action).observe(
            max(0.0, a.at - a.detected_at)
        )
        start = self.clock.monotonic()
        request_id: str | None = None
        try:
            result = self.client.action(a.action, a.cluster_no, region=region)
        except NcpNotFound as exc:
            outcome, detail = ("not_available" if exc.withdrawn else "failure"), str(exc)
            request_id = exc.request_id
        except NcpError as exc:
            request_id = exc.request_id
            outcome = "unknown" if exc.sent == "unknown" else "failure"
            detail = str(exc)
        else:
            outcome, detail, request_id = "success", "", result.request_id
        self._fail_at("after_call")
        elapsed = self.clock.monotonic() - start
        self.metrics.action_duration.labels(action=a.action).observe(elapsed)
        if outcome != "not_available":  # counted below, once the engine has said what next
            self.metrics.actions.labels(target=a.target, action=a.action, result=outcome).inc()
        self.ledger.record_outcome(
            action_id, result=outcome, at=self.clock.now(), request_id=request_id, detail=detail
        )
        extra |= {"result": outcome, "request_id": request_id, "cluster_no": a.cluster_no}
        if outcome == "success":
            log.info(
                f"action {a.action} on {a.target} (cluster {a.cluster_no}) accepted by CDSS, "
                f"requestId {request_id}; verifying",
                extra=extra,
            )
        elif outcome == "unknown":
            log.warning(
                f"action {a.action} outcome unknown ({detail}); reconciling from cluster status, "
                "not resending",
                extra=extra,
            )
            self._reconcile(a)
        elif outcome == "not_available":
            log.warning(f"action {a.action} not available: {detail}", extra=extra)
        else:
            log.error(f"action {a.action} failed: {detail}", extra=extra)
        outputs = self.feed(
            ActionOutcome(
                rule=a.rule,
                target=a.target,
                action=a.action,
                result=outcome,  # type: ignore[arg-type]
                at=self.clock.now(),
                detail=detail,
            )
        )
        if outcome == "not_available" and not any(
            isinstance(out, Act) and out.fallback_of == a.action for out in outputs
        ):
            # Not available and nothing to fall back to: the remediation failed. With a
            # fallback it goes on (restartCMAKService, withdrawn since 2026-09-17, on every
            # CMAK incident): the 404 shows in remediator_ncp_requests_total, the log and the
            # ledger, not as a failed action that would page someone each time.
            self.metrics.actions.labels(target=a.target, action=a.action, result="failure").inc()

    def _reconcile(self, a: Act) -> None:
        """Read the cluster's status after an unknown outcome, to say what most likely happened."""
        extra = {"event": "reconcile", "rule": a.rule, "target": a.target, "action": a.action}
        try:
            status = self.client.get_cluster_status(a.cluster_no, region=self.regions.get(a.target))
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
