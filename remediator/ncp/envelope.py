"""Reading CDSS responses: the success envelope, gateway errors mapped to `NcpError`s, headers.

Pure functions of a status, headers and body bytes, so they are tested without a network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from remediator.errors import (
    NcpAuthFailed,
    NcpBadRequest,
    NcpBadResponse,
    NcpError,
    NcpErrorFields,
    NcpNotFound,
    NcpPermissionDenied,
    NcpQuotaExceeded,
    NcpRefused,
    NcpServerError,
    NcpThrottled,
    Sent,
)

WITHDRAWN_OPERATION = "restartCMAKService"
WITHDRAWAL_NOTE = (
    "NCP withdrew restartCMAKService on 2026-09-17 (CDSS release note); no operation restarts "
    "the manager tool alone now: restart_all_services does it by restarting every broker and "
    "ZooKeeper too (blast radius cluster), which a rule allows only with fallback_action and "
    "max_blast_radius: cluster"
)
SKEW_WARNING_S = 60.0
_GATEWAY_WINDOW_S = 300

# errorCode -> (error class, what it means); the gateway codes are unique across statuses.
_GATEWAY_CODES: dict[str, tuple[type[NcpError], str]] = {
    "100": (NcpBadRequest, "bad request"),
    "200": (NcpAuthFailed, "authentication failed"),
    "210": (NcpPermissionDenied, "permission denied: the key lacks the permission"),
    "300": (NcpNotFound, "no such operation"),
    "400": (NcpQuotaExceeded, "quota exceeded"),
    "410": (NcpThrottled, "throttled"),
    "420": (NcpThrottled, "rate limited"),
    "430": (NcpBadRequest, "request body too large"),
    "500": (NcpServerError, "endpoint error"),
    "510": (NcpServerError, "endpoint timeout"),
    "900": (NcpServerError, "unexpected gateway error"),
}
# Statuses the gateway answers before the backend runs.
_REJECTED_BEFORE_BACKEND = {400: NcpBadRequest, 401: NcpAuthFailed, 403: NcpPermissionDenied}
_REJECTED_BEFORE_BACKEND |= {404: NcpNotFound, 413: NcpBadRequest, 429: NcpThrottled}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Envelope:
    """A successful CDSS answer: `{"code": 0, "message": ..., "result": ..., "requestId": ...}`."""

    http_status: int
    code: str
    message: str
    result: object
    request_id: str | None


def normalize_code(code: object) -> str | None:
    """An errorCode or envelope code as a string, whether it came as a number or a string."""
    if code is None or isinstance(code, bool):
        return None
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code).strip() or None


def parse_envelope(  # noqa: PLR0913 - what one answer carries, by keyword
    status: int,
    body: bytes,
    *,
    operation: str,
    action: bool,
    idempotent: bool,
    check: bool = True,
) -> Envelope:
    """The envelope of a 2xx answer: NcpRefused when its code says no, NcpBadResponse when it
    cannot be read or holds no result. `check=False` returns any readable envelope unjudged."""
    # An action answered 2xx that we cannot read may have run; one whose envelope reads
    # "failed" was refused by the backend.
    unreadable: Sent = "unknown" if action else "sent"
    data = _json_object(body)
    if data is None:
        raise NcpBadResponse(
            f"CDSS {operation}: HTTP {status} with a body that is not a JSON object "
            f"({_snippet(body)})",
            operation=operation,
            status=status,
            sent=unreadable,
            idempotent=idempotent,
        )
    request_id = _str_or_none(data.get("requestId"))
    code = normalize_code(data.get("code"))
    message = _str_or_none(data.get("message")) or ""
    error = data.get("error")
    if isinstance(error, Mapping):
        code = normalize_code(error.get("errorCode")) or code or "?"
        message = _str_or_none(error.get("message")) or message
    envelope = Envelope(status, code or "0", message, data.get("result"), request_id)
    if check:
        _check(envelope, operation=operation, action=action, idempotent=idempotent)
    return envelope


def _check(envelope: Envelope, *, operation: str, action: bool, idempotent: bool) -> None:
    """Raise unless the envelope says success: code 0 and a result (an action's: not false)."""
    status, code, result = envelope.http_status, envelope.code, envelope.result
    fields: NcpErrorFields = {
        "status": status,
        "error_code": code,
        "sent": "sent",
        "request_id": envelope.request_id,
        "idempotent": idempotent,
        "gateway_message": envelope.message or None,
    }
    if code != "0":
        # Some refusals (e.g. a mutation while the cluster is changing) come as HTTP 200.
        quoted = (
            json.dumps(envelope.message, ensure_ascii=False) if envelope.message else "no message"
        )
        raise NcpRefused(
            f"CDSS {operation}: refused by the service (HTTP {status}, code {code}: {quoted}); "
            "nothing was applied",
            operation=operation,
            **fields,
        )
    if result is None or (action and result is False):
        raise NcpBadResponse(
            f"CDSS {operation}: the envelope has code 0 but a {json.dumps(result)} result, "
            "so the action was not accepted"
            if action
            else f"CDSS {operation}: the envelope has code 0 but a null result",
            operation=operation,
            **fields,
        )


def gateway_error(  # noqa: PLR0913 - what one gateway error carries, by keyword
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    operation: str,
    action: bool,
    idempotent: bool,
    skew: float | None = None,
    now: float | None = None,
    auth_hint: str = "",
) -> NcpError:
    """The typed error for a non-2xx answer (SPEC section 2's gateway table)."""
    data = _json_object(body)
    code: str | None = None
    gateway_message: str | None = None
    request_id: str | None = None
    if data is not None:
        request_id = _str_or_none(data.get("requestId"))
        error = data.get("error")
        source: Mapping[str, object] = error if isinstance(error, Mapping) else data
        code = normalize_code(source.get("errorCode", source.get("code")))
        gateway_message = _str_or_none(source.get("message"))
    shown = gateway_message if data is not None else f"non-JSON body: {_snippet(body)}"

    known = _GATEWAY_CODES.get(code) if code is not None else None
    cls: type[NcpError]
    sent: Sent
    if known is not None and (status >= 500) == issubclass(known[0], NcpServerError):
        cls, meaning = known
        sent = "unknown" if cls is NcpServerError else "not_sent"
    elif status >= 500:
        cls, meaning, sent = NcpServerError, "server error", "unknown"
    elif status in _REJECTED_BEFORE_BACKEND:
        cls, meaning, sent = _REJECTED_BEFORE_BACKEND[status], "rejected", "not_sent"
        if status == 401 and code == "210":
            cls = NcpPermissionDenied
    elif 400 <= status < 500:
        cls, meaning, sent = NcpBadRequest, "refused by the backend", "sent"
    else:
        cls, meaning = NcpBadResponse, "unexpected status"
        sent = "unknown" if action else "sent"

    head = f"CDSS {operation}: {meaning} (HTTP {status}"
    head += f", errorCode {code}" if code else ""
    head += f": {shown})" if shown else ")"
    common: NcpErrorFields = {
        "status": status,
        "error_code": code,
        "sent": sent,
        "request_id": request_id,
        "idempotent": idempotent,
        "gateway_message": gateway_message,
    }
    if cls is NcpAuthFailed:
        return NcpAuthFailed(
            head + ". " + _auth_advice(skew, auth_hint),
            operation=operation,
            skew=skew,
            **common,
        )
    if cls is NcpNotFound:
        withdrawn = operation == WITHDRAWN_OPERATION
        text = f"{head}. {WITHDRAWAL_NOTE}" if withdrawn else head
        return NcpNotFound(text, operation=operation, withdrawn=withdrawn, **common)
    if cls is NcpThrottled:
        date = _header(headers, "Date")
        retry_after = parse_retry_after(_header(headers, "Retry-After"), date=date, now=now)
        return NcpThrottled(head, operation=operation, retry_after=retry_after, **common)
    if cls is NcpServerError and action:
        head += ". The action may have run: reconcile by reading the cluster status; do not resend"
    return cls(head, operation=operation, **common)


def _auth_advice(skew: float | None, auth_hint: str) -> str:
    keys = "a wrong access key or secret key" + (f" ({auth_hint})" if auth_hint else "")
    causes = f"{keys}, a signature over other bytes than were sent, or the host clock"
    if skew is None:
        return f"Likely causes: {causes}; no gateway Date header, so the clock skew is unknown"
    measured = f"measured clock skew {skew:+.0f} s (gateway Date minus local clock)"
    if abs(skew) >= SKEW_WARNING_S:
        side = "ahead of" if skew < 0 else "behind"
        severity = "the gateway rejects" if abs(skew) >= _GATEWAY_WINDOW_S else "it nears"
        return (
            f"Likely cause: the host clock, {measured}: the local clock is {abs(skew):.0f} s "
            f"{side} the gateway's and {severity} timestamps 5 minutes or more off - fix time "
            f"sync (NTP). Otherwise: {keys}"
        )
    return f"Likely causes: {causes} ({measured}, so the clock looks fine: check the keys)"


def parse_retry_after(
    value: str | None, *, date: str | None = None, now: float | None = None
) -> float | None:
    """`Retry-After` in seconds: delta-seconds, or an HTTP-date relative to `Date` (or `now`)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    until = parse_http_date(value)
    if until is None:
        return None
    reference = parse_http_date(date) if date else None
    if reference is None:
        reference = now
    if reference is None:
        return None
    return max(0.0, until - reference)


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date header (e.g. `Date`) as seconds since the epoch, or None if unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def _json_object(body: bytes) -> Mapping[str, object] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    return str(value)


def _snippet(body: bytes, limit: int = 120) -> str:
    """A short, printable description of a body that is not the JSON we expected."""
    if not body.strip():
        return "empty"
    title = _TITLE.search(body)
    raw = title.group(1) if title else body
    text = " ".join(raw.decode("utf-8", "replace").split())
    if not title:
        text = re.sub(r"<[^>]+>", " ", text)
        text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))
