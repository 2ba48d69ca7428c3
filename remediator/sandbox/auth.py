"""The gateway's check of NCP API Gateway signature v2 and of the timestamp window.

This is deliberately the sandbox's own code (the client's signer lives in `remediator.ncp`,
which an import-linter contract keeps out of here), so that one bug cannot hide in both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

TIMESTAMP_HEADER = "x-ncp-apigw-timestamp"
ACCESS_KEY_HEADER = "x-ncp-iam-access-key"
SIGNATURE_HEADER = "x-ncp-apigw-signature-v2"

WINDOW_MS = 5 * 60 * 1000  # rejected when 5 minutes or more off the gateway clock

MISSING_HEADER = "missing header"
UNKNOWN_ACCESS_KEY = "unknown access key"
BAD_TIMESTAMP = "bad timestamp"
BAD_SIGNATURE = "bad signature"
STALE_TIMESTAMP = "stale timestamp"


@dataclass(frozen=True)
class Verdict:
    """Whether a request is authentic; `reason` and `detail` say why not."""

    ok: bool
    reason: str | None = None
    detail: str | None = None


def expected_signature(
    method: str, request_target: bytes, timestamp: str, access_key: str, secret_key: str
) -> str:
    """base64(HMAC-SHA256(secret, METHOD SP target LF timestamp LF access_key)) over raw bytes."""
    message = b"%s %s\n%s\n%s" % (
        method.encode("ascii"),
        request_target,
        timestamp.encode("ascii"),
        access_key.encode("utf-8"),
    )
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(  # noqa: PLR0913 - the parts of one signed request
    method: str,
    request_target: bytes | str,
    headers: Mapping[str, str],
    *,
    access_key: str,
    secret_key: str,
    now: float,
) -> Verdict:
    """Check a request as the gateway does.

    `request_target` is the path and query exactly as on the wire (a `str` is taken as the
    latin-1 decoding of those bytes, which is how `http.server` hands them over); `now` is
    the gateway clock in epoch seconds.
    """
    target = request_target.encode("latin-1") if isinstance(request_target, str) else request_target
    lowered = {k.lower(): v for k, v in headers.items()}
    wanted = (TIMESTAMP_HEADER, ACCESS_KEY_HEADER, SIGNATURE_HEADER)
    missing = [name for name in wanted if not lowered.get(name)]
    if missing:
        return Verdict(False, MISSING_HEADER, f"missing {', '.join(missing)}")
    timestamp = lowered[TIMESTAMP_HEADER].strip()
    given_key = lowered[ACCESS_KEY_HEADER].strip()
    signature = lowered[SIGNATURE_HEADER].strip()
    if not hmac.compare_digest(given_key.encode("utf-8"), access_key.encode("utf-8")):
        return Verdict(False, UNKNOWN_ACCESS_KEY, "the access key is not the sandbox's")
    if not timestamp.isascii() or not timestamp.isdigit():
        return Verdict(False, BAD_TIMESTAMP, f"{TIMESTAMP_HEADER} is not epoch milliseconds")
    expected = expected_signature(method, target, timestamp, given_key, secret_key)
    if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
        return Verdict(False, BAD_SIGNATURE, "the signature does not match the request")
    off_ms = int(timestamp) - now * 1000.0
    if abs(off_ms) >= WINDOW_MS:
        return Verdict(
            False,
            STALE_TIMESTAMP,
            f"timestamp {off_ms / 1000.0:+.1f} s off the gateway clock (limit 5 min)",
        )
    return Verdict(True)
