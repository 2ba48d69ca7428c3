"""The `result` objects of the read operations, in the shapes of `fixtures/ncp/*.json`.

Per-node status items say `hostname`; node-list items say `hostName` (both as NCP spells
them). Values that only decorate (product codes, subnet, dates, MAC addresses) are
illustrative and follow `fixtures/ncp/cluster-node-list.json`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from remediator.sandbox.bodies import Page
from remediator.sandbox.model import ClusterSnapshot
from remediator.sandbox.nodes import UP, NodeSnapshot

KST = timezone(timedelta(hours=9))  # NCP's consoles and APIs format dates in Korea time
VPC_NAME = "prod-vpc"  # every sandbox cluster's VPC

_CLUSTER_FIELDS: dict[str, object] = {
    "contractNo": 12345678,
    "productCode": "SW.VCDSS.OS.LNX64.ROCKY.08.G003",
    "regionNo": 1,
    "serviceGroupInstanceTypeCode": "CDSS",
    "vpcNo": 21538,
}
_NODE_FIELDS: dict[str, object] = {
    "computeInstanceProductCode": "SVR.VCDSS.STAND.C002.M008.NET.SSD.B050.G002",
    "cpuCount": 2,
    "memorySize": 8 * 1024**3,
    "osInfo": "Rocky Linux 8.10 (64-bit)",
    "regionCode": "KR",
    "regionName": "Korea",
    "regionNo": "1",
    "selfManaged": False,
    "subnetName": "cdss-subnet",
    "subnetNo": 299510,
    "vpcName": VPC_NAME,
    "vpcNo": 21538,
    "zoneName": "KR-2",
    "zoneNo": 3,
}


def number(cluster_no: str) -> int | str:
    """A cluster number as NCP's JSON carries it: an integer (a string only if not one)."""
    return int(cluster_no) if cluster_no.isdigit() else cluster_no


def _date(seconds: float) -> dict[str, object]:
    when = datetime.fromtimestamp(seconds, KST)
    return {
        "formattedDate": when.strftime("%Y-%m-%d"),
        "formattedDateTime": when.strftime("%Y-%m-%d %H:%M:%S %f"),
        "utc": int(seconds * 1000),
    }


def _per_node(nodes: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"hostname": host, "status": status} for host, status in nodes]


def cluster_status(s: ClusterSnapshot) -> dict[str, object]:
    """The `getClusterStatus` (and `rollingRestartProgressCheck`) result."""
    brokers = [(n.host_name, n.broker_status) for n in s.nodes if n.broker_status is not None]
    zookeepers = [
        (n.host_name, n.zookeeper_status) for n in s.nodes if n.zookeeper_status is not None
    ]
    result: dict[str, object] = {
        "clusterName": s.name,
        "brokerNodeTotalNumber": len(brokers),
        "brokerNumber": sum(status in UP for _, status in brokers),
        "brokerStatus": s.broker_status,
        "brokerStatusPerNode": _per_node(brokers),
        "zookeeperTotalNumber": len(zookeepers),
        "zookeeperNumber": sum(status in UP for _, status in zookeepers),
        "zookeeperStatus": s.zookeeper_status,
        "zookeeperStatusPerNode": _per_node(zookeepers),
    }
    if s.cmak_status is not None:
        result["cmakStatus"] = s.cmak_status
    return result


def _compute(s: ClusterSnapshot, n: NodeSnapshot) -> dict[str, object]:
    no = n.compute_instance_no
    return {
        "computeInstanceNo": no,
        "computeInstanceStatus": "running",  # the server runs while its services restart
        "createdYmdt": _date(s.created),
        "operationYmdt": _date(s.created),
        "hostName": n.host_name,
        "macAddress": f"f2:20:aa:bb:cc:{no & 0xFF:02x}",
        "nodeRoleCode": n.role,
        "privateIp": n.private_ip,
        "serviceGroupInstanceNo": number(s.cluster_no),
        "uuid": f"3f6c0000-0000-4000-8000-{no:012d}",
        **_NODE_FIELDS,
    }


def node_list(s: ClusterSnapshot) -> dict[str, object]:
    """The `getClusterNodeList` result: the cluster and its `computeList`."""
    return {
        **_CLUSTER_FIELDS,
        "createdDate": _date(s.created),
        "serviceGroupInstanceNo": number(s.cluster_no),
        "serviceGroupName": s.name,
        "statusCode": s.status,
        "computeList": [_compute(s, n) for n in s.nodes],
    }


def cluster_info(s: ClusterSnapshot) -> dict[str, object]:
    """The `getClusterInfoList/{no}` result: the cluster's lifecycle status."""
    return {"serviceGroupInstanceNo": s.cluster_no, "clusterName": s.name, "status": s.status}


def cluster_page(clusters: list[ClusterSnapshot], page: Page) -> dict[str, object]:
    """One page of the paged `getClusterInfoList`: `allowedClusters`, in creation order."""
    matching = [
        s
        for s in clusters
        if (page.input_text is None or page.input_text.lower() in s.name.lower())
        and (page.vpc_name is None or page.vpc_name == VPC_NAME)
    ]
    start = (page.page_no - 1) * page.page_size
    return {
        "allowedClusters": [
            {
                "serviceGroupInstanceNo": number(s.cluster_no),
                "serviceGroupName": s.name,
                "status": s.status,
            }
            for s in matching[start : start + page.page_size]
        ]
    }
