"""Interval jobs on the monotonic clock, with the part of APScheduler's interface the daemon uses.

APScheduler 3 schedules on the wall clock (its maintainer: "the scheduler relies on the system
clock being correct", agronholm/apscheduler#351, #752): stepped back two hours, it ran no probe
and petted no watchdog for two hours while `/-/healthy` said 200; stepped ahead, it bunched or
skipped runs. This scheduler keeps each job's next run on `Clock.monotonic()`, so a step of the
wall clock changes nothing, and keeps APScheduler's behaviour where the daemon relied on it:
staggered first runs (`start_date`), one instance of a job at a time (a run due while the last
still runs is skipped), missed runs coalesced into one, `misfire_grace_time`, and a pool of threads
per `executor`. A run skipped (the last still running) or missed (later than its grace time)
is logged at DEBUG: these jobs are the 1 s tick, readiness and the cluster looks; the probes,
whose schedule is watched, run on their own loop (`remediator.probe.schedule`).

It does not import APScheduler (its import costs ~3 MiB of RSS: the package's version lookup
reads every installed distribution's metadata), which only maintenance windows' cron
expressions need.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from remediator.clock import Clock

log = logging.getLogger("remediator.runtime.daemon")


@dataclass
class Job:
    """One interval job: `func(*args)` every `interval` seconds, on pool `executor`."""

    id: str
    name: str
    func: Callable[..., object]
    args: Sequence[object]
    interval: float
    executor: str
    misfire_grace_time: float | None
    due: float  # the next run, on the monotonic clock
    scheduler: MonotonicScheduler = field(repr=False)
    running: bool = False

    def remove(self) -> None:
        """Stop running it (a run under way finishes)."""
        self.scheduler.remove_job(self.id)


class MonotonicScheduler:
    """Runs interval jobs on thread pools, timed by the monotonic clock."""

    def __init__(self, *, clock: Clock, executors: Mapping[str, int]) -> None:
        self._clock = clock
        self._sizes = dict(executors)
        # Threads start with the first job they run.
        self._pools = {
            pool: ThreadPoolExecutor(size, thread_name_prefix=f"jobs-{pool}")
            for pool, size in self._sizes.items()
        }
        self._jobs: dict[str, Job] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """Started and not shut down."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    # -- APScheduler's interface, the part the daemon uses ---------------------------------

    def add_job(  # noqa: PLR0913 - APScheduler's add_job, whose options are keywords
        self,
        func: Callable[..., object],
        trigger: str = "interval",
        *,
        seconds: float,
        id: str,
        args: Sequence[object] = (),
        name: str | None = None,
        start_date: datetime | None = None,
        misfire_grace_time: float | None = None,
        executor: str = "default",
        **_ignored: Any,  # coalesce, max_instances: always on here
    ) -> Job:
        """Run `func(*args)` every `seconds`, first at `start_date` (default: one interval on)."""
        assert trigger == "interval", "only interval jobs"
        if executor not in self._sizes:
            raise ValueError(f"no executor {executor!r}")
        now = self._clock.monotonic()
        # `start_date` was computed from the same clock's wall time a moment ago: only its
        # distance from now matters.
        first = seconds if start_date is None else start_date.timestamp() - self._clock.now()
        job = Job(
            id=id,
            name=name or id,
            func=func,
            args=tuple(args),
            interval=seconds,
            executor=executor,
            misfire_grace_time=misfire_grace_time,
            due=now + max(0.0, first),
            scheduler=self,
        )
        with self._wake:
            self._jobs[id] = job
            self._wake.notify()
        return job

    def get_jobs(self) -> list[Job]:
        """Every job."""
        with self._wake:
            return list(self._jobs.values())

    def remove_job(self, job_id: str) -> None:
        """Stop running `job_id`."""
        with self._wake:
            self._jobs.pop(job_id, None)

    def start(self) -> None:
        """Start the thread that submits due jobs."""
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def shutdown(self, wait: bool = True) -> None:
        """Submit nothing more; with `wait`, let the runs under way finish."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        for pool in self._pools.values():
            pool.shutdown(wait=wait, cancel_futures=True)

    # -- running ---------------------------------------------------------------------------

    def run_pending(self) -> float:
        """Submit the jobs that are due now; seconds until the next one is."""
        now = self._clock.monotonic()
        with self._wake:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.due > now:
                continue
            late = now - job.due
            # Missed runs are coalesced into this one (never a burst after a stall).
            job.due += job.interval * max(1, math.ceil(late / job.interval + 1e-9))
            if job.running:
                log.debug(f"run of job {job.name!r} skipped: the last one still runs")
            elif job.misfire_grace_time is not None and late > job.misfire_grace_time:
                log.debug(f"run of job {job.name!r} missed by {late:.1f}s")
            else:
                self._submit(job)
        with self._wake:
            return min((j.due for j in self._jobs.values()), default=now + 60.0) - now

    def _loop(self) -> None:
        while True:
            wait = self.run_pending()
            with self._wake:
                if self._stopping:
                    return
                # Condition.wait times out on the monotonic clock.
                self._wake.wait(max(0.0, min(wait, 60.0)))
                if self._stopping:
                    return

    def _submit(self, job: Job) -> None:
        pool = self._pools.get(job.executor)
        if pool is None or self._stopping:
            return
        job.running = True
        try:
            pool.submit(self._run, job)
        except RuntimeError:  # shut down meanwhile
            job.running = False

    def _run(self, job: Job) -> None:
        try:
            job.func(*job.args)
        except Exception:  # a job's bug is logged, and the job runs again next time
            log.exception(f"scheduled job {job.name!r} failed", extra={"event": "scheduler"})
        finally:
            job.running = False
