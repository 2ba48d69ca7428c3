"""The one bearer-token check of the listener's authenticated routes (webhook, admin)."""

from __future__ import annotations

import hmac

from remediator.secrets import Secret


def expected(token: Secret | None) -> bytes | None:
    """What `Authorization` must carry for `token` (None: no token configured)."""
    return None if token is None else token.reveal().encode("utf-8")


def authorized(header: str, token: bytes | None) -> bool:
    """Whether an `Authorization` header carries `token` as a Bearer credential.

    The scheme is case-insensitive (RFC 7235, section 2.1: `bearer` is `Bearer`); the
    comparison of the credential takes the same time wherever it differs."""
    if token is None:
        return True
    scheme, _, credential = header.strip().partition(" ")
    given = credential.strip().encode("utf-8", "replace")
    # Both sides compared in full even when the scheme is wrong (no early answer to time).
    return hmac.compare_digest(given, token) and scheme.lower() == "bearer"
