"""The simulated CDSS backend: clusters, their status, restarts and manager-tool health.

Time comes from the injected clock and every transition is computed lazily when the state
is read, so a `FakeClock` drives restarts without timers or sleeping.

Choices where the SPEC is silent (the backend refuses with a 200 envelope whose `code` is
non-zero, the shape the SPEC names as an action's failure; nothing is applied):
- an unknown cluster number: `CODE_NO_SUCH_CLUSTER` — the gateway only knows operations and
  keys, it is the CDSS backend that knows clusters;
- an action on a cluster that is `changing`: `CODE_BUSY` (CDSS runs one change at a time);
  on one that is `creating`, `deleting` or `return`: `CODE_BAD_STATE` (`error` may be
  restarted: that is how it gets fixed);
- restartCMAKService on a Kafka-UI cluster (while the operation still exists): `CODE_NO_CMAK`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

from remediator.clock import Clock

ToolKind = Literal["cmak", "kafka_ui"]
ToolMode = Literal["ok", "down", "error", "hang", "wrong_body"]
ClusterStatus = Literal["creating", "changing", "running", "error", "deleting", "return"]
CmakRestart = Literal["auto", "available", "withdrawn"]

RESTART_CMAK = "restartCMAKService"
RESTART_ALL = "restartAllServices"
RESTART_KAFKA = "restartKafkaService"
GET_STATUS = "getClusterStatus"
GET_INFO = "getClusterInfoList"
OPERATIONS: dict[str, str] = {
    RESTART_CMAK: "GET",
    RESTART_ALL: "GET",
    RESTART_KAFKA: "GET",
    GET_STATUS: "GET",
    GET_INFO: "POST",
}
ACTIONS = frozenset({RESTART_CMAK, RESTART_ALL, RESTART_KAFKA})

# CDSS release note of 2026-09-17; dated in Korea time, where NCP publishes it.
CMAK_WITHDRAWN_AT = datetime(2026, 9, 17, tzinfo=timezone(timedelta(hours=9))).timestamp()

CODE_OK = 0
CODE_NO_SUCH_CLUSTER = 11001
CODE_BUSY = 11002
CODE_BAD_STATE = 11003
CODE_NO_CMAK = 11004

_COLOR: dict[str, str] = {
    "creating": "gray",
    "changing": "orange",
    "running": "green",
    "error": "red",
    "deleting": "gray",
    "return": "gray",
}
_TOOL_OFFLINE = frozenset({"changing", "creating", "deleting", "return"})
_NOT_ACTIONABLE = frozenset({"creating", "deleting", "return"})
_HEALS: dict[str, frozenset[str]] = {
    RESTART_CMAK: frozenset({"cmak"}),
    RESTART_ALL: frozenset({"cmak", "kafka_ui"}),
    RESTART_KAFKA: frozenset(),
}


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster as created: number, name, manager tool, broker count, optional CMAK auth."""

    cluster_no: str
    name: str
    tool: ToolKind = "cmak"
    brokers: int = 3
    cmak_basic_auth: tuple[str, str] | None = None


EXAMPLE_CLUSTERS = (
    ClusterSpec("1484848", "orders", "cmak"),
    ClusterSpec("1484849", "payments", "kafka_ui"),
    ClusterSpec("1484850", "analytics", "cmak"),
)


@dataclass(frozen=True)
class ClusterSnapshot:
    """A cluster as seen now."""

    cluster_no: str
    name: str
    tool: ToolKind
    brokers: int
    status: ClusterStatus
    broker_status: str
    zookeeper_status: str
    cmak_status: str | None  # None on Kafka-UI clusters
    tool_mode: ToolMode  # as set (break_tool / fix_tool)
    tool_effective_mode: ToolMode  # what a request meets now ("down" while changing)
    hang_seconds: float
    restarting: str | None  # the operation in progress
    changing_until: float | None
    cmak_restart: Literal["available", "withdrawn"]
    cmak_basic_auth: bool
    actions_applied: int
    tool_requests: int


@dataclass(frozen=True)
class BackendResult:
    """What the backend answers inside the envelope, and whether the cluster changed."""

    code: int
    message: str
    result: object
    applied: bool = False


@dataclass
class _Cluster:
    spec: ClusterSpec
    cmak_restart: Literal["available", "withdrawn"] | None = None
    tool_mode: ToolMode = "ok"
    hang_seconds: float = 30.0
    restart_op: str | None = None
    restart_until: float = 0.0
    forced: ClusterStatus | None = None
    forced_until: float | None = None
    actions_applied: int = 0
    tool_requests: int = 0


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


class Clusters:
    """All clusters of one sandbox; thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        restart_delay: float,
        cmak_restart: CmakRestart,
        specs: Iterable[ClusterSpec],
    ) -> None:
        if restart_delay < 0:
            raise ValueError("restart_delay must not be negative")
        _check(cmak_restart, get_args(CmakRestart), "cmak_restart")
        self._clock = clock
        self.restart_delay = restart_delay
        self.cmak_restart = cmak_restart
        self._initial = tuple(specs)
        self._lock = threading.RLock()
        self._clusters: dict[str, _Cluster] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the clusters given at construction, all running, tools healthy."""
        with self._lock:
            self._clusters = {s.cluster_no: _Cluster(s) for s in self._initial}

    def add(self, spec: ClusterSpec) -> None:
        """Add (or replace) a cluster, running with a healthy tool."""
        _check(spec.tool, get_args(ToolKind), "tool")
        if spec.brokers < 1:
            raise ValueError("a cluster has at least one broker")
        with self._lock:
            self._clusters[spec.cluster_no] = _Cluster(spec)

    def numbers(self) -> list[str]:
        """Every cluster number."""
        with self._lock:
            return list(self._clusters)

    def _get(self, cluster_no: str) -> _Cluster:
        try:
            c = self._clusters[cluster_no]
        except KeyError:
            raise KeyError(f"no cluster {cluster_no!r} in the sandbox") from None
        now = self._clock.now()
        if c.restart_op is not None and now >= c.restart_until:
            if c.spec.tool in _HEALS[c.restart_op]:
                c.tool_mode = "ok"
            c.restart_op = None
        if c.forced_until is not None and now >= c.forced_until:
            c.forced, c.forced_until = None, None
        return c

    @staticmethod
    def _status(c: _Cluster) -> ClusterStatus:
        if c.restart_op is not None:
            return "changing"
        return c.forced or "running"

    def _withdrawn(self, c: _Cluster | None) -> bool:
        setting = c.cmak_restart if c is not None and c.cmak_restart else self.cmak_restart
        if setting == "auto":
            return self._clock.now() >= CMAK_WITHDRAWN_AT
        return setting == "withdrawn"

    def cmak_restart_withdrawn(self, cluster_no: str) -> bool:
        """Whether restartCMAKService answers 404 for this cluster (or for an unknown one)."""
        with self._lock:
            return self._withdrawn(self._clusters.get(cluster_no))

    def _colors(self, c: _Cluster) -> tuple[str, str, str]:
        """(broker, zookeeper, cmak) status colors."""
        tool_color = "red" if c.tool_mode == "down" else "green"
        if c.restart_op == RESTART_ALL:
            return "orange", "orange", "orange"
        if c.restart_op == RESTART_KAFKA:
            return "orange", "green", tool_color
        if c.restart_op == RESTART_CMAK:
            return "green", "green", "orange"
        status = self._status(c)
        color = _COLOR[status]
        return color, color, tool_color if status == "running" else color

    def snapshot(self, cluster_no: str) -> ClusterSnapshot:
        """The cluster as seen now; KeyError if unknown."""
        with self._lock:
            c = self._get(cluster_no)
            status = self._status(c)
            broker, zookeeper, cmak = self._colors(c)
            until = c.restart_until if c.restart_op is not None else None
            if until is None and status == "changing":
                until = c.forced_until
            return ClusterSnapshot(
                cluster_no=c.spec.cluster_no,
                name=c.spec.name,
                tool=c.spec.tool,
                brokers=c.spec.brokers,
                status=status,
                broker_status=broker,
                zookeeper_status=zookeeper,
                cmak_status=cmak if c.spec.tool == "cmak" else None,
                tool_mode=c.tool_mode,
                tool_effective_mode="down" if status in _TOOL_OFFLINE else c.tool_mode,
                hang_seconds=c.hang_seconds,
                restarting=c.restart_op,
                changing_until=until,
                cmak_restart="withdrawn" if self._withdrawn(c) else "available",
                cmak_basic_auth=c.spec.cmak_basic_auth is not None,
                actions_applied=c.actions_applied,
                tool_requests=c.tool_requests,
            )

    def snapshots(self) -> list[ClusterSnapshot]:
        """Every cluster as seen now."""
        with self._lock:
            return [self.snapshot(no) for no in self._clusters]

    def spec(self, cluster_no: str) -> ClusterSpec:
        """The cluster as created; KeyError if unknown."""
        with self._lock:
            return self._get(cluster_no).spec

    def act(self, cluster_no: str, operation: str) -> BackendResult:
        """Run a restart operation, or refuse it with a non-zero code."""
        if operation not in ACTIONS:
            raise ValueError(f"{operation} is not an action")
        with self._lock:
            if cluster_no not in self._clusters:
                return _no_such_cluster(cluster_no)
            c = self._get(cluster_no)
            status = self._status(c)
            if status == "changing":
                return BackendResult(
                    CODE_BUSY,
                    f"cluster {cluster_no} is changing; wait until it is running",
                    None,
                )
            if status in _NOT_ACTIONABLE:
                return BackendResult(
                    CODE_BAD_STATE, f"cluster {cluster_no} is {status}; it cannot restart", None
                )
            if operation == RESTART_CMAK and c.spec.tool != "cmak":
                return BackendResult(
                    CODE_NO_CMAK, f"cluster {cluster_no} has no CMAK (its tool is Kafka-UI)", None
                )
            c.restart_op = operation
            c.restart_until = self._clock.now() + self.restart_delay
            c.forced, c.forced_until = None, None
            c.actions_applied += 1
            return BackendResult(CODE_OK, "SUCCESS", True, applied=True)

    def cluster_status(self, cluster_no: str) -> BackendResult:
        """The `getClusterStatus` result (shape of fixtures/ncp/cluster-status-green.json)."""
        with self._lock:
            if cluster_no not in self._clusters:
                return _no_such_cluster(cluster_no)
            c = self._get(cluster_no)
            broker, zookeeper, cmak = self._colors(c)
            hosts = [f"{c.spec.name}-broker-{i:03d}" for i in range(1, c.spec.brokers + 1)]
            zk_hosts = hosts[:3]  # ZooKeeper runs on the first three broker nodes
            result: dict[str, object] = {
                "clusterName": c.spec.name,
                "brokerNodeTotalNumber": len(hosts),
                "brokerNumber": len(hosts),
                "brokerStatus": broker,
                "brokerStatusPerNode": [{"hostname": h, "status": broker} for h in hosts],
                "zookeeperTotalNumber": len(zk_hosts),
                "zookeeperNumber": len(zk_hosts),
                "zookeeperStatus": zookeeper,
                "zookeeperStatusPerNode": [{"hostname": h, "status": zookeeper} for h in zk_hosts],
            }
            if c.spec.tool == "cmak":
                result["cmakStatus"] = cmak
            return BackendResult(CODE_OK, "SUCCESS", result)

    def cluster_info(self, cluster_no: str) -> BackendResult:
        """The `getClusterInfoList/{no}` result: status, clusterName, serviceGroupInstanceNo."""
        with self._lock:
            if cluster_no not in self._clusters:
                return _no_such_cluster(cluster_no)
            c = self._get(cluster_no)
            result = {
                "serviceGroupInstanceNo": cluster_no,
                "clusterName": c.spec.name,
                "status": self._status(c),
            }
            return BackendResult(CODE_OK, "SUCCESS", result)

    def set_tool(self, cluster_no: str, mode: ToolMode, hang_seconds: float | None = None) -> None:
        """Break (or fix, with "ok") the cluster's manager tool."""
        _check(mode, get_args(ToolMode), "mode")
        with self._lock:
            c = self._get(cluster_no)
            c.tool_mode = mode
            if hang_seconds is not None:
                if hang_seconds < 0:
                    raise ValueError("hang_seconds must not be negative")
                c.hang_seconds = hang_seconds

    def set_cmak_restart(
        self, cluster_no: str, value: Literal["available", "withdrawn"] | None
    ) -> None:
        """Whether restartCMAKService exists for this cluster; None follows the sandbox."""
        if value is not None:
            _check(value, ("available", "withdrawn"), "cmak_restart")
        with self._lock:
            self._get(cluster_no).cmak_restart = value

    def set_state(
        self, cluster_no: str, status: ClusterStatus, for_seconds: float | None = None
    ) -> None:
        """Force a status (for `for_seconds`, or until changed); cancels a restart in flight."""
        _check(status, get_args(ClusterStatus), "state")
        with self._lock:
            c = self._get(cluster_no)
            c.restart_op = None
            if status == "running":
                c.forced, c.forced_until = None, None
                return
            c.forced = status
            c.forced_until = None if for_seconds is None else self._clock.now() + for_seconds

    def count_tool_request(self, cluster_no: str) -> None:
        """Count one request to the cluster's manager tool."""
        with self._lock:
            self._get(cluster_no).tool_requests += 1

    def tool_view(self, cluster_no: str) -> ClusterSnapshot | None:
        """The snapshot a tool request is answered from, or None for an unknown cluster."""
        with self._lock:
            if cluster_no not in self._clusters:
                return None
            return self.snapshot(cluster_no)


def _no_such_cluster(cluster_no: str) -> BackendResult:
    return BackendResult(
        CODE_NO_SUCH_CLUSTER, f"cluster {cluster_no} does not exist (serviceGroupInstanceNo)", None
    )
