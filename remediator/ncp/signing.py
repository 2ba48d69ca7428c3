"""NCP API Gateway signature v2, as a pure function of what is sent on the wire."""

from __future__ import annotations

import base64
import hashlib
import hmac

TIMESTAMP_HEADER = "x-ncp-apigw-timestamp"
ACCESS_KEY_HEADER = "x-ncp-iam-access-key"
SIGNATURE_HEADER = "x-ncp-apigw-signature-v2"


def string_to_sign(method: str, request_target: str, timestamp_ms: str, access_key: str) -> str:
    """`METHOD + " " + request_target + "\\n" + timestamp + "\\n" + access_key`."""
    return f"{method.upper()} {request_target}\n{timestamp_ms}\n{access_key}"


def sign(
    method: str, request_target: str, timestamp_ms: str, access_key: str, secret_key: str
) -> str:
    """base64(HMAC-SHA256(secret_key, string_to_sign)); the host and the body are not signed."""
    message = string_to_sign(method, request_target, timestamp_ms, access_key).encode("utf-8")
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(
    method: str, request_target: str, now_epoch_s: float, access_key: str, secret_key: str
) -> dict[str, str]:
    """The four headers of a signed request, with a timestamp taken from `now_epoch_s`."""
    timestamp = str(int(now_epoch_s * 1000))
    return {
        TIMESTAMP_HEADER: timestamp,
        ACCESS_KEY_HEADER: access_key,
        SIGNATURE_HEADER: sign(method, request_target, timestamp, access_key, secret_key),
        "Content-Type": "application/json",
    }
