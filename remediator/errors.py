"""The exception tree. Expected failures (a down probe, a refused call) are values elsewhere.

    RemediatorError
    ├── ConfigError          invalid configuration; carries every problem found
    ├── CredentialError      a secret reference cannot be resolved (never carries the secret)
    ├── LedgerError          a ledger write or read failed (disk full, locked, read-only, down)
    │   └── LedgerUnavailable    the ledger cannot be opened or reached (worth retrying)
    │       └── LedgerBusy           another remediator holds it (one daemon per ledger)
    └── NcpError             a CDSS API call failed; carries status, errorCode, and `sent`
        ├── NcpBadRequest        400/100, 413/430         not retried
        ├── NcpAuthFailed        401/200                  not retried; names the clock skew
        ├── NcpPermissionDenied  401/210                  not retried
        ├── NcpNotFound          404/300                  not retried; restartCMAKService withdrawn
        ├── NcpQuotaExceeded     429/400                  not retried
        ├── NcpThrottled         429/410, 429/420         retried with backoff
        ├── NcpServerError       503/500, 504/510, 500/900  reads retried; actions: unknown
        ├── NcpTransportError    refused, DNS, TLS, timeouts, dropped connections
        └── NcpBadResponse       2xx whose envelope is unreadable or has a null result
            └── NcpRefused           2xx with code != 0: the service said no; quotes its message

`NcpError.sent` says what an action may have done: "not_sent" (it never reached the backend,
safe to treat as not applied), "sent" (the backend answered that it did not apply it), or
"unknown" (it may have run: reconcile by reading cluster status, never resend).
`NcpError.retryable` says whether the client may send the same request again: throttling and
failures before sending always, 5xx and broken exchanges only for reads (`idempotent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack

Sent = Literal["not_sent", "sent", "unknown"]


class RemediatorError(Exception):
    """Base of every error remediator raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One configuration problem, located in a file."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class ConfigError(RemediatorError):
    """The configuration is invalid; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LedgerError(RemediatorError):
    """A ledger write or read failed: what it was to record is not recorded (yet)."""


class LedgerUnavailable(LedgerError):
    """The ledger cannot be opened or its database reached; starting again later may work."""


class LedgerBusy(LedgerUnavailable):
    """Another remediator holds the ledger: one daemon acts on a ledger at a time."""


class CredentialError(RemediatorError):
    """A secret reference could not be resolved. The message names the source, never a value."""


class NcpErrorFields(TypedDict, total=False):
    """The optional fields every NcpError carries, for passing them on as keywords."""

    status: int | None
    error_code: str | None
    sent: Sent
    request_id: str | None
    idempotent: bool
    gateway_message: str | None


class NcpError(RemediatorError):
    """A CDSS API call failed."""

    def __init__(  # noqa: PLR0913 - the error's fields, by keyword
        self,
        message: str,
        *,
        operation: str,
        status: int | None = None,
        error_code: str | None = None,
        sent: Sent = "not_sent",
        request_id: str | None = None,
        idempotent: bool = False,
        gateway_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.error_code = error_code
        self.sent: Sent = sent
        self.request_id = request_id
        self.idempotent = idempotent
        self.gateway_message = gateway_message
        self.attempts = 1

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (gave up after {self.attempts} attempts)"
        return self.message

    @property
    def retryable(self) -> bool:
        """Whether the same request may be sent again (never true for an unknown action)."""
        return False


class NcpBadRequest(NcpError):
    """400/100 or 413/430: the request itself is wrong."""


class NcpAuthFailed(NcpError):
    """401/200: bad key, bad signature, or a clock 5 minutes or more off the gateway's."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        skew: float | None = None,
        **kw: Unpack[NcpErrorFields],
    ) -> None:
        super().__init__(message, operation=operation, **kw)
        self.skew = skew


class NcpPermissionDenied(NcpError):
    """401/210: the key lacks the permission."""


class NcpNotFound(NcpError):
    """404/300: no such operation (what a withdrawn operation answers)."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        withdrawn: bool = False,
        **kw: Unpack[NcpErrorFields],
    ) -> None:
        super().__init__(message, operation=operation, **kw)
        self.withdrawn = withdrawn


class NcpQuotaExceeded(NcpError):
    """429/400: quota exceeded."""


class NcpThrottled(NcpError):
    """429/410 or 429/420: rejected before the backend ran; may be retried."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        retry_after: float | None = None,
        **kw: Unpack[NcpErrorFields],
    ) -> None:
        super().__init__(message, operation=operation, **kw)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return True


class NcpServerError(NcpError):
    """5xx from the gateway: a read may be retried; an action's outcome is unknown."""

    @property
    def retryable(self) -> bool:
        return self.idempotent or self.sent == "not_sent"


TransportKind = Literal[
    "connect_error", "connect_timeout", "read_timeout", "connection_dropped", "request_error"
]


class NcpTransportError(NcpError):
    """The exchange broke: refused, DNS, TLS, a timeout or a dropped connection.

    `kind` is `connect_error` / `connect_timeout` (before sending: retried), `read_timeout` /
    `connection_dropped` (after sending: reads retried, actions unknown), or `request_error`
    (the request could not be built: never retried).
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        kind: TransportKind,
        **kw: Unpack[NcpErrorFields],
    ) -> None:
        super().__init__(message, operation=operation, **kw)
        self.kind: TransportKind = kind

    @property
    def retryable(self) -> bool:
        if self.kind == "request_error":
            return False
        return self.sent == "not_sent" or self.idempotent


class NcpBadResponse(NcpError):
    """The gateway answered 2xx but the envelope says failure or cannot be read."""


class NcpRefused(NcpBadResponse):
    """A 2xx whose envelope has `code != 0` (its result is usually null): not applied, not retried.

    `error_code` is the envelope's code and `gateway_message` NCP's message, quoted in the text.
    """
