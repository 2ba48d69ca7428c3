"""The clusters' manager tools, simulated: CMAK and Kafka-UI under `/clusters/{no}/...`.

Shapes follow the tools' own sources (shared/fixtures/cmak/README.md): CMAK's `/api/health`
answers `healthy` in text and is excluded from basic auth; `/api/status/{cluster}/brokers`
answers the broker ids or 400 `{"msg": ...}`; Kafka-UI's `/actuator/health` answers
`{"status": "UP"}`. Only the tool a cluster has answers; the other path is 404.

Broken modes: `down` resets the connection at once (the process is gone; nothing answers);
`error` is a 500 — except Kafka-UI's health endpoint, which, like Spring actuator, reports
an unhealthy application as 503 `{"status": "DOWN"}`; `hang` holds the request
`hang_seconds` (interrupted when the sandbox stops) and closes it unanswered; `wrong_body`
answers 200 with a body no health check should accept. While a cluster-wide restart runs
(restartAllServices, restartKafkaService, restartCMAKService) or the cluster is forced into
`changing`, `creating`, `deleting` or `return`, its tool is down; per-node and rolling
restarts leave the manager node, and so the tool, alone.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping

from remediator.sandbox.model import ClusterSnapshot
from remediator.sandbox.replies import HTML, Close, Outcome, Reply
from remediator.sandbox.state import Clusters

TOOL_PATH = {"cmak": "cmak", "kafka_ui": "kafka-ui"}
_PATH = re.compile(r"/clusters/(?P<no>[^/]+)/(?P<kind>cmak|kafka-ui)(?P<rest>/[^?]*)?")
_BROKERS = re.compile(r"/api/status/(?P<cluster>[^/]+)/brokers")
_CMAK_REALM = 'Basic realm="Kafka-Manager"'
_CMAK_ERROR_PAGE = "<html><head><title>Internal Server Error</title></head></html>"
_WRONG_PAGE = "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"


def base_path(cluster_no: str, tool: str) -> str:
    """The tool's base path on the sandbox, e.g. `/clusters/1484848/cmak`."""
    return f"/clusters/{cluster_no}/{TOOL_PATH[tool]}"


def _not_found() -> Reply:
    return Reply.text(404, "Not Found")


def _authorized(header: str | None, expected: tuple[str, str]) -> bool:
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    wanted = f"{expected[0]}:{expected[1]}".encode()
    return hmac.compare_digest(given, wanted)


class Tools:
    """Answers requests under `/clusters/`."""

    def __init__(self, clusters: Clusters) -> None:
        self._clusters = clusters

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Outcome:
        """Answer one tool request, or say how to close the connection."""
        m = _PATH.fullmatch(target.split("?", 1)[0])
        if m is None:
            return _not_found()
        no, kind, rest = m["no"], m["kind"], m["rest"] or "/"
        view = self._clusters.tool_view(no)
        if view is None or TOOL_PATH[view.tool] != kind:
            return _not_found()
        self._clusters.count_tool_request(no)
        mode = view.tool_effective_mode
        if mode == "down":
            return Close(abort=True)
        if mode == "hang":
            return Close(hold=view.hang_seconds)
        if method != "GET":
            return _not_found()
        if view.tool == "cmak":
            auth = self._clusters.spec(no).cmak_basic_auth
            lowered = {k.lower(): v for k, v in headers.items()}
            return _cmak(view, rest, auth, lowered.get("authorization"))
        return _kafka_ui(view, rest)


def _cmak(
    view: ClusterSnapshot, path: str, auth: tuple[str, str] | None, authorization: str | None
) -> Reply:
    # CMAK's basic-auth filter runs before routing and skips only /api/health
    if path != "/api/health" and auth is not None and not _authorized(authorization, auth):
        return Reply(401, b"", HTML, (("WWW-Authenticate", _CMAK_REALM),))
    if view.tool_effective_mode == "error":
        return Reply.text(500, _CMAK_ERROR_PAGE, HTML)
    wrong = view.tool_effective_mode == "wrong_body"
    if path == "/api/health":
        return Reply.text(200, _WRONG_PAGE, HTML) if wrong else Reply.text(200, "healthy")
    brokers = _BROKERS.fullmatch(path)
    if brokers is None:
        return _not_found()
    if wrong:
        return Reply.text(200, _WRONG_PAGE, HTML)
    if brokers["cluster"] != view.name:
        return Reply.json(400, {"msg": f"Unknown cluster : {brokers['cluster']}"})
    return Reply.json(200, {"brokers": list(range(1, view.brokers + 1))})


def _kafka_ui(view: ClusterSnapshot, path: str) -> Reply:
    if path != "/actuator/health":
        return _not_found()
    if view.tool_effective_mode == "error":
        return Reply.json(503, {"status": "DOWN"})
    if view.tool_effective_mode == "wrong_body":
        return Reply.text(200, _WRONG_PAGE, HTML)
    return Reply.json(200, {"status": "UP"})
