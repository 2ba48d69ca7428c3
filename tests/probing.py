"""The probe loop for tests: a running `ProbeLoop` and a `Prober` on it (fixtures `loop` and
`prober`, a plugin of conftest), and an event loop whose time is a FakeClock's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from remediator.clock import FakeClock
from remediator.probe.loop import ProbeLoop
from remediator.probe.runner import Prober


class FakeTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is the fake clock's monotonic time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._fake = clock

    def time(self) -> float:
        return self._fake.monotonic()


@pytest.fixture
def loop() -> Iterator[ProbeLoop]:
    probes = ProbeLoop()
    probes.start()
    yield probes
    probes.stop()


@pytest.fixture
def prober(loop: ProbeLoop) -> Prober:
    return Prober(loop, FakeClock())
