"""Fuzzed Alertmanager webhook bodies: a seeded mutator over the recorded payloads in
`tests/fixtures/alertmanager/`, structure-aware (values swapped for deep nesting, huge
integers, NaN, NUL, lone surrogates, long strings, thousands of alerts, missing keys) and
byte-level (flips, cuts, splices). Every body is aimed at a target that is not configured, so
that any action it led to would be a bug.
"""

from __future__ import annotations

import io
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).parent.parent / "fixtures" / "alertmanager"
UNCONFIGURED = "9999999"  # no target of the campaign's configuration has this cluster number

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def seeds() -> list[dict[str, Any]]:
    """The recorded payloads, re-aimed at an unconfigured cluster."""
    out = []
    for path in sorted(SEEDS.glob("*.json")):
        text = path.read_text().replace("1484848", UNCONFIGURED)
        out.append(json.loads(text))
    return out


# Replacement values written as raw JSON text (what json.dumps cannot or would not produce).
_RAW = (
    lambda r: "[" * r.choice((50, 1000, 100_000)) + "]" * r.choice((0, 50, 1000, 100_000)),
    lambda r: '{"a":' * r.choice((50, 5000, 50_000)) + "1" + "}" * r.choice((0, 5000, 50_000)),
    lambda r: "9" * r.choice((20, 400, 4300, 5000, 100_000)),
    lambda r: "-" + "9" * r.choice((30, 5000)),
    lambda r: "1e" + "9" * r.choice((3, 400)),
    lambda _r: "NaN",
    lambda _r: "-Infinity",
    lambda _r: '"\\u0000"',
    lambda _r: '"\\ud800"',
    lambda _r: '"\\udfff\\ud800x"',
    lambda r: json.dumps("x" * r.choice((1025, 4097, 100_000))),
    lambda r: json.dumps("".join(chr(r.randrange(0x20, 0x2FFF)) for _ in range(50))),
    lambda _r: "null",
    lambda _r: "true",
    lambda _r: "[]",
    lambda _r: "{}",
    lambda _r: '""',
    lambda _r: json.dumps("2026-13-45T99:99:99Z"),
    lambda _r: json.dumps("9999-12-31T23:59:59-23:59"),
    lambda _r: json.dumps("0001-01-01T00:00:00+23:59"),
    lambda r: json.dumps({"alertname": "CMAKDown", "cluster_no": str(r.randrange(10**8))}),
)
_MARK = "\x01RAW{}\x01"


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*here, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*here, i))


def _structural(r: random.Random, doc: Any) -> bytes:
    doc = json.loads(json.dumps(doc))
    raws: list[str] = []
    for _ in range(r.choice((1, 1, 2, 3))):
        path = r.choice(list(_paths(doc)))
        if not path:
            continue
        *head, last = path
        parent = doc
        for part in head:
            parent = parent[part]
        choice = r.random()
        if choice < 0.15 and isinstance(parent, dict):
            del parent[last]
        elif choice < 0.25 and isinstance(parent, list) and parent:
            parent.extend([parent[0]] * r.choice((1, 100, 10_000)))
        elif choice < 0.35 and isinstance(parent, dict):
            parent[r.choice(("version", "status", "alerts", "labels", "\x00", "é" * 3))] = r.choice(
                ("3", "4", 4, None, [], "firing", "resolved")
            )
        else:
            raws.append(r.choice(_RAW)(r))
            parent[last] = _MARK.format(len(raws) - 1)
    text = json.dumps(doc, ensure_ascii=r.random() < 0.5)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(_MARK.format(i)), raw, 1)
    return text.encode("utf-8", "surrogatepass")


def _bytewise(r: random.Random, doc: Any) -> bytes:
    data = bytearray(json.dumps(doc).encode())
    for _ in range(r.choice((1, 2, 8, 64))):
        kind = r.random()
        at = r.randrange(len(data) or 1)
        if kind < 0.4 and data:
            data[at] ^= 1 << r.randrange(8)
        elif kind < 0.6:
            data.insert(at, r.randrange(256))
        elif kind < 0.75 and data:
            del data[at : at + r.randrange(1, 16)]
        elif kind < 0.9 and data:
            start = r.randrange(len(data))
            data[at:at] = data[start : start + r.randrange(1, 64)]
        else:
            del data[at:]
    return bytes(data)


def bodies(count: int, seed: int = 14) -> Iterator[bytes]:
    """`count` mutated bodies, the same for the same seed."""
    r = random.Random(seed)
    docs = seeds()
    for _ in range(count):
        doc = r.choice(docs)
        yield _structural(r, doc) if r.random() < 0.7 else _bytewise(r, doc)


@dataclass
class FuzzResult:
    """What came of the bodies."""

    bodies: int = 0
    codes: Counter[int] = field(default_factory=Counter)
    mapped: int = 0
    max_log_lines: int = 0
    max_log_bytes: int = 0
    five_hundreds: list[bytes] = field(default_factory=list)


class _Measure(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines = 0
        self.size = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        self.size += len(self.format(record)) + 1


def post(app: Wsgi, body: bytes, token: str) -> tuple[int, bytes]:
    """One webhook request through the WSGI app, as waitress would hand it over."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/alerts/alertmanager",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
    }
    status: list[str] = []
    out = b"".join(app(environ, lambda s, _h, _e=None: status.append(s)))
    return int(status[0].split()[0]), out


def fuzz(app: Wsgi, token: str, body_iter: Iterable[bytes]) -> FuzzResult:
    """Post every body; count answers, alerts mapped to targets, and log lines per request."""
    result = FuzzResult()
    measure = _Measure()
    measure.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("remediator")
    root.addHandler(measure)
    try:
        for body in body_iter:
            measure.lines = measure.size = 0
            code, answer = post(app, body, token)
            result.bodies += 1
            result.codes[code] += 1
            if code >= 500:
                result.five_hundreds.append(body[:2000])
            elif code == 200:
                result.mapped += int(json.loads(answer).get("mapped", 0))
            result.max_log_lines = max(result.max_log_lines, measure.lines)
            result.max_log_bytes = max(result.max_log_bytes, measure.size)
    finally:
        root.removeHandler(measure)
    return result
