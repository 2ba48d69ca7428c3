"""The probe schedule on a loop whose time is a FakeClock's: every target on its grid, the
hanging ones too, missed runs counted and never made up, and a reload that keeps the phases."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from itertools import pairwise

import pytest

from remediator.clock import FakeClock
from remediator.config.health import HealthCheck, preset
from remediator.core.events import ProbeResult
from remediator.probe.loop import ProbeLoop
from remediator.probe.schedule import ProbeSchedule, catch_up
from tests.probing import FakeTimeLoop


def check(target: str, interval: float = 15.0, timeout: float = 5.0) -> HealthCheck:
    return preset("http", target, f"http://{target}.invalid/", timeout=timeout, interval=interval)


class Bench:
    """A schedule on a fake-time loop, with a fake probe: `hang` targets take their timeout."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.loop = ProbeLoop(lambda: FakeTimeLoop(clock))
        self.loop.start()
        self.hang: set[str] = set()
        self.results: list[ProbeResult] = []
        self.runs: list[tuple[str, str, float, float]] = []
        self.tasks: list[weakref.ref[asyncio.Task[object]]] = []  # each run's task
        self.schedule = ProbeSchedule(
            self.loop, self.probe, self.results.append, jitter=lambda: 0.0
        )
        self.schedule.observers.append(lambda *run: self.runs.append(run))

    def start(self, checks: list[HealthCheck]) -> float:
        """Start probing `checks`; the loop time it started at."""
        self.schedule.set(checks)
        self.schedule.start()
        self.settle()
        return self.clock.monotonic()

    async def probe(self, hc: HealthCheck) -> ProbeResult:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(weakref.ref(task))
        if hc.target in self.hang:
            await asyncio.sleep(hc.timeout)
            return ProbeResult(hc.target, False, "read timeout", self.clock.now(), hc.timeout)
        return ProbeResult(hc.target, True, "ok", self.clock.now())

    def settle(self) -> None:
        """Let the loop run everything now due (timers, then the tasks they start)."""

        async def spin() -> None:
            for _ in range(20):
                await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(spin(), self.loop.loop).result(5)

    def advance(self, seconds: float, step: float = 0.5) -> None:
        """Let `seconds` pass in steps, the loop keeping up (a blocked loop: one big step)."""
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end - 1e-9:
            self.clock.advance(min(step, end - self.clock.monotonic()))
            self.settle()

    def started(self, target: str) -> list[float]:
        return [at for kind, t, _, at in self.runs if kind == "started" and t == target]


@pytest.fixture
def bench(fake_clock: FakeClock) -> Iterator[Bench]:
    b = Bench(fake_clock)
    yield b
    b.schedule.stop()
    b.loop.stop()


def test_catch_up_runs_on_time_or_late_within_grace_and_misses_the_rest() -> None:
    assert catch_up(100.0, 15.0, 100.0) == (True, [], 115.0)
    assert catch_up(100.0, 15.0, 107.5) == (True, [], 115.0)  # late, within half an interval
    assert catch_up(100.0, 15.0, 108.0) == (False, [100.0], 115.0)
    # A loop blocked for 40 s: two runs missed, the third (at 130) runs 2 s late.
    assert catch_up(100.0, 15.0, 132.0) == (True, [100.0, 115.0], 145.0)
    assert catch_up(100.0, 1.0, 101.5) == (True, [100.0], 102.0)  # grace is at least 1 s


def test_every_target_is_probed_on_its_grid_even_when_a_tenth_hang(bench: Bench) -> None:
    checks = [check(f"t{n:02d}") for n in range(20)]
    bench.hang = {"t00", "t10"}
    t0 = bench.start(checks)
    bench.advance(90.0)
    runs = 0
    for n, hc in enumerate(checks):
        first = t0 + 15.0 * n / 20
        expected = [first + 15.0 * k for k in range(7) if 15.0 * n / 20 + 15.0 * k <= 90.0]
        assert bench.started(hc.target) == pytest.approx(expected, abs=0.51), hc.target
        runs += len(expected)
    assert bench.schedule.missed == 0
    failed = [r for r in bench.results if not r.ok]
    assert {r.target for r in failed} == {"t00", "t10"}
    # Every run delivered, the hanging ones at their timeout: all but t00's run at 90 s.
    assert len(bench.results) == runs - 1


def test_a_blocked_loop_misses_runs_and_does_not_make_them_up(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    t0 = bench.start([check("a"), check("b")])  # a due at 0, 15, 30...; b at 7.5, 22.5...
    bench.advance(14.0)
    assert [len(bench.started(t)) for t in "ab"] == [1, 1]
    with caplog.at_level("WARNING", logger="remediator.probe"):
        bench.advance(50.0, step=50.0)  # the loop could not run from 14 s to 64 s
    # a: 15, 30, 45 missed; 60 runs 4 s late. b: 22.5, 37.5, 52.5 all missed (11.5 s late).
    assert bench.started("a") == pytest.approx([t0, t0 + 64])
    assert bench.started("b") == pytest.approx([t0 + 7.5])
    assert bench.schedule.missed == 6
    missed = sorted(due - t0 for kind, _, due, _ in bench.runs if kind == "missed")
    assert missed == pytest.approx([15, 22.5, 30, 37.5, 45, 52.5])
    assert len([r for r in caplog.records if "probes fell behind" in r.getMessage()]) == 1
    bench.advance(30.0)  # back on the grid: a at 75 and 90, b at 67.5 and 82.5
    assert bench.started("a")[2:] == pytest.approx([t0 + 75, t0 + 90], abs=0.51)
    assert bench.started("b")[1:] == pytest.approx([t0 + 67.5, t0 + 82.5], abs=0.51)


def test_a_probe_as_long_as_the_interval_delays_the_next_run_instead_of_overlapping(
    bench: Bench,
) -> None:
    bench.hang = {"a"}
    bench.start([check("a", interval=5.0, timeout=5.0)])
    bench.advance(5.0 * 4 - 0.1, step=0.05)
    starts = bench.started("a")
    assert len(starts) == 4 and bench.schedule.missed == 0
    assert all(4.9 <= b - a <= 5.1 for a, b in pairwise(starts))
    kinds = [kind for kind, target, _, _ in bench.runs if target == "a"]
    assert kinds[:6] == ["started", "finished"] * 3, "each run waits for the one before"


def test_a_reload_keeps_the_phase_of_kept_targets_and_adds_and_removes_others(
    bench: Bench,
) -> None:
    t0 = bench.start([check("a"), check("b"), check("c")])
    bench.advance(20.0)
    bench.schedule.set([check("a"), check("c", interval=10.0), check("d")])
    bench.settle()
    t1 = bench.clock.monotonic()
    bench.advance(30.0)
    assert bench.started("a") == pytest.approx([t0, t0 + 15, t0 + 30, t0 + 45], abs=0.51)
    assert bench.started("b") == pytest.approx([t0 + 5, t0 + 20], abs=0.51), "removed at 20 s"
    # c: a new interval, so a new phase (index 1 of 3: a third of 10 s after the reload).
    c_after = [at for at in bench.started("c") if at > t1]
    assert c_after == pytest.approx([t1 + 10 / 3 + 10 * k for k in range(3)], abs=0.51)
    assert bench.started("d") == pytest.approx([t1 + 10.0, t1 + 25.0], abs=0.51)
    assert bench.schedule.targets == ("a", "c", "d")


def test_a_finished_run_is_let_go_so_targets_do_not_each_keep_a_task(bench: Bench) -> None:
    # At 5,000 targets a done task kept per target (with its coroutine, in asyncio's task set)
    # was ~3.5 MiB of the daemon's RSS.
    bench.hang = {"t1"}
    bench.start([check("t0"), check("t1")])
    bench.advance(10.0)  # t0 ran at 0 and is done; t1, due at 7.5, hangs until 12.5
    gc.collect()
    assert len(bench.tasks) == 2
    assert bench.tasks[0]() is None, "t0's finished run is still referenced"
    assert bench.tasks[1]() is not None, "t1's run is in flight: the schedule waits on it"
