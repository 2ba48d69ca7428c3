"""What a tool's answer means: its HTTP status and the start of its body → "ok" or why not.

Pure: the same answer always gives the same reason, whichever client fetched it.
"""

from __future__ import annotations

import json

from remediator.config.health import HealthCheck

# A probe reads at most this much of the answer.
MAX_BODY = 64 * 1024


def judge(check: HealthCheck, status: int, raw: bytes) -> str:
    """ "ok", or why the answer shows the target unhealthy (`status 503`, `body mismatch`...)."""
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
