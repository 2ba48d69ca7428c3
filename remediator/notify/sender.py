"""One attempt to deliver a notification to a sink, and what its answer means.

Sent: any 2xx. Worth retrying: a connection error, a timeout, 408, 429 and 5xx (with the
receiver's `Retry-After`, in seconds, when it gives one). Anything else (another 4xx, a 3xx,
a URL that cannot be used) ends it. The words of an answer never contain the URL — for Slack
and Teams it is the credential — nor what the receiver echoed of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import requests

from remediator import __version__
from remediator.notify.payloads import render
from remediator.notify.sinks import Sink

Result = Literal["sent", "retry", "failed"]
RETRY_STATUSES = frozenset({408, 429})
CONNECT_TIMEOUT = 5.0
_ANSWER_BYTES = 512


@dataclass(frozen=True)
class Answer:
    """What came of one attempt; `detail` is safe to log and store."""

    result: Result
    detail: str
    retry_after: float | None = None


def send(session: requests.Session, sink: Sink, body: str, notice_id: str) -> Answer:
    """POST the notice whose SPEC §10 JSON is `body` to `sink`, once."""
    payload = render(sink.kind, json.loads(body))
    headers = {"Content-Type": "application/json", "User-Agent": f"remediator/{__version__}"}
    if sink.kind == "webhook":
        headers["Idempotency-Key"] = notice_id
    url = sink.url.reveal()
    try:
        resp = session.post(
            url,
            data=json.dumps(payload).encode("utf-8"),
            headers=headers,
            timeout=(min(CONNECT_TIMEOUT, sink.timeout), sink.timeout),
            allow_redirects=False,
            stream=True,
        )
    except requests.Timeout:
        return Answer("retry", f"no answer within {sink.timeout:g}s")
    except requests.exceptions.SSLError:
        return Answer("retry", "TLS handshake failed")
    except requests.ConnectionError as exc:
        return Answer("retry", _connection_words(exc))
    except requests.RequestException as exc:
        return Answer("failed", f"the request could not be made ({type(exc).__name__})")
    try:
        raw = resp.raw.read(_ANSWER_BYTES, decode_content=True) or b""
    except (requests.RequestException, OSError, ValueError):
        raw = b""
    finally:
        resp.close()
    status = resp.status_code
    said = _scrub(raw.decode("utf-8", errors="replace"), url)
    detail = f"HTTP {status}" + (f": {said}" if said else "")
    if 200 <= status < 300:
        return Answer("sent", detail)
    if status in RETRY_STATUSES or status >= 500:
        return Answer("retry", detail, _retry_after(resp.headers.get("Retry-After")))
    return Answer("failed", detail)


def _connection_words(exc: requests.ConnectionError) -> str:
    """What went wrong before an answer, in words that name no URL (requests' messages do)."""
    text = str(exc).lower()
    for needle, words in (
        ("refused", "connection refused"),
        ("name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("temporary failure in name resolution", "host name not found"),
        ("reset by peer", "connection reset"),
        ("remotedisconnected", "connection closed without an answer"),
        ("aborted", "connection aborted"),
        ("unreachable", "network unreachable"),
    ):
        if needle in text:
            return words
    return "connection failed"


def _scrub(text: str, url: str) -> str:
    """The receiver's answer on one line, cut short, without the URL or its path."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if len(secret) > 1:
            text = text.replace(secret, "<url>")
    return " ".join(text.split())[:200]


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (an HTTP date is ignored: the backoff applies)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None
