"""Which broker nodes a per-node restart may touch: unhealthy brokers joined to the node list.

Pure: getClusterStatus names brokers by `brokerStatusPerNode[].hostname`, getClusterNodeList
gives each node's `computeInstanceNo` under `hostName`; the join is by hostname, ignoring case.
Node role codes are not documented, so the join works from the status's broker hostnames only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from remediator.ncp.results import ClusterNode, ClusterStatus

UNHEALTHY_COLORS = frozenset({"red", "yellow", "gray"})
"""Broker colors a per-node restart is for; `green` is healthy and `orange` is changing."""


@dataclass(frozen=True)
class UnhealthyBrokers:
    """The join's answer: nodes to restart, and unhealthy hostnames no single node matched."""

    matched: tuple[ClusterNode, ...]
    unmatched: tuple[str, ...]

    @property
    def compute_instance_nos(self) -> tuple[int, ...]:
        """The `computeInstanceNoList` of restartKafkaServicePerNode."""
        return tuple(node.compute_instance_no for node in self.matched)

    def describe(self) -> str:
        """The nodes, and what did not match, in words for a log line or a decision reason."""
        if not self.matched and not self.unmatched:
            return "no broker is red, yellow or gray"
        parts = [f"{n.host_name} ({n.compute_instance_no})" for n in self.matched]
        text = "unhealthy brokers: " + (", ".join(parts) if parts else "none matched")
        if self.unmatched:
            text += "; no single node in the node list for " + ", ".join(self.unmatched)
        return text


def unhealthy_brokers(status: ClusterStatus, nodes: Sequence[ClusterNode]) -> UnhealthyBrokers:
    """The nodes of the brokers that `status` shows red, yellow or gray, never a green one.

    A hostname that no node has, or that several nodes share (ignoring case), is `unmatched`:
    restarting a guessed node could restart a healthy broker.
    """
    by_name: dict[str, list[ClusterNode]] = {}
    for node in nodes:
        by_name.setdefault(_key(node.host_name), []).append(node)
    matched: list[ClusterNode] = []
    unmatched: list[str] = []
    seen: set[str] = set()
    for broker in status.broker_nodes:
        key = _key(broker.hostname)
        if broker.status not in UNHEALTHY_COLORS or key in seen:
            continue
        seen.add(key)
        candidates = by_name.get(key, [])
        if len(candidates) == 1:
            matched.append(candidates[0])
        else:
            unmatched.append(broker.hostname)
    return UnhealthyBrokers(tuple(matched), tuple(unmatched))


def _key(hostname: str) -> str:
    return hostname.strip().casefold()
