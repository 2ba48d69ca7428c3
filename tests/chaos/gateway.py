"""The gateway fault matrix: every error of NCP's gateway table (5xx both applied and not), a
dropped connection, an applied call whose answer never comes, and a hang, each on the action
(restartCMAKService) and on the status read before it (getClusterStatus) — one incident each,
on a stepped daemon against the sandbox. What must hold: an action whose outcome is unknown is
never sent again, and no call is applied twice."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import requests

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.harness import AK, ORDERS, SK, Harness

TABLE = Path(__file__).parent.parent / "fixtures" / "ncp" / "gateway-errors.json"
RULE = """
  - name: cmak-unhealthy
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    cooldown: 1h
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""
OPERATIONS = ("restartCMAKService", "getClusterStatus")


@dataclass(frozen=True)
class Kind:
    """One fault, on one operation."""

    name: str
    operation: str
    fault: dict[str, object]  # the sandbox admin API's fault, as JSON


@dataclass(frozen=True)
class Incident:
    """What one incident under a fault came to."""

    kind: Kind
    calls: int  # restartCMAKService requests that reached the gateway
    applied: int  # of them, carried out
    result: str | None  # the ledger's result of the action (None: none recorded)
    resends_after_unknown: int


def kinds() -> list[Kind]:
    """The matrix."""
    faults: list[tuple[str, dict[str, object]]] = []
    for row in json.loads(TABLE.read_text())["errors"]:
        http, code = int(row["http"]), str(row["errorCode"])
        faults.append((f"{http}/{code}", {"kind": "error", "http": http, "error_code": code}))
        if http >= 500:
            applied = {"kind": "error", "http": http, "error_code": code, "applied": True}
            faults.append((f"{http}/{code} applied", applied))
    faults += [
        ("dropped connection", {"kind": "drop"}),
        ("applied, then no answer", {"kind": "apply_then_timeout", "hold_seconds": 3.0}),
    ]
    return [
        Kind(f"{name} on {operation}", operation, {**fault, "operation": operation, "count": 1})
        for operation in OPERATIONS
        for name, fault in faults
    ]


def incident(tmp: Path, kind: Kind) -> Incident:
    """Break CMAK under `kind`'s fault and follow the incident to its end."""
    tmp.mkdir(parents=True, exist_ok=True)
    clock = FakeClock()
    sb = Sandbox(access_key=AK, secret_key=SK, clock=clock, restart_delay=20.0).start()
    try:
        sb.set_cmak_restart(ORDERS, "available")
        h = Harness(tmp, sb, clock, RULE)
        try:
            sb.break_tool(ORDERS, "down")
            requests.post(sb.admin_url + "/faults", json=kind.fault, timeout=5).raise_for_status()
            # Until the remediation has ended, and 5 more minutes of trips held by its cooldown.
            for _ in range(20):
                h.run(60)
                if h.metric(
                    "remediator_remediations_total",
                    rule="cmak-unhealthy",
                    target="orders",
                    outcome="recovered",
                ) + h.metric(
                    "remediator_remediations_total",
                    rule="cmak-unhealthy",
                    target="orders",
                    outcome="not_recovered",
                ):
                    h.run(5 * 60)
                    break
        finally:
            h.daemon.ledger.close()
        calls = [c for c in sb.calls if c.operation == "restartCMAKService"]
    finally:
        sb.stop()
    db = sqlite3.connect(tmp / "state.db")
    try:
        results = [str(r[0]) for r in db.execute("SELECT result FROM actions ORDER BY id")]
    finally:
        db.close()
    result = results[0] if results else None
    resends = max(0, len(calls) - 1) if "unknown" in results else 0
    return Incident(
        kind=kind,
        calls=len(calls),
        applied=sum(1 for c in calls if c.applied),
        result=result,
        resends_after_unknown=resends,
    )
