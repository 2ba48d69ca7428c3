"""The cluster's own status as a look at a target (SPEC section 9, "Cluster health as evidence").

getClusterStatus — or, while a rolling restart runs, rollingRestartProgressCheck, which answers
the same shape — becomes a `ProbeResult(check="cluster")`: failing when `brokerStatus` or
`zookeeperStatus` is red, yellow or gray, or any per-node item is; inconclusive (neither healthy
nor failing) while anything is orange, or when the status could not be read.
"""

from __future__ import annotations

from remediator.core.events import ProbeResult
from remediator.errors import NcpError
from remediator.ncp.results import ClusterStatus

UNHEALTHY = frozenset({"red", "yellow", "gray"})


def look(target: str, status: ClusterStatus, at: float, duration: float = 0.0) -> ProbeResult:
    """What `status` says of the target's cluster."""
    if status.busy:
        return ProbeResult(
            target, False, f"changing ({summary(status)})", at, duration, "cluster", True
        )
    bad = [f"broker {status.broker_status}"] if status.broker_status in UNHEALTHY else []
    if status.zookeeper_status in UNHEALTHY:
        bad.append(f"zookeeper {status.zookeeper_status}")
    bad += [f"broker {n.hostname} {n.status}" for n in status.broker_nodes if n.status in UNHEALTHY]
    bad += [
        f"zookeeper {n.hostname} {n.status}"
        for n in status.zookeeper_nodes
        if n.status in UNHEALTHY
    ]
    if bad:
        return ProbeResult(target, False, "; ".join(bad), at, duration, "cluster")
    return ProbeResult(target, True, summary(status), at, duration, "cluster")


def unreadable(target: str, exc: NcpError, at: float, duration: float = 0.0) -> ProbeResult:
    """A status that could not be read says nothing of the cluster: inconclusive."""
    return ProbeResult(target, False, f"status unreadable: {exc}", at, duration, "cluster", True)


def summary(status: ClusterStatus) -> str:
    """The status in a few words: `broker green, zookeeper green`, and any node not green."""
    words = f"broker {status.broker_status}, zookeeper {status.zookeeper_status}"
    odd = [n for n in (*status.broker_nodes, *status.zookeeper_nodes) if n.status != "green"]
    if odd:
        words += "; " + ", ".join(f"{n.hostname} {n.status}" for n in odd)
    return words
