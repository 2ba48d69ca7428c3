"""`Sandbox`: the local CDSS simulator as one handle — start, stop, inspect, break, inject.

with Sandbox(access_key="AK", secret_key="SK", restart_delay=0.5) as sb:
    sb.url                      # http://127.0.0.1:PORT — the gateway host
    sb.tool_url("1484848")      # that cluster's CMAK or Kafka-UI base URL
    sb.break_tool("1484848", "down")
    sb.break_broker("1484848", "orders-broker-002", "red")   # or its computeInstanceNo
    sb.break_zookeeper("1484848", "red")
    sb.set_precheck_refusal("1484848", "rolling restart is not possible now")
    sb.inject_error(503, "500", applied=True)
    sb.action_calls("1484848")
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Literal

from remediator.clock import Clock, SystemClock
from remediator.sandbox.admin import PREFIX as ADMIN_PREFIX
from remediator.sandbox.admin import Admin
from remediator.sandbox.calls import CallLog, Listener, RecordedCall
from remediator.sandbox.faults import Fault, FaultQueue
from remediator.sandbox.gateway import Gateway
from remediator.sandbox.httpd import SandboxHTTPServer
from remediator.sandbox.model import (
    CODE_PRECHECK_FAILED,
    EXAMPLE_CLUSTERS,
    ClusterSnapshot,
    ClusterSpec,
    ClusterStatus,
    CmakRestart,
    ToolKind,
    ToolMode,
)
from remediator.sandbox.nodes import FaultStatus, NodeRef, NodeSnapshot
from remediator.sandbox.state import Clusters
from remediator.sandbox.tools import Tools, base_path

# Clearly fake, fixed keys: the sandbox accepts only these unless told otherwise.
DEFAULT_ACCESS_KEY = "SANDBOX-ACCESS-KEY"
DEFAULT_SECRET_KEY = "sandbox-secret-key"  # noqa: S105 - a published, fake sandbox key

_POLL_INTERVAL = 0.05  # how fast serve_forever notices a stop


class Sandbox:
    """The simulator: a gateway verifying signature v2, clusters, manager tools and faults.

    `restart_delay` is how long a cluster-wide restart keeps the cluster changing;
    `node_restart_delay` (default: the same) how long one broker's Kafka restart takes, in a
    per-node restart and in each step of a rolling restart.
    """

    def __init__(  # noqa: PLR0913 - the simulator's settings, by keyword
        self,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        restart_delay: float = 2.0,
        node_restart_delay: float | None = None,
        cmak_restart: CmakRestart = "auto",
        clusters: Iterable[ClusterSpec] | None = None,
        on_call: Listener | None = None,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("the sandbox needs an access key and a secret key")
        self.access_key = access_key
        self._secret_key = secret_key
        self.host = host
        self.port = port
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._clusters = Clusters(
            self.clock,
            restart_delay=restart_delay,
            node_restart_delay=node_restart_delay,
            cmak_restart=cmak_restart,
            specs=EXAMPLE_CLUSTERS if clusters is None else clusters,
        )
        self._faults = FaultQueue()
        self._calls = CallLog()
        if on_call is not None:
            self._calls.subscribe(on_call)
        self._stopping = threading.Event()
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind and serve in a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already started")
        self._stopping.clear()
        gateway = Gateway(
            access_key=self.access_key,
            secret_key=self._secret_key,
            clock=self.clock,
            clusters=self._clusters,
            faults=self._faults,
            calls=self._calls,
            stopping=self._stopping,
        )
        admin = Admin(
            clusters=self._clusters, faults=self._faults, calls=self._calls, reset=self.reset
        )
        self._httpd = SandboxHTTPServer(
            (self.host, self.port),
            clock=self.clock,
            stopping=self._stopping,
            gateway=gateway,
            tools=Tools(self._clusters),
            admin=admin,
        )
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving at once: holds and hangs are cut short, open connections closed."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The gateway's base URL (use it as the `endpoint:` override)."""
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def admin_url(self) -> str:
        """The base URL of the unsigned admin API."""
        return f"{self.url}{ADMIN_PREFIX}"

    def tool_url(self, cluster_no: str) -> str:
        """The base URL of the cluster's CMAK or Kafka-UI; KeyError if unknown."""
        return self.url + base_path(cluster_no, self._clusters.spec(cluster_no).tool)

    # -- inspection ------------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every gateway call so far."""
        return self._calls.snapshot()

    def action_calls(self, cluster_no: str | None = None) -> list[RecordedCall]:
        """Authenticated restart calls, whatever their answer (filter on `applied`)."""
        return self._calls.actions(cluster_no)

    def cluster(self, cluster_no: str) -> ClusterSnapshot:
        """The cluster as seen now; KeyError if unknown."""
        return self._clusters.snapshot(cluster_no)

    def clusters(self) -> list[ClusterSnapshot]:
        """Every cluster as seen now."""
        return self._clusters.snapshots()

    def nodes(self, cluster_no: str) -> list[NodeSnapshot]:
        """The cluster's nodes as seen now (the manager first); KeyError if unknown."""
        return self._clusters.nodes(cluster_no)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every gateway call recorded from now on."""
        self._calls.subscribe(listener)

    # -- clusters and tools ----------------------------------------------------------------

    def add_cluster(
        self,
        cluster_no: str,
        name: str,
        tool: ToolKind = "cmak",
        brokers: int = 3,
        cmak_basic_auth: tuple[str, str] | None = None,
    ) -> None:
        """Add (or replace) a running cluster (3 to 64 brokers), every part healthy."""
        self._clusters.add(ClusterSpec(cluster_no, name, tool, brokers, cmak_basic_auth))

    def break_tool(
        self, cluster_no: str, mode: ToolMode = "down", hang_seconds: float = 30.0
    ) -> None:
        """Break the cluster's manager tool: down | error | hang | wrong_body."""
        self._clusters.set_tool(cluster_no, mode, hang_seconds)

    def fix_tool(self, cluster_no: str) -> None:
        """Make the cluster's manager tool healthy again."""
        self._clusters.set_tool(cluster_no, "ok")

    def break_broker(
        self,
        cluster_no: str,
        node: NodeRef,
        status: FaultStatus = "red",
        persistent: bool = False,
    ) -> NodeSnapshot:
        """Break the broker on one node (by number or hostname): red | yellow | gray.

        A restart of that broker clears the fault, unless it is `persistent`.
        """
        return self._clusters.set_broker(cluster_no, node, status, persistent)

    def fix_broker(self, cluster_no: str, node: NodeRef) -> NodeSnapshot:
        """Make the broker on that node healthy again."""
        return self._clusters.set_broker(cluster_no, node, "green")

    def break_zookeeper(
        self,
        cluster_no: str,
        status: FaultStatus = "red",
        node: NodeRef | None = None,
        persistent: bool = False,
    ) -> None:
        """Break ZooKeeper on every ZooKeeper node, or on one (restartAllServices clears it)."""
        self._clusters.set_zookeeper(cluster_no, status, node, persistent)

    def fix_zookeeper(self, cluster_no: str) -> None:
        """Make ZooKeeper healthy again on every node."""
        self._clusters.set_zookeeper(cluster_no, "green")

    def set_precheck_refusal(
        self, cluster_no: str, message: str | None, code: int = CODE_PRECHECK_FAILED
    ) -> None:
        """Make rollingRestartPreCheck (and rollingRestart) refuse with `message`; None lifts it.

        `code` is the envelope's code (NCP documents none; 0 rehearses a client against a
        refusal that only the message tells).
        """
        self._clusters.set_precheck_refusal(cluster_no, message, code)

    def set_cmak_restart(
        self, cluster_no: str, value: Literal["available", "withdrawn"] | None
    ) -> None:
        """Whether restartCMAKService exists for this cluster (None: the sandbox default)."""
        self._clusters.set_cmak_restart(cluster_no, value)

    def set_state(
        self, cluster_no: str, state: ClusterStatus, for_seconds: float | None = None
    ) -> None:
        """Force the cluster's status, for `for_seconds` or until changed."""
        self._clusters.set_state(cluster_no, state, for_seconds)

    # -- faults ----------------------------------------------------------------------------

    def inject_error(  # noqa: PLR0913 - a gateway fault's fields; options by keyword
        self,
        http: int,
        error_code: str,
        *,
        count: int = 1,
        operation: str | None = None,
        retry_after: float | None = None,
        applied: bool = False,
    ) -> None:
        """Answer the next `count` calls with that gateway error (5xx: `applied` runs them)."""
        self._faults.add(
            Fault.error(
                http,
                error_code,
                count=count,
                operation=operation,
                retry_after=retry_after,
                applied=applied,
            )
        )

    def inject_latency(self, seconds: float, count: int = 1, operation: str | None = None) -> None:
        """Answer the next `count` calls `seconds` late."""
        self._faults.add(Fault.latency(seconds, count, operation))

    def inject_drop(self, count: int = 1, operation: str | None = None) -> None:
        """Close the next `count` calls' connections without a response (nothing runs)."""
        self._faults.add(Fault.drop(count, operation))

    def inject_apply_then_timeout(
        self, count: int = 1, hold_seconds: float = 5.0, operation: str | None = None
    ) -> None:
        """Run the next `count` calls, then hold their connections and close them unanswered."""
        self._faults.add(Fault.apply_then_timeout(count, hold_seconds, operation))

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self._faults.clear()

    def reset(self) -> None:
        """Clusters as constructed (all running, every part healthy), no faults, no calls."""
        self._clusters.reset()
        self._faults.clear()
        self._calls.clear()
