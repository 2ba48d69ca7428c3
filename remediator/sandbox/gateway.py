"""The simulated API Gateway in front of CDSS: authenticate, route, inject faults, answer.

Order, as a gateway works: (1) signature v2, key and timestamp window, else 401/200;
(2) the route — an unknown path, a method the operation does not take, or a withdrawn
restartCMAKService is 404/300; a body that is not JSON where the operation reads one is
400/100; (3) an injected fault, if one is pending; (4) the backend, whose answer is the
`{"code", "message", "result", "requestId"}` envelope. The call log keeps each request's body.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from remediator.clock import Clock
from remediator.sandbox import auth, bodies, errortable
from remediator.sandbox.backend import Backend, Call, cluster_of
from remediator.sandbox.calls import CallLog, RecordedCall
from remediator.sandbox.faults import Fault, FaultQueue
from remediator.sandbox.model import BackendResult
from remediator.sandbox.operations import ACTIONS, RESTART_CMAK, Route, route
from remediator.sandbox.replies import Close, Outcome, Reply
from remediator.sandbox.state import Clusters

PREFIXES = ("/api/v1", "/api/sgn-v1", "/api/jpn-v1", "/api/krs-v1")
_PATH = re.compile(r"/api/(?:v1|sgn-v1|jpn-v1|krs-v1)/cluster/(?P<op>[A-Za-z]+)(?:/(?P<no>[^/]+))?")
_BODY_SHOWN = 2000  # characters of a request body kept in the call log


@dataclass(frozen=True)
class Request:
    """A request as received: method, raw target, headers (any case), body."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""


def _route(method: str, target: str) -> tuple[Route | None, str | None]:
    """The operation a request names (None: the gateway answers 404) and the path's number."""
    path = target.split("?", 1)[0]
    m = _PATH.fullmatch(path)
    if m is None:
        return None, None
    # the gateway maps (method, path) to an operation: another method is no operation
    return route(method, m["op"], m["no"] is not None), m["no"]


def _shown(body: bytes) -> str | None:
    if not body:
        return None
    return body[:_BODY_SHOWN].decode("utf-8", errors="replace")


def _retry_after(seconds: float) -> str:
    # fractional seconds are not standard HTTP, but keep rehearsals and tests fast
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class Gateway:
    """Answers gateway requests; records every one in `calls`."""

    def __init__(  # noqa: PLR0913 - injected collaborators, by keyword
        self,
        *,
        access_key: str,
        secret_key: str,
        clock: Clock,
        clusters: Clusters,
        faults: FaultQueue,
        calls: CallLog,
        stopping: threading.Event,
    ) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        self._clock = clock
        self._clusters = clusters
        self._backend = Backend(clusters)
        self._faults = faults
        self._calls = calls
        self._stopping = stopping

    def handle(self, request: Request) -> Outcome:
        """Answer one request (after any injected latency) or say how to close it."""
        now = self._clock.now()
        verdict = auth.verify(
            request.method,
            request.target,
            request.headers,
            access_key=self.access_key,
            secret_key=self._secret_key,
            now=now,
        )
        found, path_number = _route(request.method, request.target)
        call = RecordedCall(
            time=now,
            method=request.method,
            target=request.target,
            operation=found.operation if found else None,
            cluster_no=path_number,
            verified=verdict.ok,
            reason=None,
            http_status=None,
            error_code=None,
            code=None,
            applied=False,
            request_id=None,
            body=_shown(request.body),
        )
        if not verdict.ok:
            call = replace(call, detail=verdict.detail)
            return self._gateway_error(call, errortable.AUTH_FAILED, verdict.reason)
        if found is None:
            return self._gateway_error(call, errortable.NOT_FOUND, "no such operation")
        payload: object = None
        if found.reads_body:
            try:
                payload = bodies.parse(request.body)
            except bodies.NotJson as e:
                call = replace(call, detail=str(e))
                return self._gateway_error(call, errortable.BAD_REQUEST, "the body is not JSON")
        backend_call = Call(found, cluster_of(found, path_number, payload), payload)
        call = replace(call, cluster_no=backend_call.cluster_no)
        if found.operation == RESTART_CMAK and self._clusters.cmak_restart_withdrawn(
            path_number or ""
        ):
            return self._gateway_error(call, errortable.NOT_FOUND, "restartCMAKService withdrawn")
        fault = self._faults.take(found.operation)
        if fault is None:
            return self._answer(call, backend_call)
        return self._with_fault(call, fault, backend_call)

    def _with_fault(self, call: RecordedCall, fault: Fault, backend_call: Call) -> Outcome:
        call = replace(call, fault=fault.kind)
        if fault.kind == "error":
            assert fault.http is not None and fault.error_code is not None
            applied = (
                fault.applied
                and backend_call.route.operation in ACTIONS
                and self._backend.run(backend_call).applied
            )
            headers: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                headers = (("Retry-After", _retry_after(fault.retry_after)),)
            return self._gateway_error(
                replace(call, applied=applied),
                (fault.http, fault.error_code),
                "injected error",
                headers,
            )
        if fault.kind == "drop":
            self._calls.record(replace(call, reason="injected drop"))
            return Close()
        if fault.kind == "latency" and self._stopping.wait(fault.seconds):
            self._calls.record(replace(call, reason="sandbox stopped"))
            return Close()
        if fault.kind == "apply_then_timeout":
            result = self._backend.run(backend_call)
            self._calls.record(replace(call, reason="injected timeout", applied=result.applied))
            return Close(hold=fault.seconds)
        return self._answer(call, backend_call)

    def _answer(self, call: RecordedCall, backend_call: Call) -> Reply:
        result: BackendResult = self._backend.run(backend_call)
        request_id = str(uuid.uuid4())
        self._calls.record(
            replace(
                call,
                http_status=200,
                code=result.code,
                applied=result.applied,
                request_id=request_id,
                reason=None if (result.code, result.message) == (0, "SUCCESS") else result.message,
            )
        )
        envelope = {
            "code": result.code,
            "message": result.message,
            "result": result.result,
            "requestId": request_id,
        }
        return Reply.json(200, envelope)

    def _gateway_error(
        self,
        call: RecordedCall,
        key: tuple[int, str],
        reason: str | None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Reply:
        error = errortable.lookup(*key)
        self._calls.record(
            replace(call, http_status=error.http, error_code=error.error_code, reason=reason)
        )
        return Reply(error.http, error.body(), headers=headers)
