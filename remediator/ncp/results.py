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
    if not isinstance(value, list):
        return ()
    return tuple(
        NodeStatus(_text(n.get("hostname")) or "?", _lower(n.get("status")) or "unknown")
        for n in value
        if isinstance(n, Mapping)
    )


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
