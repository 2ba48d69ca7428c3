"""The one signed call path to CDSS: sign the exact bytes sent, send, read, retry, count.

Each attempt prepares the request, signs its `path_url` with a fresh timestamp, and sends that
same prepared request, so what is signed is what goes on the wire. Failures become the typed
`NcpError`s of `remediator.errors`; `ncp.retry` decides what is tried again. The operations by
name live in `ncp.client`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

import requests
from tenacity import RetryCallState

from remediator.clock import Clock
from remediator.errors import NcpError, NcpNotFound
from remediator.metrics import Metrics
from remediator.ncp import envelope as env
from remediator.ncp import signing, sites
from remediator.ncp.retry import RetryPolicy, retry_reason, retrying
from remediator.ncp.transport import USER_AGENT, make_session, transport_error
from remediator.secrets import Secret

log = logging.getLogger("remediator.ncp")

Method = Literal["GET", "POST"]


@dataclass(frozen=True)
class Credentials:
    """The NCP API key pair; its repr shows only where each key came from."""

    access_key: Secret
    secret_key: Secret

    @classmethod
    def of(cls, access_key: str, secret_key: str) -> Credentials:
        """Credentials from plain strings (the sandbox's printed keys, tests)."""
        return cls(Secret(access_key), Secret(secret_key))

    def describe(self) -> str:
        """Where the keys came from, safe to log."""
        return f"access key from {self.access_key.source}, secret key from {self.secret_key.source}"


class SignedCaller:
    """Signed, retried calls to the CDSS API of one site; the region may be overridden per call."""

    def __init__(  # noqa: PLR0913 - injected collaborators and limits, by keyword
        self,
        *,
        credentials: Credentials,
        clock: Clock,
        site: str = "public",
        region: str = "KR",
        endpoint: str | None = None,
        metrics: Metrics | None = None,
        session: requests.Session | None = None,
        pool_size: int = 4,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        deadline: float = 30.0,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._host = sites.host(site, endpoint)
        sites.prefix(site, region)  # fail now on a region the site does not have
        self.site = site
        self.region = region
        self._credentials = credentials
        self._clock = clock
        self._metrics = metrics
        self._own_session = session is None
        self._session = session if session is not None else make_session(pool_size)
        self._timeout = (connect_timeout, read_timeout)
        self._policy = RetryPolicy(
            max_attempts=max_attempts,
            deadline=deadline,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        self._sleep = sleep if sleep is not None else clock.sleep
        self._last_skew: float | None = None

    @property
    def last_skew(self) -> float | None:
        """Gateway `Date` minus the local clock at the last response, in seconds (None yet)."""
        return self._last_skew

    def base_url(self, region: str | None = None) -> str:
        """The host and the region's API prefix, e.g. `https://...ntruss.com/api/sgn-v1`."""
        return self._host + sites.prefix(self.site, region or self.region)

    # -- the generic signed call -------------------------------------------------------------

    def call(  # noqa: PLR0913 - one signed call's parts; options by keyword
        self,
        method: Method,
        path: str,
        *,
        operation: str,
        action: bool = False,
        params: Mapping[str, str | int] | None = None,
        body: object = None,
        region: str | None = None,
        cluster_no: str | None = None,
        check: bool = True,
    ) -> env.Envelope:
        """Send a signed request to `path` (after the region prefix) with retries.

        An `action` is never resent once it may have reached the backend; anything else is
        a read, retried on 5xx answers and broken exchanges too. A 2xx envelope must say
        success (code 0, a result) unless `check` is false: then any readable one is returned.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        url = self.base_url(region) + path
        attempts = 0

        def attempt() -> env.Envelope:
            nonlocal attempts
            attempts += 1
            return self._attempt(
                method, url, operation, action=action, params=params, body=body, check=check
            )

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            reason = retry_reason(exc) if exc is not None else "other"
            if self._metrics is not None:
                self._metrics.ncp_retries.labels(operation=operation, reason=reason).inc()
            log.warning(
                "CDSS %s attempt %d failed (%s): %s; retrying in %.2f s",
                operation,
                state.attempt_number,
                reason,
                exc,
                state.upcoming_sleep,
                extra=_fields(operation, cluster_no, exc, state.attempt_number),
            )

        controller = retrying(
            self._policy, clock=self._clock, sleep=self._sleep, before_sleep=before_sleep
        )
        try:
            envelope: env.Envelope = controller(attempt)
        except NcpError as exc:
            exc.attempts = attempts
            self._path_up(action, up=False)
            # restartCMAKService's 404 is expected since its withdrawal, and its long note is
            # said once, by whoever acts on it (the driver's outcome line).
            withdrawn = isinstance(exc, NcpNotFound) and exc.withdrawn
            log.log(
                logging.DEBUG if withdrawn else logging.WARNING,
                "CDSS %s failed (sent=%s): %s",
                operation,
                exc.sent,
                exc,
                extra=_fields(operation, cluster_no, exc, attempts),
            )
            raise
        self._path_up(action, up=True)
        log.debug(
            "CDSS %s succeeded",
            operation,
            extra={
                **_fields(operation, cluster_no, None, attempts),
                "status": envelope.http_status,
                "request_id": envelope.request_id,
            },
        )
        return envelope

    def _attempt(  # noqa: PLR0913 - one attempt's parts; options by keyword
        self,
        method: Method,
        url: str,
        operation: str,
        *,
        action: bool,
        params: Mapping[str, str | int] | None,
        body: object,
        check: bool,
    ) -> env.Envelope:
        """One signed exchange: prepare, sign the exact target, send, read."""
        request = requests.Request(
            method,
            url,
            params=dict(params) if params else None,
            json=body,
            headers={"User-Agent": USER_AGENT},
        )
        prepared = self._session.prepare_request(request)
        target = prepared.path_url
        creds = self._credentials
        prepared.headers.update(
            signing.signed_headers(
                method,
                target,
                self._clock.now(),
                creds.access_key.reveal(),
                creds.secret_key.reveal(),
            )
        )
        # proxies and CA bundle from the environment, as Session.request would apply them
        settings = self._session.merge_environment_settings(prepared.url, {}, None, None, None)
        idempotent = not action
        try:
            response = self._session.send(
                prepared, timeout=self._timeout, allow_redirects=False, **settings
            )
        except requests.RequestException as exc:
            self._count(operation, "error")
            raise transport_error(
                exc,
                operation=operation,
                where=self._host,
                action=action,
                idempotent=idempotent,
                read_timeout=self._timeout[1],
            ) from exc
        self._count(operation, str(response.status_code))
        skew = self._observe_date(response.headers.get("Date"))
        status = response.status_code
        if 200 <= status < 300:
            return env.parse_envelope(
                status,
                response.content,
                operation=operation,
                action=action,
                idempotent=idempotent,
                check=check,
            )
        raise env.gateway_error(
            status,
            response.content,
            response.headers,
            operation=operation,
            action=action,
            idempotent=idempotent,
            skew=skew,
            now=self._clock.now(),
            auth_hint=creds.describe(),
        )

    # -- bookkeeping ---------------------------------------------------------------------------

    def _observe_date(self, date: str | None) -> float | None:
        """Measure the clock skew from a response's `Date` (1-second resolution)."""
        gateway_now = env.parse_http_date(date)
        if gateway_now is None:
            return None
        skew = gateway_now - self._clock.now()
        self._last_skew = skew
        if self._metrics is not None:
            self._metrics.ncp_clock_skew.set(skew)
        return skew

    def _count(self, operation: str, code: str) -> None:
        if self._metrics is not None:
            self._metrics.ncp_requests.labels(operation=operation, code=code).inc()

    def _path_up(self, action: bool, *, up: bool) -> None:
        if self._metrics is not None and not action:
            self._metrics.action_path_up.set(1 if up else 0)

    def close(self) -> None:
        """Close the session if this client made it."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _fields(
    operation: str, cluster_no: str | None, exc: BaseException | None, attempt: int
) -> dict[str, object]:
    """The structured `extra` of a log line (never a key or a signature)."""
    fields: dict[str, object] = {
        "operation": operation,
        "cluster_no": cluster_no,
        "attempt": attempt,
    }
    if isinstance(exc, NcpError):
        fields |= {
            "status": exc.status,
            "error_code": exc.error_code,
            "request_id": exc.request_id,
            "sent": exc.sent,
        }
    return fields
