"""The CDSS API client: signed calls (signature v2 over the exact bytes sent), retries, errors.

Each attempt prepares the request, signs its `path_url` with a fresh timestamp, and sends that
same prepared request, so what is signed is what goes on the wire. Failures become the typed
`NcpError`s of `remediator.errors`; `ncp.retry` decides what is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import requests
from tenacity import RetryCallState

from remediator.clock import Clock
from remediator.errors import NcpError
from remediator.metrics import Metrics
from remediator.ncp import envelope as env
from remediator.ncp import results, signing, sites
from remediator.ncp.results import ActionResult, ClusterInfo, ClusterStatus
from remediator.ncp.retry import RetryPolicy, retry_reason, retrying
from remediator.ncp.transport import USER_AGENT, make_session, transport_error
from remediator.secrets import Secret

log = logging.getLogger("remediator.ncp")

ACTIONS: dict[str, str] = {
    "restart_cmak": "restartCMAKService",
    "restart_all_services": "restartAllServices",
    "restart_kafka": "restartKafkaService",
}
"""Action names used in rules -> CDSS operations (all `GET /cluster/{operation}/{no}`)."""

GET_CLUSTER_STATUS = "getClusterStatus"
GET_CLUSTER_INFO = "getClusterInfoList"
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


class CdssClient:
    """Signed calls to the CDSS API of one site; the region may be overridden per call."""

    def __init__(
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

    # -- operations --------------------------------------------------------------------------

    def action(self, name: str, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """Run the action `name` (`restart_cmak`, `restart_all_services`, `restart_kafka`)."""
        try:
            operation = ACTIONS[name]
        except KeyError:
            raise ValueError(f"unknown action {name!r} (one of {', '.join(ACTIONS)})") from None
        no = _cluster_no(cluster_no)
        start = self._clock.monotonic()
        envelope = self.call(
            "GET",
            f"/cluster/{operation}/{no}",
            operation=operation,
            action=True,
            region=region,
            cluster_no=no,
        )
        duration = self._clock.monotonic() - start
        return ActionResult(operation, no, envelope.request_id, envelope.http_status, duration)

    def restart_cmak(self, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """restartCMAKService (withdrawn by NCP on 2026-09-17: expect NcpNotFound)."""
        return self.action("restart_cmak", cluster_no, region)

    def restart_all_services(
        self, cluster_no: str | int, region: str | None = None
    ) -> ActionResult:
        """restartAllServices: Kafka, ZooKeeper and the manager tool."""
        return self.action("restart_all_services", cluster_no, region)

    def restart_kafka(self, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """restartKafkaService."""
        return self.action("restart_kafka", cluster_no, region)

    def get_cluster_status(self, cluster_no: str | int, region: str | None = None) -> ClusterStatus:
        """getClusterStatus: broker, ZooKeeper and CMAK colors."""
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "GET",
            f"/cluster/{GET_CLUSTER_STATUS}/{no}",
            operation=GET_CLUSTER_STATUS,
            region=region,
            cluster_no=no,
        )
        return results.cluster_status(envelope, no, GET_CLUSTER_STATUS)

    def get_cluster_info(self, cluster_no: str | int, region: str | None = None) -> ClusterInfo:
        """getClusterInfoList for one cluster: its lifecycle status."""
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "POST",
            f"/cluster/{GET_CLUSTER_INFO}/{no}",
            operation=GET_CLUSTER_INFO,
            region=region,
            cluster_no=no,
        )
        return results.cluster_info(envelope, no, GET_CLUSTER_INFO)

    # -- the generic signed call -------------------------------------------------------------

    def call(
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
    ) -> env.Envelope:
        """Send a signed request to `path` (after the region prefix) with retries.

        An `action` is never resent once it may have reached the backend; anything else is
        a read, retried on 5xx answers and broken exchanges too.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        url = self.base_url(region) + path
        attempts = 0

        def attempt() -> env.Envelope:
            nonlocal attempts
            attempts += 1
            return self._attempt(method, url, operation, action, params, body)

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
            log.warning(
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

    def _attempt(
        self,
        method: Method,
        url: str,
        operation: str,
        action: bool,
        params: Mapping[str, str | int] | None,
        body: object,
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
                status, response.content, operation=operation, action=action, idempotent=idempotent
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

    def __enter__(self) -> CdssClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CdssClient(site={self.site!r}, region={self.region!r}, host={self._host!r})"


def _cluster_no(value: str | int) -> str:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"a cluster number (serviceGroupInstanceNo) is digits, not {value!r}")
    return text


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
