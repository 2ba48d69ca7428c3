"""The one HTTP listener: /metrics, /-/healthy, /-/ready and /api/v1/ (a WSGI app on waitress)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from remediator.clock import Clock, SystemClock
from remediator.http.guard import Gate, Gates, guarded_server
from remediator.http.scrape import make_metrics_app

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# waitress's own limit; endpoints enforce their smaller ones with a JSON error.
MAX_BODY = 4 * 1024 * 1024


@dataclass
class Routes:
    """What the listener needs from the daemon, as callables so that it knows no daemon."""

    registry: CollectorRegistry
    healthy: Callable[[], bool]
    ready: Callable[[], bool]
    status: Callable[[], dict[str, Any]]
    extra: dict[tuple[str, str], WsgiApp] = field(default_factory=dict)
    # Routes for every path under a prefix that ends with "/" (e.g. /api/v1/approvals/{id}).
    prefixed: dict[tuple[str, str], WsgiApp] = field(default_factory=dict)
    # Checks of an `extra` or `prefixed` route's headers before its body is read (see `guard`).
    gates: dict[tuple[str, str], Gate] = field(default_factory=dict)


def json_response(
    start_response: StartResponse, code: int, body: object, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    """Send `body` as JSON with HTTP status `code`."""
    data = json.dumps(body, indent=None, sort_keys=True).encode("utf-8")
    reason = _REASONS.get(code, "")
    start_response(
        f"{code} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def without_body_on_head(app: WsgiApp) -> WsgiApp:
    """`app`, answering HEAD with GET's headers and no body: waitress sends what an app returns
    even for HEAD, and on a kept-alive connection a client then reads those bytes as the start
    of its next response."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "HEAD":
            return app(environ, start_response)
        said: list[tuple[str, list[tuple[str, str]]]] = []

        def keep(status: str, headers: list[tuple[str, str]], _exc_info: object = None) -> None:
            said.append((status, list(headers)))

        body = app(environ, keep)
        try:
            length = sum(len(chunk) for chunk in body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        status, headers = said[-1]
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers.append(("Content-Length", str(length)))
        start_response(status, headers)
        return [b""]

    return wrapped


def make_app(routes: Routes) -> WsgiApp:
    """The WSGI application."""
    metrics_app = make_metrics_app(routes.registry)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        handler = routes.extra.get((method, path))
        if handler is None:
            handler = next(
                (
                    app
                    for (m, prefix), app in routes.prefixed.items()
                    if m == method and path.startswith(prefix) and len(path) > len(prefix)
                ),
                None,
            )
        if handler is not None:
            return handler(environ, start_response)
        if any(p == path for _m, p in routes.extra) or any(
            path.startswith(p) and len(path) > len(p) for _m, p in routes.prefixed
        ):
            return json_response(start_response, 405, {"error": "method not allowed"})
        if method not in ("GET", "HEAD"):
            return json_response(start_response, 405, {"error": "method not allowed"})
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/-/healthy":
            ok = routes.healthy()
            return json_response(start_response, 200 if ok else 503, {"healthy": ok})
        if path == "/-/ready":
            ok = routes.ready()
            return json_response(start_response, 200 if ok else 503, {"ready": ok})
        if path == "/api/v1/status":
            return json_response(start_response, 200, routes.status())
        return json_response(start_response, 404, {"error": f"no such path {path}"})

    return without_body_on_head(app)


class HttpServer:
    """waitress on one listener, serving in a background thread; it binds in `start()`."""

    def __init__(  # noqa: PLR0913 - the listener's options, by keyword
        self,
        app: WsgiApp,
        host: str,
        port: int,
        threads: int = 4,
        *,
        gates: Gates | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._app, self._host, self._port, self._threads = app, host, port, threads
        self._gates = gates or {}
        self._clock = clock or SystemClock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._map: dict[int, Any] = {}  # waitress's socket map, ours so that close() sees it

    @property
    def app(self) -> WsgiApp:
        """The WSGI application it serves."""
        return self._app

    @property
    def port(self) -> int:
        return int(self._server.effective_port) if self._server else self._port

    @property
    def host(self) -> str:
        return str(self._server.effective_host) if self._server else self._host

    def start(self) -> None:
        """Bind (OSError naming the address if it is taken) and serve."""
        try:
            self._bind()
        except OSError as exc:
            where = f"[{self._host}]" if ":" in self._host else self._host
            why = exc.strerror or str(exc)
            error = OSError(f"cannot listen on {where}:{self._port}: {why}")
            error.errno = exc.errno
            raise error from None
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._thread.start()

    def _bind(self) -> None:
        self._server = guarded_server(
            self._app,
            host=self._host,
            port=self._port,
            threads=self._threads,
            gates=self._gates,
            monotonic=self._clock.monotonic,
            socket_map=self._map,
            max_request_body_size=MAX_BODY,
            clear_untrusted_proxy_headers=True,
            ident="remediator",
            # (`guard` uses poll(), not select(): with a thousand probes in flight, sockets
            # pass fd 1024.)
        )

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # closed under us during shutdown
            self._server.run()

    def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Kept-alive connections (Alertmanager's, Prometheus' scrapes) would keep waitress's
        # loop serving, and this join waiting its whole timeout: close them too.
        for channel in list(self._map.values()):
            channel.handle_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
