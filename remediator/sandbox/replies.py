"""What a sandbox endpoint answers: an HTTP response, or a connection closed without one."""

from __future__ import annotations

import json
from dataclasses import dataclass

JSON = "application/json;charset=UTF-8"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    """An HTTP response."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
        """A JSON response."""
        return cls(status, json.dumps(value).encode("utf-8"), JSON, headers)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = TEXT) -> Reply:
        """A text response."""
        return cls(status, text.encode("utf-8"), content_type)


@dataclass(frozen=True)
class Close:
    """Close the connection without answering, after holding it `hold` seconds.

    `abort` closes with a TCP reset (SO_LINGER 0), which is what a client sees from a
    process that is down behind a port that still accepts (the closest thing to "refused"
    a shared listener can give).
    """

    hold: float = 0.0
    abort: bool = False


Outcome = Reply | Close
