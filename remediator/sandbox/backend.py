"""The CDSS backend behind the gateway: one routed call in, the envelope's contents out."""

from __future__ import annotations

from dataclasses import dataclass

from remediator.sandbox import bodies, results
from remediator.sandbox.model import CODE_BAD_REQUEST, CODE_OK, BackendResult
from remediator.sandbox.operations import (
    ACTIONS,
    GET_INFO,
    GET_NODES,
    GET_STATUS,
    PRECHECK,
    PROGRESS,
    RESTART_NODES,
    Route,
)
from remediator.sandbox.state import Clusters, no_such_cluster


@dataclass(frozen=True)
class Call:
    """A routed call: the operation, the cluster it names (None for the list), its JSON body."""

    route: Route
    cluster_no: str | None
    payload: object = None


def cluster_of(route: Route, path_number: str | None, payload: object) -> str | None:
    """The cluster a call names: from the path, or from `serviceGroupInstanceNo` in the body."""
    if route.number_in_path:
        return path_number
    if route.number_in_body and isinstance(payload, dict):
        value = payload.get("serviceGroupInstanceNo")
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


class Backend:
    """Carries out calls on the clusters."""

    def __init__(self, clusters: Clusters) -> None:
        self._clusters = clusters

    def run(self, call: Call) -> BackendResult:
        """Answer one call; a body that does not say what the operation needs is refused."""
        try:
            return self._run(call)
        except bodies.BodyError as e:
            return BackendResult(CODE_BAD_REQUEST, str(e), None)

    def _run(self, call: Call) -> BackendResult:
        op = call.route.operation
        if op == GET_INFO and not call.route.number_in_path:
            page = bodies.page(call.payload)
            snapshots = self._clusters.snapshots()
            return BackendResult(CODE_OK, "SUCCESS", results.cluster_page(snapshots, page))
        no = call.cluster_no
        if call.route.number_in_body:
            no = str(bodies.cluster_number(call.payload))
        assert no is not None
        if op in ACTIONS:
            numbers = bodies.node_numbers(call.payload) if op == RESTART_NODES else ()
            return self._clusters.act(no, op, numbers)
        if op == PRECHECK:
            return self._clusters.precheck(no)
        try:
            snapshot = self._clusters.snapshot(no)
        except KeyError:
            return no_such_cluster(no)
        if op in (GET_STATUS, PROGRESS):
            return BackendResult(CODE_OK, "SUCCESS", results.cluster_status(snapshot))
        if op == GET_NODES:
            return BackendResult(CODE_OK, "SUCCESS", results.node_list(snapshot))
        assert op == GET_INFO
        return BackendResult(CODE_OK, "SUCCESS", results.cluster_info(snapshot))
