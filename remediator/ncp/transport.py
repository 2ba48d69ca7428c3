"""The HTTP layer under the CDSS client: the tuned session, and what a broken exchange means.

A broken exchange is either "before sending" (refused, DNS, TLS handshake, connect timeout:
the gateway never saw the request, so it may be sent again) or "after sending" (read timeout,
connection dropped, truncated body: an action may have run, so its outcome is unknown).
"""

from __future__ import annotations

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

from remediator import __version__
from remediator.errors import NcpTransportError, Sent, TransportKind

USER_AGENT = f"remediator/{__version__}"
_PRE_SEND_CAUSES = (NewConnectionError, ConnectTimeoutError, Urllib3SSLError)


def make_session(pool_size: int = 4) -> requests.Session:
    """A session with a connection pool of `pool_size` per host and urllib3's retries off.

    Retrying belongs to the client's tenacity policy, which knows whether a request was an
    action; urllib3 would resend blindly.
    """
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    no_retries = urllib3.Retry(
        total=0, connect=0, read=False, redirect=False, status=0, raise_on_status=False
    )
    adapter = HTTPAdapter(
        pool_connections=pool_size, pool_maxsize=pool_size, max_retries=no_retries
    )
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def classify(exc: requests.RequestException) -> tuple[TransportKind, Sent]:
    """Whether a requests failure happened before the request was sent, or after."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connect_timeout", "not_sent"
    if isinstance(exc, requests.ReadTimeout | requests.Timeout):
        return "read_timeout", "unknown"
    if isinstance(exc, requests.exceptions.SSLError):
        return "connect_error", "not_sent"
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return "connection_dropped", "unknown"
    if isinstance(exc, requests.ConnectionError):
        cause = root_cause(exc)
        if isinstance(cause, _PRE_SEND_CAUSES):
            return "connect_error", "not_sent"
        if isinstance(cause, ReadTimeoutError):
            return "read_timeout", "unknown"
        # "Connection aborted": the request was written and the connection then closed.
        return "connection_dropped", "unknown"
    return "request_error", "not_sent"


def root_cause(exc: requests.RequestException) -> BaseException | None:
    """The urllib3 error inside a requests error (unwrapping MaxRetryError)."""
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    if isinstance(cause, MaxRetryError):
        return cause.reason
    return cause


def transport_error(  # noqa: PLR0913 - what one transport failure carries, by keyword
    exc: requests.RequestException,
    *,
    operation: str,
    where: str,
    action: bool,
    idempotent: bool,
    read_timeout: float,
) -> NcpTransportError:
    """The NcpTransportError for a failed exchange with `where` (the gateway's host)."""
    kind, sent = classify(exc)
    cause = root_cause(exc) or exc
    detail = " ".join(str(cause).split())[:200] or type(cause).__name__
    what = {
        "connect_error": "could not connect (before sending)",
        "connect_timeout": "connect timed out (before sending)",
        "read_timeout": f"no answer within the read timeout of {read_timeout:g} s",
        "connection_dropped": "the connection dropped after the request was sent",
        "request_error": "the request could not be sent",
    }[kind]
    message = f"CDSS {operation}: {what} ({where}): {detail}"
    if action and sent == "unknown":
        message += (
            ". The action may have run: reconcile by reading the cluster status; do not resend"
        )
    return NcpTransportError(
        message, operation=operation, kind=kind, sent=sent, idempotent=idempotent
    )
