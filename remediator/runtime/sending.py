"""Carries out the engine's `Act`s: the intent written to the ledger first (with its `acted`
notification), then the signed call, its outcome recorded and counted, and an unknown outcome
reconciled by reading the cluster's status.

An intent that cannot be written stops its action: the call is never made, and the engine is
told `not_sent` (see `core.verification`). The driver records intents under its lock, in the
engine's order; the calls run on the actions executor, off the lock.
"""

from __future__ import annotations

import logging
import os
import signal

from remediator.clock import Clock
from remediator.core.decisions import Act, Decision, Output
from remediator.core.events import ActionOutcome, ActionResult
from remediator.core.verification import RETRY_UNSENT
from remediator.errors import LedgerError, NcpError, NcpNotFound
from remediator.metrics import Metrics
from remediator.ncp.client import CdssClient
from remediator.notify import messages
from remediator.runtime import remedies, report
from remediator.runtime.actionpath import ActionPath
from remediator.runtime.ledgerwatch import LedgerWatch
from remediator.runtime.notices import Notices
from remediator.store import Ledger

log = logging.getLogger("remediator.runtime.daemon")


class Sender:
    """Writes each action's intent, then sends it; the ledger rows in between are its own."""

    def __init__(  # noqa: PLR0913 - injected collaborators, by keyword
        self,
        *,
        ledger: Ledger,
        ledger_watch: LedgerWatch,
        notices: Notices,
        path: ActionPath,
        metrics: Metrics,
        clock: Clock,
        failpoint: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.ledger_watch = ledger_watch
        self.notices = notices
        self.path = path
        self.metrics = metrics
        self.clock = clock
        # Crash tests only: die with SIGKILL at a named point of a remediation.
        self.failpoint = failpoint
        # The ledger row of each target's remediation (a fallback is recorded on it), and of
        # each action whose intent is recorded and whose call is on its way.
        self._action_ids: dict[str, int] = {}
        self._intents: dict[Act, int] = {}
        # Actions whose intent could not be written (the ledger's error): never sent.
        self._unrecorded: dict[Act, str] = {}
        # The reason of each (rule, target)'s latest acted decision, for its `acted` notice.
        self._acted_why: dict[tuple[str, str], str] = {}

    def decided(self, d: Decision) -> None:
        """Remember why an acted decision acts: its intent's `acted` notice says it."""
        self._acted_why[(d.rule, d.target)] = d.detail

    def settled(self, target: str) -> None:
        """`target`'s remediation ended (verified or escalated): a later fallback is not its."""
        self._action_ids.pop(target, None)

    def record_intent(self, a: Act, *, dry_run: bool) -> None:
        """The intent, durably, with its `acted` notification, before the runner hands the
        call to the executor; when it cannot be written, the call is not made (`send`
        answers `not_sent`)."""
        why = self._acted_why.pop((a.rule, a.target), "") if a.fallback_of is None else ""
        notices = self.notices.route(messages.acted(a, why, dry_run=dry_run))
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

    def count_unavailable(self, outcome: ActionOutcome, outputs: list[Output]) -> None:
        """Count a `not_available` outcome as a failed action, unless the engine fell back."""
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

    def send(
        self, a: Act, *, client: CdssClient, region: str | None, dry_run: bool
    ) -> ActionOutcome | None:
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
        record = self.ledger_watch.record
        if dry_run:
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
            result = remedies.send(client, a, region)
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
            self._reconcile(a, client, region)
        return ActionOutcome(
            rule=a.rule,
            target=a.target,
            action=a.action,
            result=outcome,
            at=self.clock.now(),
            detail=detail,
        )

    def _reconcile(self, a: Act, client: CdssClient, region: str | None) -> None:
        """Read the cluster's status after an unknown outcome, to say what most likely happened."""
        extra = {"event": "reconcile", "rule": a.rule, "target": a.target, "action": a.action}
        try:
            status = self.path.read(client, a.cluster_no, region)
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
