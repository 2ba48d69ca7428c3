"""GET /metrics: prometheus_client's `make_wsgi_app`, with `remediator.exposition` writing.

It answers as make_wsgi_app (0.26) does — the format from the Accept header, `?name[]=` to
keep some series, gzip when Accept-Encoding takes it, OPTIONS answered, 405 to other methods —
with two differences. The registry is written by `exposition.generate`, the same bytes as
make_wsgi_app's in a fraction of the CPU (3.6 ms instead of 116 ms in text and 164 ms in
OpenMetrics at 5,000 targets). And gzip runs at level 1, not 9: 1.8 ms instead of 21 ms for the
1.3 MB of 5,000 targets (91 KB on the wire instead of 70 KB), 5.6 ms instead of 63 ms for the
4.3 MB with 2 rules each (228 KB instead of 180 KB) — level 9's CPU is most of the scrape's
budget, for 20 to 50 KB that do not matter to a scraper on the same network. (The listener sends
GET and HEAD here; HEAD gets make_wsgi_app's 405, as before.)
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import gzip_accepted

from remediator.exposition import choose, generate

GZIP_LEVEL = 1

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_metrics_app(registry: CollectorRegistry) -> WsgiApp:
    """The WSGI app for GET /metrics on `registry`."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS":
            start_response("200 OK", [("Allow", "OPTIONS,GET")])
            return [b""]
        if method != "GET":
            status = "405 Method Not Allowed"
            start_response(status, [("Allow", "OPTIONS,GET")])
            return [f"# HTTP {status}: {method}; use OPTIONS or GET\n".encode()]
        fmt = choose(environ.get("HTTP_ACCEPT"))
        names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
        if names:
            # A debugging aid: prometheus_client's own path (every family's samples built).
            output = fmt.encoder(registry.restricted_registry(names))
        else:
            output = generate(registry, fmt)
        headers = [("Content-Type", fmt.content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            output = gzip.compress(output, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app
