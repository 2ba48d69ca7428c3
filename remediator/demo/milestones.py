"""Named things that happened in the story, with when: what the scenario waits for."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence


class Milestones:
    """Each name's times (seconds since the start), in the order the narration told them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._times: dict[str, list[float]] = {}

    def reach(self, at: float, *names: str) -> None:
        """Mark each of `names` as having happened (once more) at `at`."""
        with self._cond:
            for name in names:
                self._times.setdefault(name, []).append(at)
            self._cond.notify_all()

    def counts(self) -> dict[str, int]:
        """How many times each milestone happened so far."""
        with self._cond:
            return {name: len(times) for name, times in self._times.items()}

    def at(self, name: str, since: Mapping[str, int]) -> float | None:
        """When `name` first happened after the `since` counts, if it did."""
        with self._cond:
            times = self._times.get(name, [])
            n = since.get(name, 0)
            return times[n] if len(times) > n else None

    def wait_any(
        self, names: Sequence[str], timeout: float, since: Mapping[str, int]
    ) -> str | None:
        """The first of `names` to happen after the `since` counts, or None after `timeout`."""

        def hit() -> str | None:
            return next((n for n in names if len(self._times.get(n, ())) > since.get(n, 0)), None)

        with self._cond:
            return self._cond.wait_for(hit, max(0.0, timeout))
