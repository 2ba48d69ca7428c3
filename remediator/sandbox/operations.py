"""The CDSS operations the sandbox serves (SPEC §2): names, methods and where the cluster is named.

Most operations name the cluster in the path (`/cluster/{operation}/{serviceGroupInstanceNo}`);
the rolling-restart ones take no path parameter and name it in the JSON body instead, and
`getClusterInfoList` exists both ways: with a number (one cluster) and without (the paged list).
"""

from __future__ import annotations

from dataclasses import dataclass

RESTART_CMAK = "restartCMAKService"
RESTART_ALL = "restartAllServices"
RESTART_KAFKA = "restartKafkaService"
RESTART_NODES = "restartKafkaServicePerNode"
PRECHECK = "rollingRestartPreCheck"
ROLLING = "rollingRestart"
PROGRESS = "rollingRestartProgressCheck"
GET_STATUS = "getClusterStatus"
GET_INFO = "getClusterInfoList"
GET_NODES = "getClusterNodeList"

OPERATIONS: dict[str, str] = {
    RESTART_CMAK: "GET",
    RESTART_ALL: "GET",
    RESTART_KAFKA: "GET",
    RESTART_NODES: "POST",
    PRECHECK: "POST",
    ROLLING: "POST",
    PROGRESS: "POST",
    GET_STATUS: "GET",
    GET_INFO: "POST",
    GET_NODES: "GET",
}
ACTIONS = frozenset({RESTART_CMAK, RESTART_ALL, RESTART_KAFKA, RESTART_NODES, ROLLING})

_NUMBER_IN_PATH = frozenset(
    {RESTART_CMAK, RESTART_ALL, RESTART_KAFKA, RESTART_NODES, GET_STATUS, GET_INFO, GET_NODES}
)
_NUMBER_IN_BODY = frozenset({PRECHECK, ROLLING, PROGRESS})
_LIST = frozenset({GET_INFO})  # served without a number too, as the paged list
_BODY_READ = frozenset({RESTART_NODES}) | _NUMBER_IN_BODY | _LIST


@dataclass(frozen=True)
class Route:
    """A request matched to an operation: whether the path carried a cluster number."""

    operation: str
    number_in_path: bool

    @property
    def reads_body(self) -> bool:
        """Whether the backend reads the JSON body (the paged list, per-node and rolling ops)."""
        if self.operation == GET_INFO:
            return not self.number_in_path
        return self.operation in _BODY_READ

    @property
    def number_in_body(self) -> bool:
        """Whether the body's `serviceGroupInstanceNo` names the cluster."""
        return self.operation in _NUMBER_IN_BODY


def route(method: str, operation: str, has_number: bool) -> Route | None:
    """The operation a (method, path) pair names, or None: the gateway answers 404."""
    if OPERATIONS.get(operation) != method:
        return None
    if has_number and operation in _NUMBER_IN_PATH:
        return Route(operation, number_in_path=True)
    if not has_number and (operation in _NUMBER_IN_BODY or operation in _LIST):
        return Route(operation, number_in_path=False)
    return None
