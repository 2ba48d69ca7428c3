"""Approvals over HTTP (SPEC section 10): `GET /api/v1/approvals` lists the pending ones, and
`POST /api/v1/approvals/{id}` with `{"decision": "approve"|"deny", "reason": "..."}` and the
admin bearer token answers one (optionally `"by"`: who, for the ledger and the log).

`remediator approvals|approve|deny` use these when the daemon runs, so that its engine decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from remediator.http.admin import HttpError, bearer_json, gate
from remediator.http.guard import Gate
from remediator.http.server import Environ, StartResponse, WsgiApp, json_response
from remediator.secrets import Secret

LIST = "/api/v1/approvals"
ANSWER = LIST + "/"  # + the approval's id
DEFAULT_BY = "the admin API"


class Approvals(Protocol):
    """What the daemon offers: the pending approvals, and answering one.

    `answer` raises LookupError for an unknown id and ValueError for a bad request or an
    approval that is no longer pending."""

    def approvals(self) -> list[dict[str, Any]]: ...

    def answer(self, approval: str, approve: bool, reason: str, by: str) -> dict[str, Any]: ...


def routes(
    token: Secret | None, ops: Approvals
) -> tuple[dict[tuple[str, str], WsgiApp], dict[tuple[str, str], WsgiApp]]:
    """(exact routes, prefixed routes) for `server.Routes.extra` and `.prefixed`."""

    def listing(_environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return json_response(start_response, 200, ops.approvals())

    def answer(body: dict[str, Any], environ: Environ) -> dict[str, Any]:
        approval = str(environ.get("PATH_INFO", ""))[len(ANSWER) :]
        decision = body.get("decision")
        if decision not in ("approve", "deny"):
            raise ValueError('"decision" must be "approve" or "deny"')
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError('"reason" is required: why (it is kept in the ledger and the log)')
        by = body.get("by") or DEFAULT_BY
        if not isinstance(by, str):
            raise ValueError('"by" must be a string')
        try:
            return ops.answer(approval, decision == "approve", reason, by[:200])
        except LookupError as exc:
            raise HttpError(404, str(exc)) from None

    return {("GET", LIST): listing}, {("POST", ANSWER): bearer_json(token, answer)}


def gates(token: Secret | None) -> dict[tuple[str, str], Gate]:
    """The answer route's token and body checks before its body is read (see `guard`)."""
    return {("POST", ANSWER): gate(token)}
