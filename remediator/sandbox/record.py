"""One cluster's mutable record, and how it looks at a given time (colours, status, snapshot).

A restart in flight (`restarts.Restart`) and a forced status (`Sandbox.set_state`) exclude each
other: accepting a restart lifts the forced status, forcing a status cancels the restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from remediator.sandbox import nodes as nodes_
from remediator.sandbox.model import (
    CODE_BAD_STATE,
    CODE_BUSY,
    CODE_PRECHECK_FAILED,
    ClusterSnapshot,
    ClusterSpec,
    ClusterStatus,
    ToolMode,
)
from remediator.sandbox.nodes import Node, NodeSnapshot
from remediator.sandbox.operations import RESTART_ALL, RESTART_CMAK
from remediator.sandbox.restarts import Restart, settle

_COLOR: dict[str, str] = {
    "creating": "gray",
    "changing": "orange",
    "running": "green",
    "error": "red",
    "deleting": "gray",
    "return": "gray",
}
_TOOL_OFFLINE = frozenset({"changing", "creating", "deleting", "return"})
NOT_ACTIONABLE = frozenset({"creating", "deleting", "return"})
_HEALS: dict[str, frozenset[str]] = {
    RESTART_CMAK: frozenset({"cmak"}),
    RESTART_ALL: frozenset({"cmak", "kafka_ui"}),
}
_CANNOT_ROLL = frozenset({"red", "gray"})  # a broker down: rolling would take a second one


@dataclass
class ClusterRecord:
    """A cluster as the backend keeps it."""

    spec: ClusterSpec
    nodes: list[Node]
    created: float
    cmak_restart: Literal["available", "withdrawn"] | None = None
    tool_mode: ToolMode = "ok"
    hang_seconds: float = 30.0
    restart: Restart | None = None
    forced: ClusterStatus | None = None
    forced_until: float | None = None
    actions_applied: int = 0
    tool_requests: int = 0
    precheck_refusal: tuple[int, str] | None = None  # (code, message) set by the admin
    _brokers: list[Node] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._brokers = sorted((n for n in self.nodes if n.is_broker), key=lambda n: n.host_name)

    @property
    def brokers(self) -> list[Node]:
        """The broker nodes, in hostname order."""
        return list(self._brokers)

    def settle(self, now: float) -> None:
        """Apply what the clock has done since the last look: restarts ending, forcing expiring."""
        if self.restart is not None and settle(self.restart, self.nodes, now):
            if self.spec.tool in _HEALS.get(self.restart.operation, frozenset()):
                self.tool_mode = "ok"
            self.restart = None
        if self.forced_until is not None and now >= self.forced_until:
            self.forced, self.forced_until = None, None

    @property
    def status(self) -> ClusterStatus:
        """The lifecycle status `getClusterInfoList` reports."""
        if self.restart is not None:
            return "changing"
        return self.forced or "running"

    def broker_color(self, node: Node, now: float) -> str:
        """That broker's status colour at `now`."""
        if self.restart is not None:
            if self.restart.broker_down(node.compute_instance_no, now):
                return "orange"
        elif self.forced is not None:
            return _COLOR[self.forced]
        return node.broker_fault.status if node.broker_fault else "green"

    def zookeeper_color(self, node: Node, now: float) -> str:
        """The colour of ZooKeeper on that node at `now`."""
        if self.restart is not None:
            if self.restart.zookeeper_down(now):
                return "orange"
        elif self.forced is not None:
            return _COLOR[self.forced]
        return node.zookeeper_fault.status if node.zookeeper_fault else "green"

    def tool_color(self, now: float) -> str:
        """The manager tool's colour (`cmakStatus`) at `now`."""
        if self.restart is not None:
            if self.restart.tool_down(now):
                return "orange"
        elif self.forced is not None:
            return _COLOR[self.forced]
        return "red" if self.tool_mode == "down" else "green"

    def tool_offline(self) -> bool:
        """Whether the manager tool is unreachable whatever its mode (restarting, or no cluster)."""
        if self.restart is not None:
            return self.restart.tool_offline
        return self.forced in _TOOL_OFFLINE

    def roll_refusal(self, now: float) -> tuple[int, str] | None:
        """Why a rolling restart is not possible now (code, message), or None if it is."""
        no = self.spec.cluster_no
        status = self.status
        if status == "changing":
            return CODE_BUSY, f"cluster {no} is changing; wait until it is running"
        if status in NOT_ACTIONABLE:
            return CODE_BAD_STATE, f"cluster {no} is {status}; it cannot restart"
        if self.precheck_refusal is not None:
            return self.precheck_refusal
        for node in self._brokers:
            color = self.broker_color(node, now)
            if color in _CANNOT_ROLL:
                return CODE_PRECHECK_FAILED, (
                    f"broker {node.host_name} is {color}: a rolling restart would take "
                    "a second broker down"
                )
        for node in self.nodes:
            if node.zookeeper and (color := self.zookeeper_color(node, now)) != "green":
                return CODE_PRECHECK_FAILED, f"ZooKeeper on {node.host_name} is {color}"
        return None

    def _node_view(self, node: Node, now: float) -> NodeSnapshot:
        window = None
        if self.restart is not None:
            window = self.restart.brokers.get(node.compute_instance_no)
        broker, zk = node.broker_fault, node.zookeeper_fault
        return NodeSnapshot(
            compute_instance_no=node.compute_instance_no,
            host_name=node.host_name,
            private_ip=node.private_ip,
            role=node.role,
            broker_status=self.broker_color(node, now) if node.is_broker else None,
            zookeeper_status=self.zookeeper_color(node, now) if node.zookeeper else None,
            broker_fault=broker.status if broker else None,
            broker_fault_persistent=bool(broker and broker.persistent),
            zookeeper_fault=zk.status if zk else None,
            zookeeper_fault_persistent=bool(zk and zk.persistent),
            restart_window=window,
        )

    def view(self, now: float, cmak_restart: Literal["available", "withdrawn"]) -> ClusterSnapshot:
        """The cluster as seen at `now` (call `settle(now)` first)."""
        views = tuple(self._node_view(n, now) for n in self.nodes)
        brokers = [v.broker_status for v in views if v.broker_status is not None]
        zookeepers = [v.zookeeper_status for v in views if v.zookeeper_status is not None]
        until = self.restart.until if self.restart is not None else None
        if until is None and self.status == "changing":
            until = self.forced_until
        return ClusterSnapshot(
            cluster_no=self.spec.cluster_no,
            name=self.spec.name,
            tool=self.spec.tool,
            brokers=self.spec.brokers,
            status=self.status,
            broker_status=nodes_.aggregate(brokers),
            zookeeper_status=nodes_.aggregate(zookeepers),
            cmak_status=self.tool_color(now) if self.spec.tool == "cmak" else None,
            tool_mode=self.tool_mode,
            tool_effective_mode="down" if self.tool_offline() else self.tool_mode,
            hang_seconds=self.hang_seconds,
            restarting=self.restart.operation if self.restart is not None else None,
            changing_until=until,
            cmak_restart=cmak_restart,
            cmak_basic_auth=self.spec.cmak_basic_auth is not None,
            actions_applied=self.actions_applied,
            tool_requests=self.tool_requests,
            nodes=views,
            precheck_refusal=self.precheck_refusal[1] if self.precheck_refusal else None,
            created=self.created,
        )
