"""Health probes: one HTTP GET of a manager tool → a `ProbeResult` (expected failures are values).

A probe follows no redirect (a 3xx is a failure), retries nothing (the rules count failures),
and reads at most `MAX_BODY` bytes of the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from remediator import __version__
from remediator.clock import Clock
from remediator.config.health import HealthCheck
from remediator.core.events import ProbeResult
from remediator.secrets import Secret, SecretRef, resolve

MAX_BODY = 64 * 1024
_CHUNK = 8 * 1024


def make_probe_session(pool_size: int = 10) -> requests.Session:
    """A session for probes: `pool_size` connections per host, no retries, no proxies from env."""
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_connections=pool_size,
        pool_maxsize=pool_size,
        max_retries=Retry(
            total=0, connect=0, read=0, redirect=0, status=0, raise_on_redirect=False
        ),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Probes go to private addresses; HTTP(S)_PROXY and ~/.netrc meant for other tools must not
    # reroute them or add credentials.
    session.trust_env = False
    session.headers["User-Agent"] = f"remediator/{__version__}"
    return session


class Prober:
    """Runs health checks over one shared session; `probe` never raises for a sick target."""

    def __init__(
        self,
        session: requests.Session,
        clock: Clock,
        secrets: Mapping[SecretRef, Secret] | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._secrets = dict(secrets or {})

    def probe(self, check: HealthCheck) -> ProbeResult:
        """GET `check.url` and judge the answer; `reason` is "ok" or why the target is unhealthy."""
        start = self._clock.monotonic()
        reason = self._reason(check)
        return ProbeResult(
            target=check.target,
            ok=reason == "ok",
            reason=reason,
            at=self._clock.now(),
            duration=max(0.0, self._clock.monotonic() - start),
        )

    def _auth(self, check: HealthCheck) -> tuple[str, str] | None:
        if check.basic_auth is None:
            return None
        ref = check.basic_auth.password
        if ref not in self._secrets:
            # Normally resolved at start-up (config.resolve_secrets); a CredentialError here is
            # our misconfiguration, not the target's ill health, so it is not turned into a value.
            self._secrets[ref] = resolve(ref)
        return (check.basic_auth.username, self._secrets[ref].reveal())

    def _reason(self, check: HealthCheck) -> str:
        try:
            with self._session.get(
                check.url,
                auth=self._auth(check),
                timeout=(check.timeout, check.timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                body = _read_bounded(response)
                return _judge(check, response.status_code, body)
        except requests.ConnectTimeout:
            return "connect timeout"
        except requests.ReadTimeout:
            return "read timeout"
        except requests.exceptions.SSLError:
            return "tls error"
        except requests.ConnectionError as exc:
            return _connection_reason(exc)
        except requests.RequestException:
            return "connection error"


def _read_bounded(response: requests.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(chunk_size=_CHUNK):
        body += chunk
        if len(body) >= MAX_BODY:
            break
    return bytes(body[:MAX_BODY])


def _judge(check: HealthCheck, status: int, raw: bytes) -> str:
    if status == 401 and check.expect_status != 401:
        return "auth required (401)"
    text = raw.decode("utf-8", errors="replace")
    if check.expect_json_status is not None:
        json_status = _json_status(text)
        # Spring's actuator answers 503 {"status": "DOWN"}: the JSON says more than the code.
        if isinstance(json_status, str) and json_status != check.expect_json_status:
            return f"json status {_printable(json_status)}"
        if status != check.expect_status:
            return f"status {status}"
        if json_status is _INVALID:
            return "invalid json"
        if not isinstance(json_status, str):
            return "json status missing"
    elif status != check.expect_status:
        return f"status {status}"
    if check.expect_body is not None and check.expect_body.search(text) is None:
        return "body mismatch"
    return "ok"


_INVALID = object()


def _json_status(text: str) -> object:
    """The `status` of a JSON object body (None if it has none), or `_INVALID` if not JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return _INVALID
    return document.get("status") if isinstance(document, dict) else None


def _printable(value: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in value[:32])


def _connection_reason(exc: requests.ConnectionError) -> str:
    # requests wraps urllib3's errors; a read timeout while streaming the body arrives here too.
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    if isinstance(reason, ReadTimeoutError):
        return "read timeout"
    if isinstance(reason, NameResolutionError):
        return "dns error"
    if isinstance(reason, NewConnectionError) and isinstance(
        reason.__cause__, ConnectionRefusedError
    ):
        return "connection refused"
    text = str(exc)
    if "ConnectionResetError" in text or "Connection reset" in text:
        return "connection reset"
    if "RemoteDisconnected" in text:
        return "connection closed without a response"
    return "connection error"
