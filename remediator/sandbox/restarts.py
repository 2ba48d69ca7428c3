"""A restart in flight: which component of which node is down (orange) when, and what it heals.

Every restart is a schedule fixed when it is accepted, in the sandbox clock's seconds:
- restartAllServices: every broker, ZooKeeper and the manager tool, for `restart_delay`;
- restartKafkaService: every broker at once, for `restart_delay`;
- restartCMAKService: the manager tool, for `restart_delay`;
- restartKafkaServicePerNode: the named brokers at once, for `node_restart_delay`;
- rollingRestart: one broker after another in hostname order, `node_restart_delay` each.
A broker whose window has ended is green again (its fault cleared unless persistent, even a
fault set while it restarted); the cluster stays `changing` until the last window ends. The
cluster-wide restarts take the manager tool offline while they run; the per-node and rolling
ones leave the manager node alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from remediator.sandbox.nodes import Node
from remediator.sandbox.operations import (
    RESTART_ALL,
    RESTART_CMAK,
    RESTART_KAFKA,
    RESTART_NODES,
    ROLLING,
)

Window = tuple[float, float]  # [start, end) in sandbox-clock seconds


@dataclass
class Restart:
    """One accepted restart; broker windows are dropped as they are settled."""

    operation: str
    until: float
    brokers: dict[int, Window] = field(default_factory=dict)
    zookeeper: Window | None = None
    tool: Window | None = None
    tool_offline: bool = False

    def broker_down(self, node_no: int, now: float) -> bool:
        """Whether that broker is restarting (orange) at `now`."""
        window = self.brokers.get(node_no)
        return window is not None and window[0] <= now < window[1]

    def zookeeper_down(self, now: float) -> bool:
        """Whether ZooKeeper is restarting at `now`."""
        return self.zookeeper is not None and self.zookeeper[0] <= now < self.zookeeper[1]

    def tool_down(self, now: float) -> bool:
        """Whether the manager tool is restarting at `now`."""
        return self.tool is not None and self.tool[0] <= now < self.tool[1]


def plan(
    operation: str,
    brokers: Sequence[Node],
    now: float,
    *,
    restart_delay: float,
    node_restart_delay: float,
) -> Restart:
    """The schedule of `operation` started at `now` on `brokers` (the ones it restarts)."""
    numbers = [b.compute_instance_no for b in brokers]
    whole: Window = (now, now + restart_delay)
    if operation == RESTART_ALL:
        return Restart(
            operation,
            whole[1],
            dict.fromkeys(numbers, whole),
            zookeeper=whole,
            tool=whole,
            tool_offline=True,
        )
    if operation == RESTART_KAFKA:
        return Restart(operation, whole[1], dict.fromkeys(numbers, whole), tool_offline=True)
    if operation == RESTART_CMAK:
        return Restart(operation, whole[1], tool=whole, tool_offline=True)
    if operation == RESTART_NODES:
        end = now + node_restart_delay
        return Restart(operation, end, dict.fromkeys(numbers, (now, end)))
    if operation == ROLLING:
        ordered = sorted(brokers, key=lambda b: b.host_name)
        step = node_restart_delay
        windows = {
            b.compute_instance_no: (now + i * step, now + (i + 1) * step)
            for i, b in enumerate(ordered)
        }
        return Restart(operation, now + len(ordered) * step, windows)
    raise ValueError(f"{operation} is not a restart")


def settle(restart: Restart, nodes: Sequence[Node], now: float) -> bool:
    """Apply every window ended by `now` to the nodes; True when the whole restart is over."""
    by_no = {n.compute_instance_no: n for n in nodes}
    for node_no, (_, end) in list(restart.brokers.items()):
        if now >= end:
            node = by_no[node_no]
            if node.broker_fault is not None and not node.broker_fault.persistent:
                node.broker_fault = None
            del restart.brokers[node_no]
    if restart.zookeeper is not None and now >= restart.zookeeper[1]:
        for node in nodes:
            if node.zookeeper_fault is not None and not node.zookeeper_fault.persistent:
                node.zookeeper_fault = None
        restart.zookeeper = None
    return now >= restart.until
