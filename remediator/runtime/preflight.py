"""The look before acting: the answer to the engine's `CheckFirst`, read from the world.

The cluster's status (is it changing already?), a fresh look at the rule's evidence when asked
(the tool's probe, or that status), what the step needs (see `remedies`), and whether a silence
or a maintenance window holds the target. Runs on the actions executor, off the driver's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from remediator.clock import Clock, as_wall
from remediator.config.health import HealthCheck
from remediator.core.decisions import CheckFirst
from remediator.core.events import PreflightResult, ProbeResult
from remediator.errors import NcpError
from remediator.ncp.client import CdssClient
from remediator.probe import cluster as cluster_look
from remediator.runtime import remedies
from remediator.runtime.actionpath import ActionPath
from remediator.runtime.probelog import say_look
from remediator.runtime.respect import Respect

log = logging.getLogger("remediator.runtime.daemon")


def look(  # noqa: PLR0913 - the driver's collaborators of the moment, by keyword
    c: CheckFirst,
    *,
    client: CdssClient,
    region: str | None,
    check: HealthCheck | None,
    probe: Callable[[HealthCheck], ProbeResult],
    path: ActionPath,
    respect: Respect | None,
    clock: Clock,
) -> PreflightResult:
    """The answer to `c`: what the world says now of its target (`check` is the target's
    health check, `probe` runs one and counts it; `path` reads the cluster's status)."""
    # Maintenance windows are on the wall clock (the decisions' clock may be steady time).
    wall = as_wall(clock, clock.now())
    held = respect.hold(c.target, wall) if c.respect and respect else None
    fresh = None
    if c.probe and c.check == "tool" and check is not None:
        fresh = probe(check)
    busy: bool | None = None
    detail = ""
    gathered = remedies.Gathered()
    try:
        status = path.read(client, c.cluster_no, region)
    except NcpError as exc:
        detail = f"getClusterStatus failed: {exc}"
        log.warning(detail, extra={"event": "preflight", "target": c.target, "rule": c.rule})
        if c.probe and c.check == "cluster":
            fresh = cluster_look.unreadable(c.target, exc, clock.now())
    else:
        busy = status.busy
        detail = cluster_look.summary(status) + (
            f", cmak {status.cmak_status}" if status.cmak_status else ""
        )
        if c.probe and c.check == "cluster":
            fresh = say_look(cluster_look.look(c.target, status, clock.now()))
        if not busy:
            gathered = remedies.gather(client, c.action, c.cluster_no, status, region)
    return PreflightResult(
        rule=c.rule,
        target=c.target,
        token=c.token,
        at=clock.now(),
        probe=fresh,
        cluster_busy=busy,
        cluster_detail=detail,
        nodes=gathered.nodes,
        nodes_detail=gathered.nodes_detail,
        precheck_ok=gathered.precheck_ok,
        precheck_message=gathered.precheck_message,
        held=held[0] if held else None,
        held_detail=held[1] if held else "",
    )
