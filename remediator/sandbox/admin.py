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
GET    /_sandbox/clusters/{no}/nodes   the cluster's nodes (manager, brokers) as seen now
POST   /_sandbox/clusters/{no}/nodes/{node}
                                       break the broker on a node (its computeInstanceNo or
                                       hostname): {"status": "red"|"yellow"|"gray"|"green",
                                        "persistent": false}; a restart clears it unless
                                        persistent; green fixes it
POST   /_sandbox/clusters/{no}/zookeeper
                                       {"status": "red"|"yellow"|"gray"|"green",
                                        "node": NODE (default: every ZooKeeper node),
                                        "persistent": false}
POST   /_sandbox/clusters/{no}/precheck
                                       {"message": TEXT, "code": N}: rollingRestartPreCheck and
                                       rollingRestart refuse with it; {"message": null} lifts it
DELETE /_sandbox/clusters/{no}/precheck
                                       lift it
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
from remediator.sandbox.model import CODE_PRECHECK_FAILED, ClusterSpec
from remediator.sandbox.nodes import NodeRef
from remediator.sandbox.replies import Reply
from remediator.sandbox.state import Clusters

PREFIX = "/_sandbox"
_CLUSTER = re.compile(r"/clusters/(?P<no>[^/]+)(?P<part>/[^/]+)?(?:/(?P<node>[^/]+))?")


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


def _only(data: dict[str, Any], *keys: str) -> None:
    unknown = set(data) - set(keys)
    if unknown:
        raise BadRequest(f"unknown keys: {', '.join(sorted(unknown))}")


def _text(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


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
        reply = self._cluster(method, m["no"], m["part"], m["node"], data)
        if reply is None:
            raise KeyError(f"no admin endpoint {method} {PREFIX}{path}")
        return reply

    def _cluster(
        self, method: str, no: str, part: str | None, node: str | None, data: dict[str, Any]
    ) -> Reply | None:
        route = (method, part, node is not None)
        if route == ("GET", None, False):
            return Reply.json(200, asdict(self._clusters.snapshot(no)))
        if route == ("POST", None, False):
            return self._change_cluster(no, data)
        if route == ("POST", "/tool", False):
            _only(data, "mode", "hang_seconds")
            self._clusters.set_tool(no, data.get("mode", "ok"), data.get("hang_seconds"))
            return Reply.json(200, asdict(self._clusters.snapshot(no)))
        if route == ("GET", "/nodes", False):
            return self._nodes(no)
        if route == ("POST", "/nodes", True):
            assert node is not None
            _only(data, "status", "persistent")
            ref: NodeRef = int(node) if node.isdigit() else node
            status = _text(data, "status", "red")
            view = self._clusters.set_broker(no, ref, status, bool(data.get("persistent")))
            return Reply.json(200, asdict(view))
        if route == ("POST", "/zookeeper", False):
            _only(data, "status", "node", "persistent")
            status = _text(data, "status", "red")
            target = data.get("node")
            if target is not None and not isinstance(target, int | str):
                raise BadRequest("node must be a computeInstanceNo or a hostname")
            self._clusters.set_zookeeper(no, status, target, bool(data.get("persistent")))
            return self._nodes(no)
        if route == ("POST", "/precheck", False):
            _only(data, "message", "code")
            message = data.get("message")
            if message is not None and not isinstance(message, str):
                raise BadRequest("message must be a string, or null to lift the refusal")
            code = data.get("code", CODE_PRECHECK_FAILED)
            if not isinstance(code, int) or isinstance(code, bool):
                raise BadRequest("code must be an integer")
            self._clusters.set_precheck_refusal(no, message, code)
            return Reply.json(200, asdict(self._clusters.snapshot(no)))
        if route == ("DELETE", "/precheck", False):
            self._clusters.set_precheck_refusal(no, None)
            return Reply.json(200, asdict(self._clusters.snapshot(no)))
        return None

    def _nodes(self, no: str) -> Reply:
        return Reply.json(200, {"nodes": [asdict(n) for n in self._clusters.nodes(no)]})

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
        _only(data, "cmak_restart", "state", "for_seconds")
        self._clusters.snapshot(no)  # 404 before changing anything
        if "cmak_restart" in data:
            self._clusters.set_cmak_restart(no, data["cmak_restart"])
        if "state" in data:
            self._clusters.set_state(no, data["state"], data.get("for_seconds"))
        return Reply.json(200, asdict(self._clusters.snapshot(no)))
