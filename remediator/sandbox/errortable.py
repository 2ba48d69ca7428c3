"""The NCP API Gateway's error responses, read from the table shipped as package data.

`gateway_errors.json` is a verbatim copy of `shared/fixtures/ncp/gateway-errors.json`; the
sandbox answers with exactly those bodies so that a client is tested against the real shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

BAD_REQUEST = (400, "100")
AUTH_FAILED = (401, "200")
NOT_FOUND = (404, "300")


@dataclass(frozen=True)
class GatewayError:
    """One row of the table: HTTP status, `errorCode` and message."""

    http: int
    error_code: str
    message: str

    def body(self) -> bytes:
        """`{"error": {"errorCode": CODE, "message": MESSAGE}}` as the gateway sends it."""
        error = {"errorCode": self.error_code, "message": self.message}
        return json.dumps({"error": error}).encode("utf-8")


@cache
def table() -> dict[tuple[int, str], GatewayError]:
    """Every gateway error, keyed by (HTTP status, errorCode)."""
    text = resources.files(__package__).joinpath("gateway_errors.json").read_text("utf-8")
    rows = json.loads(text)["errors"]
    errors = (GatewayError(int(r["http"]), str(r["errorCode"]), str(r["message"])) for r in rows)
    return {(e.http, e.error_code): e for e in errors}


def lookup(http: int, error_code: str) -> GatewayError:
    """The row for (`http`, `error_code`); ValueError when the gateway never answers that pair."""
    try:
        return table()[(http, str(error_code))]
    except KeyError:
        known = ", ".join(f"{h}/{c}" for h, c in table())
        raise ValueError(f"the gateway has no error {http}/{error_code} (known: {known})") from None
