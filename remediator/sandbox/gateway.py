"""The simulated API Gateway in front of CDSS: authenticate, route, inject faults, answer.

Order, as a gateway works: (1) signature v2, key and timestamp window, else 401/200;
(2) the route — an unknown path, a method the operation does not take, or a withdrawn
restartCMAKService is 404/300; (3) an injected fault, if one is pending; (4) the backend,
whose answer is the `{"code", "message", "result", "requestId"}` envelope.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from remediator.clock import Clock
from remediator.sandbox import auth, errortable
from remediator.sandbox.calls import CallLog, RecordedCall
from remediator.sandbox.faults import Fault, FaultQueue
from remediator.sandbox.replies import Close, Outcome, Reply
from remediator.sandbox.state import (
    ACTIONS,
    GET_INFO,
    GET_STATUS,
    OPERATIONS,
    RESTART_CMAK,
    BackendResult,
    Clusters,
)

PREFIXES = ("/api/v1", "/api/sgn-v1", "/api/jpn-v1", "/api/krs-v1")
_ROUTE = re.compile(r"/api/(?:v1|sgn-v1|jpn-v1|krs-v1)/cluster/(?P<op>[A-Za-z]+)/(?P<no>[^/]+)")


@dataclass(frozen=True)
class Request:
    """A request as received: method, raw target, headers (any case), body."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class _Route:
    operation: str | None
    cluster_no: str | None


def _route(method: str, target: str) -> _Route:
    path = target.split("?", 1)[0]
    m = _ROUTE.fullmatch(path)
    if m is None:
        return _Route(None, None)
    op, no = m["op"], m["no"]
    if OPERATIONS.get(op) != method:
        # the gateway maps (method, path) to an operation: another method is no operation
        return _Route(None, no)
    return _Route(op, no)


def _retry_after(seconds: float) -> str:
    # fractional seconds are not standard HTTP, but keep rehearsals and tests fast
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class Gateway:
    """Answers gateway requests; records every one in `calls`."""

    def __init__(
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
        route = _route(request.method, request.target)
        call = RecordedCall(
            time=now,
            method=request.method,
            target=request.target,
            operation=route.operation,
            cluster_no=route.cluster_no,
            verified=verdict.ok,
            reason=None,
            http_status=None,
            error_code=None,
            code=None,
            applied=False,
            request_id=None,
        )
        if not verdict.ok:
            call = replace(call, detail=verdict.detail)
            return self._gateway_error(call, errortable.AUTH_FAILED, verdict.reason)
        if route.operation is None or route.cluster_no is None:
            return self._gateway_error(call, errortable.NOT_FOUND, "no such operation")
        if route.operation == RESTART_CMAK and self._clusters.cmak_restart_withdrawn(
            route.cluster_no
        ):
            return self._gateway_error(call, errortable.NOT_FOUND, "restartCMAKService withdrawn")
        fault = self._faults.take(route.operation)
        if fault is None:
            return self._backend(call, route.operation, route.cluster_no)
        return self._with_fault(call, fault, route.operation, route.cluster_no)

    def _with_fault(self, call: RecordedCall, fault: Fault, op: str, no: str) -> Outcome:
        call = replace(call, fault=fault.kind)
        if fault.kind == "error":
            assert fault.http is not None and fault.error_code is not None
            applied = fault.applied and op in ACTIONS and self._clusters.act(no, op).applied
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
            result = self._run(op, no)
            self._calls.record(replace(call, reason="injected timeout", applied=result.applied))
            return Close(hold=fault.seconds)
        return self._backend(call, op, no)

    def _run(self, op: str, no: str) -> BackendResult:
        if op in ACTIONS:
            return self._clusters.act(no, op)
        if op == GET_STATUS:
            return self._clusters.cluster_status(no)
        assert op == GET_INFO
        return self._clusters.cluster_info(no)

    def _backend(self, call: RecordedCall, op: str, no: str) -> Reply:
        result = self._run(op, no)
        request_id = str(uuid.uuid4())
        self._calls.record(
            replace(
                call,
                http_status=200,
                code=result.code,
                applied=result.applied,
                request_id=request_id,
                reason=None if result.code == 0 else result.message,
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
