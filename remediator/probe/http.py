"""One health check over HTTP on an asyncio loop (aiohttp): a GET bounded by its deadline →
"ok" or why the target is unhealthy.

A probe follows no redirect (a 3xx is a failure), retries nothing of its own (the rules count
failures; aiohttp resends only a request whose kept-alive connection the server had already
closed), keeps no cookies, reads at most `MAX_BODY` bytes, and ends at `check.timeout` after it
began, whatever it was waiting for: `connect timeout` before a connection was made, `read
timeout` after.
"""

from __future__ import annotations

import asyncio
import base64
import errno
from types import SimpleNamespace

import aiohttp

from remediator import __version__
from remediator.config.health import HealthCheck
from remediator.probe.judge import MAX_BODY, judge

USER_AGENT = f"remediator/{__version__}"


class _Progress:
    """How far one probe got: set by the session's trace hooks."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


async def _connected(
    _session: aiohttp.ClientSession, ctx: SimpleNamespace, _params: object
) -> None:
    progress = ctx.trace_request_ctx
    if isinstance(progress, _Progress):
        progress.connected = True


def make_session() -> aiohttp.ClientSession:
    """The probes' session (call it on the loop that will use it): one pool of kept-alive
    connections per host, no limit on their number (each probe has its deadline, so at most
    timeout / interval of them per target are open), no proxies or netrc from the environment."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_connected)
    trace.on_connection_reuseconn.append(_connected)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
        headers={"User-Agent": USER_AGENT},
        # Probes go to private addresses; HTTP(S)_PROXY and ~/.netrc meant for other tools must
        # not reroute them or add credentials.
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        trace_configs=[trace],
    )


async def fetch(
    session: aiohttp.ClientSession, check: HealthCheck, auth: tuple[str, str] | None
) -> str:
    """GET `check.url` and judge the answer: "ok", or why the target is unhealthy."""
    progress = _Progress()
    try:
        async with asyncio.timeout(check.timeout):
            async with session.get(
                check.url,
                headers={"Authorization": _basic(*auth)} if auth is not None else None,
                allow_redirects=False,
                trace_request_ctx=progress,
            ) as response:
                body = await _read_bounded(response.content)
                return judge(check, response.status, body)
    except TimeoutError:
        return "read timeout" if progress.connected else "connect timeout"
    except aiohttp.ClientConnectorDNSError:
        return "dns error"
    except aiohttp.ClientSSLError:
        return "tls error"
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return _os_reason(exc.os_error)
    except aiohttp.ServerDisconnectedError:
        return "connection closed without a response"
    except aiohttp.ClientOSError as exc:
        return _os_reason(exc)
    except aiohttp.ClientPayloadError as exc:
        cause = exc.__cause__
        return _os_reason(cause) if isinstance(cause, OSError) else "connection error"
    except (aiohttp.ClientError, OSError):
        return "connection error"


async def _read_bounded(stream: aiohttp.StreamReader) -> bytes:
    body = bytearray()
    while len(body) < MAX_BODY:
        chunk = await stream.read(MAX_BODY - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def _basic(username: str, password: str) -> str:
    # As requests encoded it (latin-1), and UTF-8 for what latin-1 cannot say.
    credentials = f"{username}:{password}"
    try:
        raw = credentials.encode("latin-1")
    except UnicodeEncodeError:
        raw = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        return "connection reset"
    return "connection error"
