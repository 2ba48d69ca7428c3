"""Operator mutations sent to a running daemon: pause, resume, restart (bearer-authenticated).

`remediator pause|resume|restart` call these when the daemon runs, so that its engine is the
one deciding; the token is `server.admin_token`. Without one configured, they answer 403.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from remediator.errors import LedgerError
from remediator.http import auth
from remediator.http.guard import Gate, Refusal
from remediator.http.server import Environ, StartResponse, WsgiApp, json_response
from remediator.secrets import Secret

PAUSE = "/api/v1/pause"
RESUME = "/api/v1/resume"
RESTART = "/api/v1/restart"
MAX_BODY = 64 * 1024


class Operations(Protocol):
    """What the daemon offers operators; each raises ValueError for a bad request."""

    def pause(self, target: str | None, seconds: float, reason: str) -> dict[str, Any]: ...

    def resume(self, target: str | None, reset_breaker: bool) -> dict[str, Any]: ...

    def restart(
        self,
        target: str,
        action: str | None,
        reason: str,
        *,
        force: bool,
        reset_breaker: bool,
        dry_run: bool,
        allow_fallback: bool = False,
    ) -> dict[str, Any]: ...


def _refusal(token: bytes | None, authorization: str, length: str) -> Refusal | None:
    if token is None:
        return 403, {"error": "set server.admin_token to allow this"}, []
    if not auth.authorized(authorization, token):
        return 401, {"error": "missing or wrong bearer token"}, [("WWW-Authenticate", "Bearer")]
    if not length.isdigit() or int(length) > MAX_BODY:
        return 413, {"error": "body too large"}, []
    return None


def gates(token: Secret | None) -> dict[tuple[str, str], Gate]:
    """The same checks before the body is read, for `server.Routes.gates`."""
    expected = auth.expected(token)

    def gate(headers: Mapping[str, str]) -> Refusal | None:
        return _refusal(
            expected, headers.get("AUTHORIZATION", ""), headers.get("CONTENT_LENGTH") or "0"
        )

    return {("POST", path): gate for path in (PAUSE, RESUME, RESTART)}


def routes(token: Secret | None, ops: Operations) -> dict[tuple[str, str], WsgiApp]:
    """The three POST routes, for `server.Routes.extra`."""
    expected = auth.expected(token)

    def endpoint(call: Callable[[dict[str, Any]], dict[str, Any]]) -> WsgiApp:
        def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            length = environ.get("CONTENT_LENGTH") or "0"
            refused = _refusal(expected, environ.get("HTTP_AUTHORIZATION", ""), length)
            if refused is not None:
                return json_response(start_response, *refused)
            try:
                body = json.loads(environ["wsgi.input"].read(int(length)) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                return json_response(start_response, 200, call(body))
            except (ValueError, TypeError, KeyError) as exc:
                return json_response(start_response, 400, {"error": str(exc)[:300]})
            except LedgerError as exc:  # not recorded: nothing was done
                return json_response(
                    start_response,
                    503,
                    {"error": f"not done: {exc}"[:300]},
                    [("Retry-After", "10")],
                )

        return app

    return {
        ("POST", PAUSE): endpoint(
            lambda b: ops.pause(b.get("target"), float(b["seconds"]), str(b["reason"]))
        ),
        ("POST", RESUME): endpoint(
            lambda b: ops.resume(b.get("target"), bool(b.get("reset_breaker", False)))
        ),
        ("POST", RESTART): endpoint(
            lambda b: ops.restart(
                str(b["target"]),
                b.get("action"),
                str(b["reason"]),
                force=bool(b.get("force", False)),
                reset_breaker=bool(b.get("reset_breaker", False)),
                dry_run=bool(b.get("dry_run", False)),
                allow_fallback=bool(b.get("allow_fallback", False)),
            )
        ),
    }
