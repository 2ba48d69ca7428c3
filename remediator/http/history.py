"""`GET /api/v1/history?target=&since=&limit=`: decisions, outcomes and operator acts, newest
first (SPEC section 11). `since` is a duration back from now (default 24h), an RFC 3339 time or
epoch seconds; `target` keeps that target's entries and acts on every target."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from remediator.http.server import Environ, StartResponse, WsgiApp, json_response

PATH = "/api/v1/history"
DEFAULT_SINCE = "24h"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000

# (target or None, since as given, limit) -> the entries as JSON objects; ValueError: bad query
Query = Callable[[str | None, str, int], list[dict[str, Any]]]


def routes(query: Query) -> dict[tuple[str, str], WsgiApp]:
    """The one GET route, for `server.Routes.extra`."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        params = parse_qs(environ.get("QUERY_STRING", ""))

        def one(key: str, default: str) -> str:
            values = params.get(key) or [default]
            return values[-1] or default

        try:
            limit = int(one("limit", str(DEFAULT_LIMIT)))
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError(f"limit must be 1 to {MAX_LIMIT}")
            data = query(one("target", "") or None, one("since", DEFAULT_SINCE), limit)
        except ValueError as exc:
            return json_response(start_response, 400, {"error": str(exc)[:300]})
        return json_response(start_response, 200, data)

    return {("GET", PATH): app}
