"""A cluster's nodes: one manager and N brokers, their identities, faults and status colours.

Identities follow `fixtures/ncp/cluster-node-list.json`: the n-th cluster a sandbox creates gets
the block of node numbers from 145022760 + 100·n, its manager the first (`<name>-manager-001`,
10.n.1.6) and its brokers from the 18th (`<name>-broker-001`, 10.n.2.7, ...), so the first
cluster's nodes are exactly the fixture's. The numbers and addresses are illustrative, and so
are the role codes `MANAGER` and `BROKER`: NCP does not document them, and a client must work
from the hostnames in `getClusterStatus` instead (SPEC §2). ZooKeeper runs on the first three
brokers.

How per-node colours add up to the cluster's `brokerStatus` and `zookeeperStatus` is not
documented either; the sandbox's rule: any `orange` → orange; all alike → that colour; some
`green` or `yellow` left → yellow (one broker red of three is yellow, as in
`fixtures/ncp/cluster-status-broker-red.json`); else red.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["MANAGER", "BROKER"]
FaultStatus = Literal["red", "yellow", "gray"]
NodeRef = int | str  # a computeInstanceNo or a hostname

FIRST_NODE_NO = 145022760
NODE_BLOCK = 100  # node numbers per cluster
FIRST_BROKER_OFFSET = 17
ZOOKEEPER_NODES = 3
MIN_BROKERS, MAX_BROKERS = 3, 64
UP = frozenset({"green", "yellow"})  # a node counted in brokerNumber / zookeeperNumber


@dataclass(frozen=True)
class NodeFault:
    """A broken broker or ZooKeeper; a restart of it clears the fault unless it is persistent."""

    status: FaultStatus
    persistent: bool = False

    @classmethod
    def of(cls, status: str, persistent: bool) -> NodeFault | None:
        """The fault for an admin status (`green` is none); ValueError for an unknown one."""
        if status == "green":
            return None
        allowed = (*get_args(FaultStatus), "green")
        if status not in allowed:
            raise ValueError(f"status must be one of {', '.join(allowed)}, not {status!r}")
        return cls(status, bool(persistent))  # type: ignore[arg-type]


@dataclass
class Node:
    """One node of a cluster, as it is now (faults change; identity does not)."""

    compute_instance_no: int
    host_name: str
    private_ip: str
    role: Role
    zookeeper: bool
    broker_fault: NodeFault | None = None
    zookeeper_fault: NodeFault | None = None

    @property
    def is_broker(self) -> bool:
        """Whether Kafka runs here."""
        return self.role == "BROKER"


@dataclass(frozen=True)
class NodeSnapshot:
    """A node as seen now; `broker_status`/`zookeeper_status` are None where it runs none."""

    compute_instance_no: int
    host_name: str
    private_ip: str
    role: Role
    broker_status: str | None
    zookeeper_status: str | None
    broker_fault: str | None
    broker_fault_persistent: bool
    zookeeper_fault: str | None
    zookeeper_fault_persistent: bool
    restart_window: tuple[float, float] | None  # this broker's restart, if one is scheduled


def check_broker_count(brokers: int) -> None:
    """ValueError unless the count is one a CDSS cluster may have (here 3 to 64)."""
    if not MIN_BROKERS <= brokers <= MAX_BROKERS:
        raise ValueError(
            f"a cluster has {MIN_BROKERS} to {MAX_BROKERS} brokers in the sandbox, not {brokers}"
        )


def build(name: str, brokers: int, block: int) -> list[Node]:
    """The manager and `brokers` brokers of the `block`-th cluster, all healthy."""
    check_broker_count(brokers)
    base = FIRST_NODE_NO + block * NODE_BLOCK
    net = block % 256
    nodes = [Node(base, f"{name}-manager-001", f"10.{net}.1.6", "MANAGER", zookeeper=False)]
    for i in range(brokers):
        nodes.append(
            Node(
                base + FIRST_BROKER_OFFSET + i,
                f"{name}-broker-{i + 1:03d}",
                f"10.{net}.2.{7 + i}",
                "BROKER",
                zookeeper=i < ZOOKEEPER_NODES,
            )
        )
    return nodes


def find(nodes: Iterable[Node], ref: NodeRef) -> Node:
    """The node with that `computeInstanceNo` or hostname (any case); KeyError if none."""
    for node in nodes:
        if node.compute_instance_no == ref or (
            isinstance(ref, str) and node.host_name.lower() == ref.lower()
        ):
            return node
    raise KeyError(f"no node {ref!r} in this cluster")


def aggregate(colors: list[str]) -> str:
    """The cluster-wide colour of per-node colours (the sandbox's rule; see the module)."""
    if "orange" in colors:
        return "orange"
    if len(set(colors)) == 1:
        return colors[0]
    if any(c in UP for c in colors):
        return "yellow"
    return "red"
