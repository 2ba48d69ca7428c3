"""The data of `remediator status` and `/api/v1/status`: the engine's state, the ledger's recent
actions, and the action path as the driver last found it — read from them, not from metrics."""

from __future__ import annotations

from typing import Any

from remediator.clock import as_wall
from remediator.core.snapshot import snapshot
from remediator.runtime import approvals
from remediator.runtime.driver import Driver
from remediator.timetext import rfc3339


def status(driver: Driver, now: float) -> dict[str, Any]:
    """Targets, rules, cooldowns, budgets, breakers, pauses and maintenance windows at `now`,
    and the last actions."""
    with driver.lock:
        data = snapshot(driver.engine, now)
        data["approvals"] = approvals.pending(driver.engine, now)
    data["time"] = rfc3339(now)  # `at` as RFC 3339, as the logs write it
    respect = driver.respect
    wall = as_wall(driver.clock, now)  # maintenance windows are on the wall clock
    for target in data["targets"]:
        # The current and next maintenance window (None: none configured for the target).
        target["maintenance"] = (
            respect.windows_view(target["name"], wall)
            if respect is not None and respect.windows.get(target["name"])
            else None
        )
    data["recent_actions"] = [
        {
            "id": a.id,
            "rule": a.record.rule,
            "target": a.record.target,
            "cluster_no": a.cluster_no,
            "action": a.record.action,
            "mode": a.record.mode,
            "trigger": a.trigger,
            "intent_at": a.record.intent_at,
            "intent_time": rfc3339(a.record.intent_at),
            "result": a.record.result,
            "remediation": a.record.remediation,
            "request_id": a.request_id,
            "detail": a.detail,
        }
        for a in driver.ledger.recent_actions(20)
    ]
    up = driver.action_path_up
    # As the gauge remediator_action_path_up: 1.0 or 0.0; None until a signed read was made.
    data["action_path_up"] = None if up is None else float(up)
    return data
