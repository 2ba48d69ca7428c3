"""What the sandbox itself says was done to a cluster: its call log, and so which brokers
restarted — the demo's evidence, independent of what the daemon says it did."""

from __future__ import annotations

import json
from dataclasses import dataclass

from remediator.sandbox import RecordedCall, Sandbox
from remediator.sandbox.operations import RESTART_ALL, RESTART_KAFKA, RESTART_NODES, ROLLING

# Operations that restart every broker (at once, or one after another).
EVERY_BROKER = frozenset({RESTART_ALL, RESTART_KAFKA, ROLLING})
CLUSTER_WIDE = frozenset({RESTART_ALL, RESTART_KAFKA})  # ... and at once


@dataclass(frozen=True)
class ClusterFacts:
    """A cluster's restart calls as the sandbox recorded them, and the brokers they restarted."""

    cluster_no: str
    name: str
    calls: tuple[str, ...]  # each restart call and its answer, in words
    restarted: tuple[str, ...]  # hostnames of the brokers an applied call restarted
    untouched: tuple[str, ...]  # hostnames of the brokers none did
    cluster_wide: tuple[str, ...]  # applied calls that restarted every broker at once

    def lines(self) -> list[str]:
        """The facts, one line each."""
        head = f"{self.name} ({self.cluster_no}): "
        if not self.calls:
            return [head + "no restart call; every broker untouched"]
        restarted = ", ".join(self.restarted) or "none"
        return [
            head + "restart calls: " + "; ".join(self.calls),
            f"{head}brokers restarted: {restarted}; never restarted: "
            + (", ".join(self.untouched) or "none"),
        ]


def of(sb: Sandbox, cluster_no: str) -> ClusterFacts:
    """The facts of one cluster, read from the sandbox now."""
    snap = sb.cluster(cluster_no)
    brokers = [(n.compute_instance_no, n.host_name) for n in snap.nodes if n.role == "BROKER"]
    restarted: set[int] = set()
    words: list[str] = []
    wide: list[str] = []
    for call in sb.action_calls(cluster_no):
        named = named_nodes(call)
        words.append(_words(call, named))
        if not call.applied:
            continue
        if call.operation in EVERY_BROKER:
            restarted |= {no for no, _ in brokers}
        elif call.operation == RESTART_NODES:
            restarted |= set(named)
        if call.operation in CLUSTER_WIDE:
            wide.append(str(call.operation))
    return ClusterFacts(
        cluster_no=cluster_no,
        name=snap.name,
        calls=tuple(words),
        restarted=tuple(host for no, host in brokers if no in restarted),
        untouched=tuple(host for no, host in brokers if no not in restarted),
        cluster_wide=tuple(wide),
    )


def named_nodes(call: RecordedCall) -> tuple[int, ...]:
    """The computeInstanceNoList a per-node restart named (empty for any other call)."""
    if call.operation != RESTART_NODES or not call.body:
        return ()
    try:
        listed = json.loads(call.body).get("computeInstanceNoList", [])
    except (ValueError, AttributeError):
        return ()
    return tuple(no for no in listed if isinstance(no, int))


def _words(call: RecordedCall, nodes: tuple[int, ...]) -> str:
    what = str(call.operation) + (f" {list(nodes)}" if nodes else "")
    if call.http_status != 200:
        answer = f"HTTP {call.http_status}, errorCode {call.error_code}"
        answer += f" ({call.reason})" if call.reason else ""
    else:
        answer = f"code {call.code}" + (f" ({call.reason})" if call.reason else "")
    return f"{what} → {answer}, " + ("applied" if call.applied else "nothing restarted")
