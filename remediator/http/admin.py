"""Operator mutations sent to a running daemon: pause, resume, restart (bearer-authenticated).

`remediator pause|resume|restart` call these when the daemon runs, so that its engine is the
one deciding; the token is `server.admin_token`. Without one configured, they answer 403.
The token names no one: who acted, for the history and the log, is the `actor` a body gives
(the CLI sends its OS user) and the caller's address (see `api_actor`).
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

    def pause(
        self, target: str | None, seconds: float, reason: str, *, actor: str = ""
    ) -> dict[str, Any]: ...

    def resume(
        self, target: str | None, reset_breaker: bool, *, reason: str = "", actor: str = ""
    ) -> dict[str, Any]: ...

    def restart(  # noqa: PLR0913 - the operator's restart options, by keyword
        self,
        target: str,
        action: str | None,
        reason: str,
        *,
        force: bool,
        reset_breaker: bool,
        dry_run: bool,
        allow_fallback: bool = False,
        actor: str = "",
    ) -> dict[str, Any]: ...


class HttpError(Exception):
    """Answer with `code` and `message` (raised by a route's call)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


Call = Callable[[dict[str, Any], Environ], object]


def _refusal(token: bytes | None, authorization: str, length: str) -> Refusal | None:
    if token is None:
        return 403, {"error": "set server.admin_token to allow this"}, []
    if not auth.authorized(authorization, token):
        return 401, {"error": "missing or wrong bearer token"}, [("WWW-Authenticate", "Bearer")]
    if not length.isdigit() or int(length) > MAX_BODY:
        return 413, {"error": "body too large"}, []
    return None


def gate(token: Secret | None) -> Gate:
    """`bearer_json`'s checks, asked before the body is read (see `guard`)."""
    expected = auth.expected(token)

    def check(headers: Mapping[str, str]) -> Refusal | None:
        return _refusal(
            expected, headers.get("AUTHORIZATION", ""), headers.get("CONTENT_LENGTH") or "0"
        )

    return check


def gates(token: Secret | None) -> dict[tuple[str, str], Gate]:
    """The same checks before the body is read, for `server.Routes.gates`."""
    check = gate(token)
    return {("POST", path): check for path in (PAUSE, RESUME, RESTART)}


def bearer_json(token: Secret | None, call: Call) -> WsgiApp:
    """A POST route: the admin bearer token, a JSON object body of at most MAX_BODY, and `call`'s
    answer as JSON (ValueError, TypeError, KeyError: 400; HttpError: its code; LedgerError:
    503, nothing done)."""
    expected = auth.expected(token)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or "0"
        refused = _refusal(expected, environ.get("HTTP_AUTHORIZATION", ""), length)
        if refused is not None:
            return json_response(start_response, *refused)
        try:
            body = json.loads(environ["wsgi.input"].read(int(length)) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return json_response(start_response, 200, call(body, environ))
        except HttpError as exc:
            return json_response(start_response, exc.code, {"error": str(exc)[:300]})
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


def api_actor(body: dict[str, Any], environ: Environ) -> str:
    """Who a call acts as: the name its body gives, and the address it came from."""
    name = body.get("actor")
    name = name.strip()[:100] if isinstance(name, str) and name.strip() else "unnamed caller"
    return f"{name} (admin API from {environ.get('REMOTE_ADDR') or 'an unknown address'})"


def routes(token: Secret | None, ops: Operations) -> dict[tuple[str, str], WsgiApp]:
    """The three POST routes, for `server.Routes.extra`."""
    return {
        ("POST", PAUSE): bearer_json(
            token,
            lambda b, e: ops.pause(
                b.get("target"), float(b["seconds"]), str(b["reason"]), actor=api_actor(b, e)
            ),
        ),
        ("POST", RESUME): bearer_json(
            token,
            lambda b, e: ops.resume(
                b.get("target"),
                bool(b.get("reset_breaker", False)),
                reason=str(b.get("reason") or ""),
                actor=api_actor(b, e),
            ),
        ),
        ("POST", RESTART): bearer_json(
            token,
            lambda b, e: ops.restart(
                str(b["target"]),
                b.get("action"),
                str(b["reason"]),
                force=bool(b.get("force", False)),
                reset_breaker=bool(b.get("reset_breaker", False)),
                dry_run=bool(b.get("dry_run", False)),
                allow_fallback=bool(b.get("allow_fallback", False)),
                actor=api_actor(b, e),
            ),
        ),
    }
