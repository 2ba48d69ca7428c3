"""A real HTTP receiver for notifications (pytest-httpserver): it answers from a script of
statuses, then 200, and keeps every request it got."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass(frozen=True)
class Received:
    """One request the receiver got, and the status it answered."""

    headers: dict[str, str]
    body: dict[str, Any]
    status: int

    @property
    def id(self) -> str:
        """The notification's id in a `kind: webhook` body."""
        return str(self.body["id"])


class Receiver:
    """Answers POSTs to `path` with the next scripted status (then `default`), recording them."""

    def __init__(self, server: HTTPServer, path: str = "/hook", default: int = 200) -> None:
        self.server, self.path, self.default = server, path, default
        self.script: list[int | tuple[int, dict[str, str], str]] = []
        self.got: list[Received] = []
        self.hold = threading.Event()  # set: requests wait (a hanging receiver) until released
        self.release = threading.Event()
        self.arrived = threading.Event()  # a request came in (answered or held)
        self._lock = threading.Lock()
        server.expect_request(path, method="POST").respond_with_handler(self._answer)

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def _answer(self, request: Request) -> Response:
        self.arrived.set()
        if self.hold.is_set():
            self.release.wait(30)
        with self._lock:
            step = self.script.pop(0) if self.script else self.default
            status, headers, text = (step, {}, "") if isinstance(step, int) else step
            self.got.append(Received(dict(request.headers), json.loads(request.data), status))
        return Response(text or ("ok" if status < 300 else "no"), status=status, headers=headers)

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in order."""
        with self._lock:
            return [r for r in self.got if 200 <= r.status < 300]
