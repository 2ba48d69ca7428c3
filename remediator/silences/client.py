"""Asking Alertmanager for its active silences (`GET /api/v2/silences`), briefly cached.

Several URLs are an HA pair or more: they share silences by gossip, so the first that answers
will do; the one that answered last is asked first next time. An answer (or the failure to get
one) is kept `CACHE_SECONDS`, and concurrent askers wait for the one request in flight, so that
a storm of trips asks Alertmanager once, not once per trip.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import requests

from remediator.clock import Clock
from remediator.silences.matching import Silence, SilencesError, parse_silences

CACHE_SECONDS = 5.0
PATH = "/api/v2/silences"


class SilencesUnavailable(Exception):
    """No Alertmanager answered with a list of silences; `str()` says what each did."""


@dataclass(frozen=True)
class _Answer:
    at: float
    silences: list[Silence] | None
    error: str = ""


class SilencesClient:
    """The active silences of the Alertmanagers at `urls`, asked at most every few seconds."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float,
        clock: Clock,
        session: requests.Session | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        if not urls:
            raise ValueError("at least one Alertmanager URL")
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout = timeout
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.session = session or requests.Session()
        self.session.trust_env = False  # the monitoring network, not the environment's proxy
        self._lock = threading.Lock()
        self._answer: _Answer | None = None
        self._first = 0  # the index of the URL that answered last
        self.requests = 0  # HTTP requests made, for tests and the curious

    def active(self) -> list[Silence]:
        """The active silences; SilencesUnavailable when no Alertmanager gave them."""
        with self._lock:
            now = self.clock.monotonic()
            answer = self._answer
            if answer is None or now - answer.at >= self.cache_seconds:
                answer = self._answer = self._ask()
        if answer.silences is None:
            raise SilencesUnavailable(answer.error)
        return answer.silences

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def _ask(self) -> _Answer:
        """Ask each Alertmanager in turn; the answer is dated when it came (a timeout is slow)."""
        failures: list[str] = []
        order = self.urls[self._first :] + self.urls[: self._first]
        for url in order:
            self.requests += 1
            try:
                resp = self.session.get(url + PATH, timeout=self.timeout)
                if resp.status_code != 200:
                    raise SilencesError(f"HTTP {resp.status_code}")
                silences = parse_silences(resp.json())
            except requests.RequestException as exc:
                failures.append(f"{url}: {_short(exc)}")
            except (SilencesError, ValueError) as exc:  # ValueError: the body is not JSON
                failures.append(f"{url}: {exc}")
            else:
                self._first = self.urls.index(url)
                return _Answer(self.clock.monotonic(), silences)
        return _Answer(self.clock.monotonic(), None, "; ".join(failures))


def _short(exc: requests.RequestException) -> str:
    """A connection error in a few words (requests nests urllib3's long reprs)."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        for known in ("Connection refused", "Name or service not known", "No route to host"):
            if known in text:
                return known.lower()
        return "cannot connect"
    return type(exc).__name__
