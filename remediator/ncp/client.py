"""The CDSS operations by name: restarts, the rolling restart, status, nodes and the listing.

Every operation goes through `SignedCaller.call`, the one signed path; this module says which
method, path and body each operation takes, whether it is an action (never resent once it may
have reached the backend) and how its result reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from remediator.errors import NcpBadResponse
from remediator.ncp import results
from remediator.ncp.caller import Credentials, Method, SignedCaller
from remediator.ncp.results import (
    ActionResult,
    ClusterInfo,
    ClusterNode,
    ClusterStatus,
    ClusterSummary,
    PreCheck,
)

__all__ = ["ACTIONS", "CLUSTER_ACTIONS", "CdssClient", "Credentials"]

RESTART_KAFKA_NODES = "restartKafkaServicePerNode"
ROLLING_PRECHECK = "rollingRestartPreCheck"
ROLLING_RESTART = "rollingRestart"
ROLLING_PROGRESS = "rollingRestartProgressCheck"
GET_CLUSTER_STATUS = "getClusterStatus"
GET_CLUSTER_INFO = "getClusterInfoList"
GET_CLUSTER_NODES = "getClusterNodeList"

CLUSTER_ACTIONS: dict[str, str] = {
    "restart_cmak": "restartCMAKService",
    "restart_all_services": "restartAllServices",
    "restart_kafka": "restartKafkaService",
}
"""Actions that need only the cluster: `GET /cluster/{operation}/{no}`, what `action()` sends."""

ACTIONS: dict[str, str] = {
    **CLUSTER_ACTIONS,
    "restart_kafka_node": RESTART_KAFKA_NODES,
    "rolling_restart": ROLLING_RESTART,
}
"""Every action name used in rules -> the CDSS operation that performs it (metrics' label)."""

_DEDICATED: dict[str, str] = {
    "restart_kafka_node": (
        "restart_kafka_node needs the nodes to restart: call "
        "restart_kafka_nodes(cluster_no, compute_instance_nos), with the nodes found by "
        "ncp.nodes.unhealthy_brokers"
    ),
    "rolling_restart": (
        "rolling_restart starts with a pre-check: call rolling_restart_precheck(cluster_no), "
        "then rolling_restart(cluster_no) only if it is possible"
    ),
}
MAX_PAGES = 100
"""list_clusters stops here (10,000 clusters at 100 a page) rather than page on forever."""


class CdssClient(SignedCaller):
    """The CDSS operations of one site; the region may be overridden per call."""

    # -- actions -----------------------------------------------------------------------------

    def action(self, name: str, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """Run a cluster-wide action (`restart_cmak`, `restart_all_services`, `restart_kafka`).

        `restart_kafka_node` and `rolling_restart` need more than a cluster number and are
        refused with a ValueError naming their own methods.
        """
        if name in _DEDICATED:
            raise ValueError(_DEDICATED[name])
        try:
            operation = CLUSTER_ACTIONS[name]
        except KeyError:
            raise ValueError(f"unknown action {name!r} (one of {', '.join(ACTIONS)})") from None
        no = _cluster_no(cluster_no)
        return self._act("GET", f"/cluster/{operation}/{no}", operation, no, region)

    def restart_cmak(self, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """restartCMAKService (withdrawn by NCP on 2026-09-17: expect NcpNotFound)."""
        return self.action("restart_cmak", cluster_no, region)

    def restart_all_services(
        self, cluster_no: str | int, region: str | None = None
    ) -> ActionResult:
        """restartAllServices: Kafka, ZooKeeper and the manager tool."""
        return self.action("restart_all_services", cluster_no, region)

    def restart_kafka(self, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """restartKafkaService: every broker at once."""
        return self.action("restart_kafka", cluster_no, region)

    def restart_kafka_nodes(
        self,
        cluster_no: str | int,
        compute_instance_nos: Sequence[int],
        region: str | None = None,
    ) -> ActionResult:
        """restartKafkaServicePerNode: Kafka on exactly these nodes (their computeInstanceNo)."""
        no = _cluster_no(cluster_no)
        nodes = _instance_nos(compute_instance_nos)
        return self._act(
            "POST",
            f"/cluster/{RESTART_KAFKA_NODES}/{no}",
            RESTART_KAFKA_NODES,
            no,
            region,
            body={"computeInstanceNoList": list(nodes)},
            nodes=nodes,
        )

    def rolling_restart(self, cluster_no: str | int, region: str | None = None) -> ActionResult:
        """rollingRestart: brokers one at a time (run rolling_restart_precheck first)."""
        no = _cluster_no(cluster_no)
        body = {"serviceGroupInstanceNo": int(no)}
        return self._act(
            "POST", f"/cluster/{ROLLING_RESTART}", ROLLING_RESTART, no, region, body=body
        )

    # -- reads -------------------------------------------------------------------------------

    def rolling_restart_precheck(
        self, cluster_no: str | int, region: str | None = None
    ) -> PreCheck:
        """rollingRestartPreCheck; any answer but `SUCCESS` is a PreCheck that is not possible.

        Its refusal (HTTP 200 with a non-zero code) is the reason, not an error: NCP does not
        document the pre-check's failure shapes, so every readable answer is a value.
        """
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "POST",
            f"/cluster/{ROLLING_PRECHECK}",
            operation=ROLLING_PRECHECK,
            body={"serviceGroupInstanceNo": int(no)},
            region=region,
            cluster_no=no,
            check=False,
        )
        return results.precheck(envelope, no)

    def rolling_restart_progress(
        self, cluster_no: str | int, region: str | None = None
    ) -> ClusterStatus:
        """rollingRestartProgressCheck: the same shape as getClusterStatus."""
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "POST",
            f"/cluster/{ROLLING_PROGRESS}",
            operation=ROLLING_PROGRESS,
            body={"serviceGroupInstanceNo": int(no)},
            region=region,
            cluster_no=no,
        )
        return results.cluster_status(envelope, no, ROLLING_PROGRESS)

    def get_cluster_status(self, cluster_no: str | int, region: str | None = None) -> ClusterStatus:
        """getClusterStatus: broker, ZooKeeper and CMAK colors, and per-node colors."""
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "GET",
            f"/cluster/{GET_CLUSTER_STATUS}/{no}",
            operation=GET_CLUSTER_STATUS,
            region=region,
            cluster_no=no,
        )
        return results.cluster_status(envelope, no, GET_CLUSTER_STATUS)

    def get_cluster_info(self, cluster_no: str | int, region: str | None = None) -> ClusterInfo:
        """getClusterInfoList for one cluster: its lifecycle status."""
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "POST",
            f"/cluster/{GET_CLUSTER_INFO}/{no}",
            operation=GET_CLUSTER_INFO,
            region=region,
            cluster_no=no,
        )
        return results.cluster_info(envelope, no, GET_CLUSTER_INFO)

    def get_cluster_nodes(
        self, cluster_no: str | int, region: str | None = None
    ) -> tuple[ClusterNode, ...]:
        """getClusterNodeList: every node's computeInstanceNo, hostName, IP, role and status."""
        no = _cluster_no(cluster_no)
        envelope = self.call(
            "GET",
            f"/cluster/{GET_CLUSTER_NODES}/{no}",
            operation=GET_CLUSTER_NODES,
            region=region,
            cluster_no=no,
        )
        return results.cluster_nodes(envelope, GET_CLUSTER_NODES)

    def list_clusters(
        self, region: str | None = None, page_size: int = 100, max_pages: int = MAX_PAGES
    ) -> tuple[ClusterSummary, ...]:
        """Every cluster the key may see: getClusterInfoList paged until a short page.

        A page that brings no cluster not seen before, or `max_pages` full pages, is an
        NcpBadResponse: the service is not paging as documented, and listing stops.
        """
        if page_size < 1 or max_pages < 1:
            raise ValueError("page_size and max_pages must be at least 1")
        found: dict[str, ClusterSummary] = {}
        for page_no in range(1, max_pages + 1):
            envelope = self.call(
                "POST",
                f"/cluster/{GET_CLUSTER_INFO}",
                operation=GET_CLUSTER_INFO,
                body={"pageNo": page_no, "pageSize": page_size},
                region=region,
            )
            page = results.cluster_summaries(envelope, GET_CLUSTER_INFO)
            new = [c for c in page if c.cluster_no not in found]
            found |= {c.cluster_no: c for c in new}
            if len(page) < page_size:
                return tuple(found.values())
            if not new:
                raise _paging_error(
                    f"page {page_no} holds only clusters of earlier pages "
                    "(the service seems to ignore pageNo)",
                    envelope.request_id,
                )
        raise _paging_error(
            f"still a full page after {max_pages} pages of {page_size}; stopped listing",
            None,
        )

    # -- the shared shape of an action -------------------------------------------------------

    def _act(  # noqa: PLR0913 - one action's parts; body and nodes by keyword
        self,
        method: Method,
        path: str,
        operation: str,
        no: str,
        region: str | None,
        *,
        body: object = None,
        nodes: tuple[int, ...] = (),
    ) -> ActionResult:
        start = self._clock.monotonic()
        envelope = self.call(
            method, path, operation=operation, action=True, body=body, region=region, cluster_no=no
        )
        duration = self._clock.monotonic() - start
        return ActionResult(
            operation, no, envelope.request_id, envelope.http_status, duration, nodes
        )

    def __repr__(self) -> str:
        return f"CdssClient(site={self.site!r}, region={self.region!r}, host={self._host!r})"


def _cluster_no(value: str | int) -> str:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"a cluster number (serviceGroupInstanceNo) is digits, not {value!r}")
    return text


def _instance_nos(values: Sequence[int]) -> tuple[int, ...]:
    """The computeInstanceNoList to send: one or more distinct positive integers."""
    if isinstance(values, str | bytes):
        raise ValueError(f"computeInstanceNo values are a list of integers, not {values!r}")
    nodes = tuple(values)
    if not nodes:
        raise ValueError("restart_kafka_nodes needs one or more computeInstanceNo; none given")
    wrong = [v for v in nodes if isinstance(v, bool) or not isinstance(v, int) or v <= 0]
    if wrong:
        raise ValueError(f"computeInstanceNo values are positive integers, not {wrong!r}")
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"computeInstanceNo values repeat: {list(nodes)!r}")
    return nodes


def _paging_error(what: str, request_id: str | None) -> NcpBadResponse:
    return NcpBadResponse(
        f"CDSS {GET_CLUSTER_INFO}: {what}",
        operation=GET_CLUSTER_INFO,
        sent="sent",
        request_id=request_id,
        idempotent=True,
    )
