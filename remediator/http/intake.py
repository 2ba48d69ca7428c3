"""The Alertmanager webhook endpoint: authenticate, bound, validate, record durably, then answer.

The reply never waits on the cloud: alerts are written to the ledger (so a crash after the 200
loses nothing) and handed to the engine on another thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from remediator.clock import Clock, as_steady
from remediator.core.events import AlertEvent
from remediator.core.rules import TargetRef
from remediator.errors import LedgerError
from remediator.http import auth
from remediator.http.alertmanager import (
    InvalidPayload,
    Received,
    index_targets,
    parse,
    to_events,
)
from remediator.http.guard import Refusal
from remediator.http.server import Environ, StartResponse, json_response
from remediator.metrics import Metrics
from remediator.secrets import Secret

log = logging.getLogger("remediator.http.alertmanager")

PATH = "/api/v1/alerts/alertmanager"
MAX_BODY = 1024 * 1024
# While the ledger cannot record alerts, Alertmanager is asked to send them again this late
# (it retries a 5xx with backoff; Retry-After is a hint to it and to proxies).
RETRY_AFTER = "10"


class AlertRecorder(Protocol):
    """Where the intake records alerts durably before it answers (the ledger)."""

    def record_alerts(self, alerts: list[AlertEvent], at: float) -> list[bool]:
        """Durably record webhook alerts; per alert, whether it is news (not a re-send)."""
        ...


class LedgerHealth(Protocol):
    """Whether the ledger takes writes (see `runtime.ledgerwatch.LedgerWatch`)."""

    @property
    def writable(self) -> bool: ...

    def failed(self, record: str, exc: LedgerError) -> None:
        """A write made here failed."""
        ...


class AlertIntake:
    """The WSGI handler of `POST /api/v1/alerts/alertmanager`."""

    def __init__(  # noqa: PLR0913 - injected collaborators, by keyword
        self,
        *,
        token: Secret | None,
        targets: Sequence[TargetRef],
        ledger: AlertRecorder,
        metrics: Metrics,
        clock: Clock,
        submit: Callable[[list[AlertEvent]], None],
        health: LedgerHealth | None = None,
    ) -> None:
        self._token = auth.expected(token)
        self.targets = tuple(targets)
        self.index = index_targets(self.targets)
        self.ledger = ledger
        self.metrics = metrics
        self.clock = clock
        self.submit = submit
        self.health = health

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            code, body, headers = self._handle(environ)
        except Exception:  # a bug: counted and said like any answer, not a bare traceback
            log.exception("internal error while taking a webhook", extra={"event": "webhook"})
            code, body, headers = 500, {"error": "internal error"}, []
        self._said(code, body, environ.get("REMOTE_ADDR"))
        return json_response(start_response, code, body, headers)

    def gate(self, headers: Mapping[str, str]) -> Refusal | None:
        """Before the body is read (see `guard`): refuse a wrong token or an oversized body."""
        refusal = self._refusal(headers.get("AUTHORIZATION", ""), headers.get("CONTENT_LENGTH"))
        if refusal is not None:
            self._said(refusal[0], refusal[1], None)
        return refusal

    def _said(self, code: int, body: Mapping[str, object], remote: object) -> None:
        self.metrics.webhook_requests.labels(code=str(code)).inc()
        if code != 200:
            log.warning(
                f"webhook rejected with {code}: {body.get('error', '')}",
                extra={"event": "webhook", "code": code, "remote": remote},
            )

    def _steady(self, r: Received) -> Received:
        """startsAt is the wall time Alertmanager saw; the engine compares it with its own."""
        if r.event is None or r.event.starts_at_ts is None:
            return r
        at = as_steady(self.clock, r.event.starts_at_ts)
        return replace(r, event=replace(r.event, starts_at_ts=at))

    @staticmethod
    def _say_unmatched(unmatched: dict[str, int]) -> None:
        """One line per request however many alerts it carries (journald drops bursts)."""
        total = sum(unmatched.values())
        names = sorted(unmatched, key=lambda n: -unmatched[n])
        shown = ", ".join(f"{n} x{unmatched[n]}" for n in names[:5])
        more = f" and {len(names) - 5} other alertname(s)" if len(names) > 5 else ""
        log.info(
            f"{total} alert(s) name no configured target, ignored: {shown}{more}",
            extra={"event": "alert", "outcome": "unmatched", "alerts": total},
        )

    def _refusal(self, authorization: str, length_text: str | None) -> Refusal | None:
        if not auth.authorized(authorization, self._token):
            return 401, {"error": "missing or wrong bearer token"}, [("WWW-Authenticate", "Bearer")]
        length_text = (length_text or "").strip()
        if length_text.isdigit() and int(length_text) > MAX_BODY:
            return 413, {"error": f"body over {MAX_BODY} bytes"}, []
        return None

    def _handle(self, environ: Environ) -> tuple[int, dict[str, object], list[tuple[str, str]]]:
        refusal = self._refusal(
            environ.get("HTTP_AUTHORIZATION", ""), environ.get("CONTENT_LENGTH")
        )
        if refusal is not None:
            return refusal
        length_text = environ.get("CONTENT_LENGTH") or ""
        length = int(length_text) if length_text.isdigit() else None
        ctype = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return 415, {"error": "Content-Type must be application/json"}, []
        body = environ["wsgi.input"].read(MAX_BODY + 1 if length is None else length)
        if len(body) > MAX_BODY:
            return 413, {"error": f"body over {MAX_BODY} bytes"}, []
        try:
            payload = parse(body)
        except InvalidPayload as exc:
            return 400, {"error": f"invalid Alertmanager payload: {exc}"[:300]}, []
        now = self.clock.now()
        received = [
            # startsAt is the wall time Alertmanager saw; the engine compares it with its own.
            replace(
                r, event=replace(r.event, starts_at_ts=as_steady(self.clock, r.event.starts_at_ts))
            )
            if r.event is not None and r.event.starts_at_ts is not None
            else r
            for r in to_events(payload, self.index, now)
        ]
        mapped = [r.event for r in received if r.event is not None]
        unwritable: tuple[int, dict[str, object], list[tuple[str, str]]] = (
            503,
            {"error": "the ledger cannot record alerts now"},
            [("Retry-After", RETRY_AFTER)],
        )
        if mapped and self.health is not None and not self.health.writable:
            return unwritable
        try:
            news = self.ledger.record_alerts(mapped, now)
        except LedgerError as exc:
            if self.health is not None:
                self.health.failed("alerts", exc)
            return unwritable
        fresh = iter(news)
        unmatched: dict[str, int] = {}
        for r in received:
            outcome = "unmatched" if r.event is None else "matched" if next(fresh) else "duplicate"
            self.metrics.alerts_received.labels(status=r.status, outcome=outcome).inc()
            if r.event is None:
                name = r.alertname[:80] or "(no alertname)"
                unmatched[name] = unmatched.get(name, 0) + 1
        if unmatched:
            self._say_unmatched(unmatched)
        if payload.truncatedAlerts:
            self.metrics.alerts_truncated.inc(payload.truncatedAlerts)
            log.warning(
                f"Alertmanager truncated {payload.truncatedAlerts} alerts from this notification "
                "(max_alerts on the receiver); they were not seen",
                extra={"event": "webhook", "truncated": payload.truncatedAlerts},
            )
        if mapped:
            self.submit(mapped)
        return 200, {"status": "recorded", "alerts": len(received), "mapped": len(mapped)}, []
