"""The sandbox's values: how a cluster is created, how it looks now, what the backend answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from remediator.sandbox.nodes import NodeSnapshot

ToolKind = Literal["cmak", "kafka_ui"]
ToolMode = Literal["ok", "down", "error", "hang", "wrong_body"]
ClusterStatus = Literal["creating", "changing", "running", "error", "deleting", "return"]
CmakRestart = Literal["auto", "available", "withdrawn"]

# The backend's refusals: HTTP 200, these codes, `result: null`. NCP documents none of them.
CODE_OK = 0
CODE_NO_SUCH_CLUSTER = 11001
CODE_BUSY = 11002
CODE_BAD_STATE = 11003
CODE_NO_CMAK = 11004
CODE_BAD_REQUEST = 11005
CODE_PRECHECK_FAILED = 11006


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster as created: number, name, manager tool, broker count, optional CMAK auth."""

    cluster_no: str
    name: str
    tool: ToolKind = "cmak"
    brokers: int = 3
    cmak_basic_auth: tuple[str, str] | None = None


EXAMPLE_CLUSTERS = (
    ClusterSpec("1484848", "orders", "cmak"),
    ClusterSpec("1484849", "payments", "kafka_ui"),
    ClusterSpec("1484850", "analytics", "cmak"),
)


@dataclass(frozen=True)
class ClusterSnapshot:
    """A cluster as seen now."""

    cluster_no: str
    name: str
    tool: ToolKind
    brokers: int
    status: ClusterStatus
    broker_status: str
    zookeeper_status: str
    cmak_status: str | None  # None on Kafka-UI clusters
    tool_mode: ToolMode  # as set (break_tool / fix_tool)
    tool_effective_mode: ToolMode  # what a request meets now ("down" while it restarts)
    hang_seconds: float
    restarting: str | None  # the operation in progress
    changing_until: float | None
    cmak_restart: Literal["available", "withdrawn"]
    cmak_basic_auth: bool
    actions_applied: int
    tool_requests: int
    nodes: tuple[NodeSnapshot, ...] = ()  # the manager first, then the brokers
    precheck_refusal: str | None = None  # set by `Sandbox.set_precheck_refusal`
    created: float = 0.0  # sandbox clock, when the cluster was added


@dataclass(frozen=True)
class BackendResult:
    """What the backend answers inside the envelope, and whether the cluster changed."""

    code: int
    message: str
    result: object
    applied: bool = False
