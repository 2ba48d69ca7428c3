"""The sandbox's own control API under `/_sandbox/`: unsigned JSON, loopback clients only.

GET    /_sandbox/calls                 recorded gateway calls
GET    /_sandbox/clusters              every cluster as seen now
POST   /_sandbox/clusters              add one {"cluster_no", "name", "tool", "brokers",
                                       "cmak_basic_auth": [user, password]}
GET    /_sandbox/clusters/{no}         one cluster
POST   /_sandbox/clusters/{no}         {"cmak_restart": "withdrawn"|"available"|null,
                                        "state": STATUS, "for_seconds": N}
POST   /_sandbox/clusters/{no}/tool    {"mode": "down"|"error"|"hang"|"wrong_body"|"ok",
                                        "hang_seconds": N}
GET    /_sandbox/faults                pending faults
POST   /_sandbox/faults                {"kind": "error"|"latency"|"drop"|"apply_then_timeout",
                                        ...the arguments of Sandbox.inject_*}
DELETE /_sandbox/faults                clear them
POST   /_sandbox/reset                 clusters, faults and calls back to the start
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from remediator.sandbox.calls import CallLog
from remediator.sandbox.faults import Fault, FaultQueue
from remediator.sandbox.replies import Reply
from remediator.sandbox.state import Clusters, ClusterSpec

PREFIX = "/_sandbox"
_CLUSTER = re.compile(r"/clusters/(?P<no>[^/]+)(?P<tool>/tool)?")


class BadRequest(ValueError):
    """The admin request cannot be carried out."""


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as e:
        raise BadRequest(f"the body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


class Admin:
    """Answers `/_sandbox/` requests."""

    def __init__(
        self,
        *,
        clusters: Clusters,
        faults: FaultQueue,
        calls: CallLog,
        reset: Callable[[], None],
    ) -> None:
        self._clusters = clusters
        self._faults = faults
        self._calls = calls
        self._reset = reset

    def handle(self, method: str, target: str, body: bytes) -> Reply:
        """Answer one admin request; errors are 400/404 with `{"error": message}`."""
        path = target.split("?", 1)[0].removeprefix(PREFIX).rstrip("/") or "/"
        try:
            return self._dispatch(method, path, _json_body(body))
        except KeyError as e:
            return Reply.json(404, {"error": str(e.args[0]) if e.args else "not found"})
        except ValueError as e:
            return Reply.json(400, {"error": str(e)})

    def _dispatch(self, method: str, path: str, data: dict[str, Any]) -> Reply:
        route = (method, path)
        if route == ("GET", "/"):
            return Reply.text(200, __doc__ or "")
        if route == ("GET", "/calls"):
            return Reply.json(200, {"calls": [asdict(c) for c in self._calls.snapshot()]})
        if route == ("GET", "/clusters"):
            return Reply.json(200, {"clusters": [asdict(s) for s in self._clusters.snapshots()]})
        if route == ("POST", "/clusters"):
            return self._add_cluster(data)
        if route == ("GET", "/faults"):
            return Reply.json(200, {"faults": self._faults.pending()})
        if route == ("POST", "/faults"):
            fault_id = self._faults.add(Fault.from_json(data))
            return Reply.json(201, {"id": fault_id})
        if route == ("DELETE", "/faults"):
            self._faults.clear()
            return Reply.json(200, {"faults": []})
        if route == ("POST", "/reset"):
            self._reset()
            return Reply.json(200, {"reset": True})
        m = _CLUSTER.fullmatch(path)
        if m is None:
            raise KeyError(f"no admin endpoint {method} {PREFIX}{path}")
        no = m["no"]
        if method == "GET" and not m["tool"]:
            return Reply.json(200, asdict(self._clusters.snapshot(no)))
        if method == "POST" and m["tool"]:
            self._clusters.set_tool(no, data.get("mode", "ok"), data.get("hang_seconds"))
            return Reply.json(200, asdict(self._clusters.snapshot(no)))
        if method == "POST":
            return self._change_cluster(no, data)
        raise KeyError(f"no admin endpoint {method} {PREFIX}{path}")

    def _add_cluster(self, data: dict[str, Any]) -> Reply:
        auth = data.get("cmak_basic_auth")
        if auth is not None and (not isinstance(auth, list) or len(auth) != 2):
            raise BadRequest("cmak_basic_auth must be [username, password]")
        try:
            spec = ClusterSpec(
                cluster_no=str(data["cluster_no"]),
                name=str(data["name"]),
                tool=data.get("tool", "cmak"),
                brokers=int(data.get("brokers", 3)),
                cmak_basic_auth=None if auth is None else (str(auth[0]), str(auth[1])),
            )
        except KeyError as e:
            raise BadRequest(f"missing {e.args[0]}") from None
        self._clusters.add(spec)
        return Reply.json(201, asdict(self._clusters.snapshot(spec.cluster_no)))

    def _change_cluster(self, no: str, data: dict[str, Any]) -> Reply:
        unknown = set(data) - {"cmak_restart", "state", "for_seconds"}
        if unknown:
            raise BadRequest(f"unknown keys: {', '.join(sorted(unknown))}")
        self._clusters.snapshot(no)  # 404 before changing anything
        if "cmak_restart" in data:
            self._clusters.set_cmak_restart(no, data["cmak_restart"])
        if "state" in data:
            self._clusters.set_state(no, data["state"], data.get("for_seconds"))
        return Reply.json(200, asdict(self._clusters.snapshot(no)))
