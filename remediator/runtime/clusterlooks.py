"""The cluster's own status as looks at targets: on schedule for targets with
`cluster_health:`, and the progress of each rolling restart being verified (SPEC section 9)."""

from __future__ import annotations

from remediator.clock import Clock
from remediator.config.health import ClusterCheck
from remediator.core.events import ProbeResult
from remediator.errors import NcpError
from remediator.probe import cluster as cluster_look
from remediator.runtime.driver import Driver
from remediator.runtime.probelog import say_look

# How often a rolling restart's progress is polled for a target with no cluster look of its own.
PROGRESS = 10.0


class ClusterLooks:
    """Reads cluster status with the driver's single-attempt client and feeds the looks."""

    def __init__(self, driver: Driver, clock: Clock) -> None:
        self.driver, self.clock = driver, clock
        # Targets with a scheduled look, and when each rolling restart's progress was polled.
        self.scheduled: frozenset[str] = frozenset()
        self._progress_at: dict[str, float] = {}

    def look_and_feed(self, check: ClusterCheck) -> None:
        """The scheduled look of one target; during a rolling restart, NCP's progress check
        (the same shape as getClusterStatus)."""
        ts = self.driver.engine.targets.get(check.target)
        flight = ts.in_flight if ts is not None else None
        rolling = flight is not None and flight.action == "rolling_restart"
        self.driver.feed(self.look(check.target, check.cluster_no, check.region, rolling=rolling))

    def watch_rolling(self) -> None:
        """Poll the progress of each rolling restart being verified on a target without a
        scheduled look, so that its brokers' return to green is seen (called every tick)."""
        now = self.clock.now()
        for name, ts in list(self.driver.engine.targets.items()):
            flight = ts.in_flight
            if flight is None or flight.action != "rolling_restart" or name in self.scheduled:
                continue
            if flight.phase != "verifying" or now - self._progress_at.get(name, 0.0) < PROGRESS:
                continue
            self._progress_at[name] = now
            ref = self.driver.engine.policy.target(name)
            if ref is not None:
                region = self.driver.regions.get(name)
                self.driver.submit(_Poll(self, name, ref.cluster_no, region))

    def look(
        self, target: str, cluster_no: str, region: str | None, *, rolling: bool
    ) -> ProbeResult:
        """One look at `target`'s cluster: a signed, single-attempt read."""
        start = self.clock.monotonic()
        client = self.driver.path_client
        try:
            if rolling:
                status = client.rolling_restart_progress(cluster_no, region=region)
            else:
                status = self.driver.cluster_status(client, cluster_no, region)
        except NcpError as exc:
            took = self.clock.monotonic() - start
            return cluster_look.unreadable(target, exc, self.clock.now(), took)
        took = self.clock.monotonic() - start
        return say_look(cluster_look.look(target, status, self.clock.now(), took))


class _Poll:
    """A rolling restart's progress read, as work for the actions executor."""

    def __init__(self, looks: ClusterLooks, target: str, cluster_no: str, region: str | None):
        self.looks, self.target, self.cluster_no, self.region = looks, target, cluster_no, region

    def __call__(self) -> None:
        result = self.looks.look(self.target, self.cluster_no, self.region, rolling=True)
        self.looks.driver.feed(result)
