"""The simulated CDSS backend: clusters, their nodes, restarts and the admin's switches.

Time comes from the injected clock and every transition is computed lazily when the state
is read, so a `FakeClock` drives restarts without timers or sleeping.

Choices where NCP documents nothing (the backend refuses with HTTP 200, a non-zero `code` and
`result: null`, the shape the SPEC names as an action's failure; nothing is applied). A client
must not rely on these codes or messages:
- an unknown cluster number: `CODE_NO_SUCH_CLUSTER` — the gateway only knows operations and
  keys, it is the CDSS backend that knows clusters;
- any restart while the cluster is `changing` (a node `orange`): `CODE_BUSY` (CDSS runs one
  change at a time); on one that is `creating`, `deleting` or `return`: `CODE_BAD_STATE`
  (`error` may be restarted: that is how it gets fixed);
- restartCMAKService on a Kafka-UI cluster (while the operation still exists): `CODE_NO_CMAK`;
- a body that does not say what the operation needs: `CODE_BAD_REQUEST` (see `bodies`);
- rollingRestartPreCheck when a rolling restart is not possible: a message other than
  `SUCCESS` and `result: null` (as NCP documents), with `CODE_BUSY` while changing,
  `CODE_BAD_STATE`, or `CODE_PRECHECK_FAILED` when a broker is `red` or `gray` or ZooKeeper is
  not green. `set_precheck_refusal` makes it refuse with any message and code (0 included, to
  rehearse a client against a refusal that only its message tells). rollingRestart itself
  refuses in exactly the same cases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

from remediator.clock import Clock
from remediator.sandbox import nodes as nodes_
from remediator.sandbox import restarts
from remediator.sandbox.model import (
    CODE_BAD_REQUEST,
    CODE_BAD_STATE,
    CODE_BUSY,
    CODE_NO_CMAK,
    CODE_NO_SUCH_CLUSTER,
    CODE_OK,
    CODE_PRECHECK_FAILED,
    EXAMPLE_CLUSTERS,
    BackendResult,
    ClusterSnapshot,
    ClusterSpec,
    ClusterStatus,
    CmakRestart,
    ToolKind,
    ToolMode,
)
from remediator.sandbox.nodes import NodeFault, NodeRef, NodeSnapshot
from remediator.sandbox.operations import ACTIONS, RESTART_CMAK, RESTART_NODES, ROLLING
from remediator.sandbox.record import NOT_ACTIONABLE, ClusterRecord

__all__ = [
    "CMAK_WITHDRAWN_AT",
    "CODE_BAD_REQUEST",
    "CODE_BAD_STATE",
    "CODE_BUSY",
    "CODE_NO_CMAK",
    "CODE_NO_SUCH_CLUSTER",
    "CODE_OK",
    "CODE_PRECHECK_FAILED",
    "EXAMPLE_CLUSTERS",
    "BackendResult",
    "ClusterSnapshot",
    "ClusterSpec",
    "ClusterStatus",
    "Clusters",
    "CmakRestart",
    "ToolKind",
    "ToolMode",
]

# CDSS release note of 2026-09-17; dated in Korea time, where NCP publishes it.
CMAK_WITHDRAWN_AT = datetime(2026, 9, 17, tzinfo=timezone(timedelta(hours=9))).timestamp()


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def _non_negative(seconds: float, what: str) -> float:
    if seconds < 0:
        raise ValueError(f"{what} must not be negative")
    return seconds


class Clusters:
    """All clusters of one sandbox; thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        restart_delay: float,
        cmak_restart: CmakRestart,
        specs: Iterable[ClusterSpec],
        node_restart_delay: float | None = None,
    ) -> None:
        _check(cmak_restart, get_args(CmakRestart), "cmak_restart")
        self._clock = clock
        self.restart_delay = _non_negative(restart_delay, "restart_delay")
        self.node_restart_delay = _non_negative(
            restart_delay if node_restart_delay is None else node_restart_delay,
            "node_restart_delay",
        )
        self.cmak_restart = cmak_restart
        self._initial = tuple(specs)
        self._lock = threading.RLock()
        self._clusters: dict[str, ClusterRecord] = {}
        self._blocks: dict[str, int] = {}  # cluster number -> its block of node numbers
        self.reset()

    def reset(self) -> None:
        """Back to the clusters given at construction, all running, every part healthy."""
        with self._lock:
            self._clusters, self._blocks = {}, {}
            for spec in self._initial:
                self.add(spec)

    def add(self, spec: ClusterSpec) -> None:
        """Add (or replace) a cluster, running, every part healthy."""
        _check(spec.tool, get_args(ToolKind), "tool")
        nodes_.check_broker_count(spec.brokers)
        with self._lock:
            block = self._blocks.setdefault(spec.cluster_no, len(self._blocks))
            built = nodes_.build(spec.name, spec.brokers, block)
            self._clusters[spec.cluster_no] = ClusterRecord(spec, built, self._clock.now())

    def numbers(self) -> list[str]:
        """Every cluster number."""
        with self._lock:
            return list(self._clusters)

    def _get(self, cluster_no: str) -> ClusterRecord:
        try:
            c = self._clusters[cluster_no]
        except KeyError:
            raise KeyError(f"no cluster {cluster_no!r} in the sandbox") from None
        c.settle(self._clock.now())
        return c

    def _withdrawn(self, c: ClusterRecord | None) -> bool:
        setting = c.cmak_restart if c is not None and c.cmak_restart else self.cmak_restart
        if setting == "auto":
            return self._clock.now() >= CMAK_WITHDRAWN_AT
        return setting == "withdrawn"

    def cmak_restart_withdrawn(self, cluster_no: str) -> bool:
        """Whether restartCMAKService answers 404 for this cluster (or for an unknown one)."""
        with self._lock:
            return self._withdrawn(self._clusters.get(cluster_no))

    def snapshot(self, cluster_no: str) -> ClusterSnapshot:
        """The cluster as seen now; KeyError if unknown."""
        with self._lock:
            c = self._get(cluster_no)
            return c.view(self._clock.now(), "withdrawn" if self._withdrawn(c) else "available")

    def snapshots(self) -> list[ClusterSnapshot]:
        """Every cluster as seen now."""
        with self._lock:
            return [self.snapshot(no) for no in self._clusters]

    def spec(self, cluster_no: str) -> ClusterSpec:
        """The cluster as created; KeyError if unknown."""
        with self._lock:
            return self._get(cluster_no).spec

    # -- the backend's operations ------------------------------------------------------------

    def act(
        self, cluster_no: str, operation: str, node_numbers: Sequence[int] = ()
    ) -> BackendResult:
        """Run a restart (`node_numbers` for the per-node one), or refuse it with a code."""
        if operation not in ACTIONS:
            raise ValueError(f"{operation} is not an action")
        with self._lock:
            if cluster_no not in self._clusters:
                return no_such_cluster(cluster_no)
            c = self._get(cluster_no)
            now = self._clock.now()
            status = c.status
            if status == "changing":
                return BackendResult(
                    CODE_BUSY, f"cluster {cluster_no} is changing; wait until it is running", None
                )
            if status in NOT_ACTIONABLE:
                return BackendResult(
                    CODE_BAD_STATE, f"cluster {cluster_no} is {status}; it cannot restart", None
                )
            if operation == RESTART_CMAK and c.spec.tool != "cmak":
                return BackendResult(
                    CODE_NO_CMAK, f"cluster {cluster_no} has no CMAK (its tool is Kafka-UI)", None
                )
            brokers = c.brokers
            if operation == RESTART_NODES:
                by_no = {n.compute_instance_no: n for n in c.nodes}
                unknown = [no for no in node_numbers if no not in by_no]
                if not node_numbers or unknown:
                    what = unknown[0] if unknown else "none"
                    return BackendResult(
                        CODE_BAD_REQUEST, f"cluster {cluster_no} has no node {what}", None
                    )
                managers = [no for no in node_numbers if not by_no[no].is_broker]
                if managers:
                    return BackendResult(
                        CODE_BAD_REQUEST, f"node {managers[0]} is not a broker node", None
                    )
                brokers = [by_no[no] for no in node_numbers]
            if operation == ROLLING and (refusal := c.roll_refusal(now)) is not None:
                return BackendResult(refusal[0], refusal[1], None)
            c.restart = restarts.plan(
                operation,
                brokers,
                now,
                restart_delay=self.restart_delay,
                node_restart_delay=self.node_restart_delay,
            )
            c.forced, c.forced_until = None, None
            c.actions_applied += 1
            return BackendResult(CODE_OK, "SUCCESS", True, applied=True)

    def precheck(self, cluster_no: str) -> BackendResult:
        """rollingRestartPreCheck: `SUCCESS`/true, or the reason with `result: null`."""
        with self._lock:
            if cluster_no not in self._clusters:
                return no_such_cluster(cluster_no)
            refusal = self._get(cluster_no).roll_refusal(self._clock.now())
            if refusal is None:
                return BackendResult(CODE_OK, "SUCCESS", True)
            return BackendResult(refusal[0], refusal[1], None)

    # -- the admin's switches ----------------------------------------------------------------

    def set_tool(self, cluster_no: str, mode: ToolMode, hang_seconds: float | None = None) -> None:
        """Break (or fix, with "ok") the cluster's manager tool."""
        _check(mode, get_args(ToolMode), "mode")
        with self._lock:
            c = self._get(cluster_no)
            c.tool_mode = mode
            if hang_seconds is not None:
                c.hang_seconds = _non_negative(hang_seconds, "hang_seconds")

    def set_broker(
        self, cluster_no: str, node: NodeRef, status: str, persistent: bool = False
    ) -> NodeSnapshot:
        """Break the broker on one node (red, yellow, gray), or fix it (green)."""
        fault = NodeFault.of(status, persistent)
        with self._lock:
            target = nodes_.find(self._get(cluster_no).nodes, node)
            if not target.is_broker:
                raise ValueError(f"{target.host_name} is not a broker node")
            target.broker_fault = fault
            return self._node(cluster_no, target.compute_instance_no)

    def set_zookeeper(
        self,
        cluster_no: str,
        status: str,
        node: NodeRef | None = None,
        persistent: bool = False,
    ) -> None:
        """Break ZooKeeper on one of its nodes, or on all of them (`node` None); green fixes."""
        fault = NodeFault.of(status, persistent)
        with self._lock:
            c = self._get(cluster_no)
            targets = [n for n in c.nodes if n.zookeeper]
            if node is not None:
                target = nodes_.find(c.nodes, node)
                if not target.zookeeper:
                    raise ValueError(f"ZooKeeper does not run on {target.host_name}")
                targets = [target]
            for target in targets:
                target.zookeeper_fault = fault

    def set_precheck_refusal(
        self, cluster_no: str, message: str | None, code: int = CODE_PRECHECK_FAILED
    ) -> None:
        """Make rollingRestartPreCheck (and rollingRestart) refuse with `message`; None lifts it."""
        if message is not None and (not message or message == "SUCCESS"):
            raise ValueError("a refusal needs a message other than SUCCESS")
        with self._lock:
            self._get(cluster_no).precheck_refusal = None if message is None else (code, message)

    def nodes(self, cluster_no: str) -> list[NodeSnapshot]:
        """The cluster's nodes as seen now, the manager first; KeyError if unknown."""
        return list(self.snapshot(cluster_no).nodes)

    def _node(self, cluster_no: str, node_no: int) -> NodeSnapshot:
        return next(n for n in self.nodes(cluster_no) if n.compute_instance_no == node_no)

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
            c.restart = None
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


def no_such_cluster(cluster_no: str) -> BackendResult:
    """The refusal for a cluster number the backend does not know."""
    return BackendResult(
        CODE_NO_SUCH_CLUSTER, f"cluster {cluster_no} does not exist (serviceGroupInstanceNo)", None
    )
