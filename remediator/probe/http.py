"""One health check over HTTP on an asyncio loop: a GET bounded by its deadline → "ok" or why
the target is unhealthy.

A probe follows no redirect (a 3xx is a failure), retries nothing of its own (the rules count
failures; the client resends only a request whose kept-alive connection the server had already
closed), keeps no cookies, reads at most `MAX_BODY` bytes, and ends at `check.timeout` after it
began, whatever it was waiting for: `connect timeout` before a connection was made, `read
timeout` after.
"""

from __future__ import annotations

import asyncio
import base64
import errno

from remediator.config.health import HealthCheck
from remediator.probe.client import ConnectError, DnsError, HttpClient, Progress, TlsError
from remediator.probe.judge import judge
from remediator.probe.wire import BadResponse, NoResponse


async def fetch(client: HttpClient, check: HealthCheck, auth: tuple[str, str] | None) -> str:
    """GET `check.url` and judge the answer: "ok", or why the target is unhealthy."""
    progress = Progress()
    try:
        async with asyncio.timeout(check.timeout):
            response = await client.get(
                check.url, _basic(*auth) if auth is not None else None, progress
            )
    except TimeoutError:
        return "read timeout" if progress.connected else "connect timeout"
    except DnsError:
        return "dns error"
    except TlsError:
        return "tls error"
    except ConnectError as exc:
        # One reason when every address failed alike (all refused, say), else a general one.
        reasons = {_connect_reason(e) for e in exc.errors}
        return reasons.pop() if len(reasons) == 1 else "connection error"
    except NoResponse:
        return "connection closed without a response"
    except BadResponse:
        return "connection error"
    except OSError as exc:
        return _os_reason(exc)
    return judge(check, response.status, bytes(response.body))


def _basic(username: str, password: str) -> str:
    # As requests encoded it (latin-1), and UTF-8 for what latin-1 cannot say.
    credentials = f"{username}:{password}"
    try:
        raw = credentials.encode("latin-1")
    except UnicodeEncodeError:
        raw = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _connect_reason(exc: OSError) -> str:
    return "connection refused" if isinstance(exc, ConnectionRefusedError) else _os_reason(exc)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        return "connection reset"
    return "connection error"
