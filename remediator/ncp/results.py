"""What CDSS calls return, as frozen values read from a success envelope's `result`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from remediator.errors import NcpBadResponse
from remediator.ncp.envelope import Envelope

BUSY_COLOR = "orange"  # getClusterStatus: a component that is changing
BUSY_STATES = frozenset({"creating", "changing", "deleting"})  # getClusterInfoList status


@dataclass(frozen=True)
class ActionResult:
    """A restart the gateway accepted; `duration` covers every attempt, in seconds."""

    operation: str
    cluster_no: str
    request_id: str | None
    http_status: int
    duration: float
    compute_instance_nos: tuple[int, ...] = ()  # restartKafkaServicePerNode: the nodes asked for


@dataclass(frozen=True)
class NodeStatus:
    """One node's status color (`green`, `yellow`, `orange`, `red`, `gray`)."""

    hostname: str
    status: str


@dataclass(frozen=True)
class ClusterStatus:
    """getClusterStatus: component colors; `cmak_status` is None on Kafka-UI clusters."""

    cluster_no: str
    broker_status: str
    zookeeper_status: str
    cmak_status: str | None
    broker_nodes: tuple[NodeStatus, ...]
    zookeeper_nodes: tuple[NodeStatus, ...]
    request_id: str | None
    cluster_name: str | None = None

    @property
    def busy(self) -> bool:
        """Some component is changing (orange): do not act on the cluster now."""
        colors = [self.broker_status, self.zookeeper_status, self.cmak_status]
        colors += [n.status for n in (*self.broker_nodes, *self.zookeeper_nodes)]
        return BUSY_COLOR in colors


@dataclass(frozen=True)
class ClusterInfo:
    """getClusterInfoList for one cluster: its lifecycle status and name."""

    cluster_no: str
    status: str
    name: str | None
    request_id: str | None

    @property
    def busy(self) -> bool:
        """The cluster is being created, changed or deleted."""
        return self.status in BUSY_STATES


@dataclass(frozen=True)
class PreCheck:
    """rollingRestartPreCheck: `possible` only for `message == "SUCCESS"` with `result: true`."""

    cluster_no: str
    possible: bool
    message: str
    code: str
    request_id: str | None

    @property
    def reason(self) -> str:
        """Why a rolling restart is not possible, in NCP's words."""
        return self.message or f"no message (code {self.code})"


@dataclass(frozen=True)
class ClusterNode:
    """One node of getClusterNodeList; `status` is its computeInstanceStatus."""

    compute_instance_no: int
    host_name: str
    private_ip: str | None
    node_role_code: str | None
    status: str | None


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster of the getClusterInfoList listing; `status` is its lifecycle status."""

    cluster_no: str
    name: str | None
    status: str | None
    kafka_version: str | None

    @property
    def busy(self) -> bool:
        """The cluster is being created, changed or deleted."""
        return self.status in BUSY_STATES


def cluster_status(envelope: Envelope, cluster_no: str, operation: str) -> ClusterStatus:
    """Read a getClusterStatus result; NcpBadResponse when its shape is not the documented one."""
    result = _mapping(envelope, operation)
    return ClusterStatus(
        cluster_no=cluster_no,
        broker_status=_color(result, "brokerStatus", envelope, operation),
        zookeeper_status=_color(result, "zookeeperStatus", envelope, operation),
        cmak_status=_lower(result.get("cmakStatus")),
        broker_nodes=_nodes(result.get("brokerStatusPerNode")),
        zookeeper_nodes=_nodes(result.get("zookeeperStatusPerNode")),
        request_id=envelope.request_id,
        cluster_name=_text(result.get("clusterName")),
    )


def cluster_info(envelope: Envelope, cluster_no: str, operation: str) -> ClusterInfo:
    """Read a getClusterInfoList result: one object, or a list holding the cluster's entry."""
    result = envelope.result
    if isinstance(result, list):
        entries = [e for e in result if isinstance(e, Mapping)]
        mine = [e for e in entries if str(e.get("serviceGroupInstanceNo")) == cluster_no]
        result = (mine or entries)[0] if (mine or entries) else None
    if not isinstance(result, Mapping):
        raise _bad(envelope, operation, f"no cluster {cluster_no} in the result")
    status = _lower(result.get("status", result.get("clusterStatus")))
    if status is None:
        raise _bad(envelope, operation, "the result has no status")
    return ClusterInfo(cluster_no, status, _text(result.get("clusterName")), envelope.request_id)


def precheck(envelope: Envelope, cluster_no: str) -> PreCheck:
    """Read a rollingRestartPreCheck answer, whatever it says (an unchecked envelope)."""
    possible = envelope.code == "0" and envelope.message == "SUCCESS" and envelope.result is True
    return PreCheck(cluster_no, possible, envelope.message, envelope.code, envelope.request_id)


def cluster_nodes(envelope: Envelope, operation: str) -> tuple[ClusterNode, ...]:
    """Read getClusterNodeList's `result.computeList[]`; each node needs a number and a name."""
    nodes = _mapping(envelope, operation).get("computeList")
    if not isinstance(nodes, list):
        raise _bad(envelope, operation, "the result has no computeList")
    out: list[ClusterNode] = []
    for n, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            raise _bad(envelope, operation, f"computeList[{n}] is not an object")
        number = _int(node.get("computeInstanceNo"))
        host_name = _text(node.get("hostName"))
        if number is None or not host_name:
            what = "an integer computeInstanceNo" if number is None else "a hostName"
            raise _bad(envelope, operation, f"computeList[{n}] has no {what}")
        out.append(
            ClusterNode(
                compute_instance_no=number,
                host_name=host_name,
                private_ip=_text(node.get("privateIp")),
                node_role_code=_text(node.get("nodeRoleCode")),
                status=_lower(node.get("computeInstanceStatus")),
            )
        )
    return tuple(out)


def cluster_summaries(envelope: Envelope, operation: str) -> tuple[ClusterSummary, ...]:
    """Read one page of the getClusterInfoList listing: `result.allowedClusters[]`."""
    entries = _mapping(envelope, operation).get("allowedClusters")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _bad(envelope, operation, "allowedClusters is not a list")
    out: list[ClusterSummary] = []
    for n, entry in enumerate(entries):
        number = _int(entry.get("serviceGroupInstanceNo")) if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping) or number is None:
            raise _bad(envelope, operation, f"allowedClusters[{n}] has no serviceGroupInstanceNo")
        out.append(
            ClusterSummary(
                cluster_no=str(number),
                name=_text(entry.get("serviceGroupName", entry.get("clusterName"))),
                status=_lower(entry.get("status", entry.get("clusterStatus"))),
                kafka_version=_text(entry.get("kafkaVersionCode")),
            )
        )
    return tuple(out)


def _mapping(envelope: Envelope, operation: str) -> Mapping[str, object]:
    if not isinstance(envelope.result, Mapping):
        raise _bad(envelope, operation, "the result is not an object")
    return envelope.result


def _color(result: Mapping[str, object], key: str, envelope: Envelope, operation: str) -> str:
    value = _lower(result.get(key))
    if value is None:
        raise _bad(envelope, operation, f"the result has no {key}")
    return value


def _nodes(value: object) -> tuple[NodeStatus, ...]:
    """A per-node status list: items `{"hostname": ..., "status": ...}` (not `hostName`)."""
    if not isinstance(value, list):
        return ()
    return tuple(
        NodeStatus(_text(n.get("hostname")) or "?", _lower(n.get("status")) or "unknown")
        for n in value
        if isinstance(n, Mapping)
    )


def _int(value: object) -> int | None:
    """An integer field that may come as a number or as a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _lower(value: object) -> str | None:
    return None if value is None else str(value).strip().lower()


def _bad(envelope: Envelope, operation: str, what: str) -> NcpBadResponse:
    return NcpBadResponse(
        f"CDSS {operation}: unexpected result shape: {what}",
        operation=operation,
        status=envelope.http_status,
        sent="sent",
        request_id=envelope.request_id,
        idempotent=True,
    )
