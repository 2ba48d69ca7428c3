"""What the narrower remedies need at the edge: what to gather before a step, and how to send it.

Before `restart_kafka_node`, the node list joined with the status's unhealthy brokers (which
nodes, in words); before `rolling_restart`, NCP's pre-check. Sending picks the operation the
action names (per-node restarts carry their computeInstanceNos).
"""

from __future__ import annotations

from dataclasses import dataclass

from remediator.core.decisions import Act
from remediator.errors import NcpError
from remediator.ncp.client import CdssClient
from remediator.ncp.nodes import unhealthy_brokers
from remediator.ncp.results import ActionResult, ClusterStatus


@dataclass(frozen=True)
class Gathered:
    """What a step's look found beyond the status: nodes to restart, the pre-check's answer."""

    nodes: tuple[int, ...] | None = None
    nodes_detail: str = ""
    precheck_ok: bool | None = None
    precheck_message: str = ""


def gather(
    client: CdssClient, action: str, cluster_no: str, status: ClusterStatus, region: str | None
) -> Gathered:
    """Ask CDSS what `action` needs to be taken on a cluster whose status is `status`."""
    if action == "restart_kafka_node":
        try:
            nodes = client.get_cluster_nodes(cluster_no, region=region)
        except NcpError as exc:
            return Gathered(nodes_detail=f"getClusterNodeList failed: {exc}")
        join = unhealthy_brokers(status, nodes)
        return Gathered(nodes=join.compute_instance_nos, nodes_detail=join.describe())
    if action == "rolling_restart":
        try:
            check = client.rolling_restart_precheck(cluster_no, region=region)
        except NcpError as exc:
            return Gathered(precheck_message=f"rollingRestartPreCheck failed: {exc}")
        return Gathered(precheck_ok=check.possible, precheck_message=check.reason)
    return Gathered()


def send(client: CdssClient, a: Act, region: str | None) -> ActionResult:
    """The signed call of `a`'s action (raises the client's `NcpError`s)."""
    if a.action == "restart_kafka_node":
        return client.restart_kafka_nodes(a.cluster_no, a.nodes, region=region)
    if a.action == "rolling_restart":
        return client.rolling_restart(a.cluster_no, region=region)
    return client.action(a.action, a.cluster_no, region=region)
