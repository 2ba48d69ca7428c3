"""The demo's terminal: lines stamped with the seconds since the start, wrapped to one width."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Sequence
from typing import TextIO

from remediator.clock import Clock

WIDTH = 100
INDENT = " " * 11  # under the text of a "[ 12.3s] " line, and two more


class Printer:
    """Writes stamped lines in the order it is given them; stamps never go back in time."""

    def __init__(self, out: TextIO, clock: Clock) -> None:
        self._out = out
        self._clock = clock
        self._start = clock.monotonic()
        self._lock = threading.Lock()
        self._last = 0.0
        self.muted = False

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return self._clock.monotonic() - self._start

    def say(
        self, text: str, more: Sequence[str] = (), at: float | None = None, hang: int = 0
    ) -> None:
        """One line stamped `at` (default: now), wrapped, and indented continuation lines
        (whose own wrapped parts go `hang` columns further in, under a column of labels)."""
        with self._lock:
            # A line stamped when it happened may be printed a moment after a later one was
            # stamped (e.g. a poll of the clusters): the stamp says "by then".
            self._last = max(self._last, self.elapsed() if at is None else at)
            stamp = f"[{self._last:5.1f}s] "
        lines = wrap(text, stamp, INDENT)
        for extra in more:
            lines += wrap(extra, INDENT, INDENT + " " * hang)
        self.write("\n".join(lines))

    def write(self, text: str = "") -> None:
        """Text as it is (unless muted)."""
        with self._lock:
            if not self.muted:
                print(text, file=self._out, flush=True)


def wrap(text: str, first: str, rest: str) -> list[str]:
    """`text` wrapped to `WIDTH`; paths and URLs stay whole (no breaks on their hyphens)."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


def paragraph(text: str) -> str:
    """`text` as a paragraph of `WIDTH` columns."""
    return textwrap.fill(text, WIDTH, break_on_hyphens=False, break_long_words=False)
