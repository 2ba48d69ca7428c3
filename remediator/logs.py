"""Logging set-up: one JSON object per line on stdout, for journald and log shippers."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter


def utc(record: logging.LogRecord) -> str:
    """When `record` was made, as RFC 3339 UTC with milliseconds (as status and the API say)."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _JsonLines(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc(record)


class _TextLines(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc(record)


def setup(level: str = "INFO", stream: TextIO | None = None, json_lines: bool = True) -> None:
    """Route every `remediator.*` log record to `stream` (stdout) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stdout)
    if json_lines:
        handler.setFormatter(
            _JsonLines(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(_TextLines("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("remediator")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # APScheduler logs every job run at INFO; keep its warnings (missed runs) only. waitress
    # warns "Task queue depth is N" under any burst: a normal condition, not news. urllib3's
    # debug lines quote each request's path, and a Slack or Teams webhook's path is its secret.
    for name, lvl in (
        ("apscheduler", logging.WARNING),
        ("waitress", logging.WARNING),
        ("waitress.queue", logging.ERROR),
        ("urllib3", logging.WARNING),
    ):
        other = logging.getLogger(name)
        other.setLevel(lvl)
        other.handlers[:] = [handler]
        other.propagate = False
