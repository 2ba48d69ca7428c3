"""The end of the demo: the daemon's own metrics, scraped over HTTP, and a summary of the run."""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

SHOWN = (
    "remediator_decisions_total",
    "remediator_actions_total",
    "remediator_remediations_total",
    "remediator_ncp_requests_total",
    "remediator_breaker_open",
    "remediator_cooldown_remaining_seconds",
)
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def scrape(url: str, timeout: float = 5.0) -> str:
    """The Prometheus text at `url`; raises requests.RequestException."""
    with requests.Session() as session:
        session.trust_env = False  # a proxy from the environment must not catch loopback
        response = session.get(url, timeout=timeout)
        response.raise_for_status()
        return response.text


def metric_lines(text: str, names: tuple[str, ...] = SHOWN) -> list[str]:
    """The sample lines of the metrics `names`, in that order, as exposed."""
    found: dict[str, list[str]] = {name: [] for name in names}
    for line in text.splitlines():
        m = _NAME.match(line)
        if m is not None and m.group() in found:
            found[m.group()].append(line)
    return [line for name in names for line in found[name]]


@dataclass(frozen=True)
class BrokerAct:
    """The first act, in seconds since the start: a broker red, that node restarted."""

    host: str
    node_no: int
    broke: float
    first_look: float
    acted: float
    orange: float
    green: float
    recovered: float
    successes: int


@dataclass(frozen=True)
class ToolAct:
    """The second act: CMAK down with every broker green, no broker restarted; the cooldown."""

    broke: float
    acted: float
    not_recovered: float
    held: float
    cooldown: float
    fixed: float


@dataclass(frozen=True)
class Facts:
    """What the summary tells."""

    broker: BrokerAct
    tool: ToolAct
    brokers: int  # how many brokers orders has
    restarted: int  # how many of them the sandbox restarted
    payments_looks: int
    calls: int
    verified: int


def summary(f: Facts) -> str:
    """One paragraph: what happened, in order, with the numbers."""
    b, t = f.broker, f.tool
    signed = f"all {f.calls} calls" if f.verified == f.calls else f"{f.verified} of {f.calls} calls"
    return (
        f"Summary: {b.host} went red at {b.broke:.1f}s. remediator's cluster status reads saw "
        f"it at {b.first_look:.1f}s; broker-unhealthy tripped on the second, looked again "
        f"(getClusterStatus, and getClusterNodeList joined by hostname) and at {b.acted:.1f}s "
        f"sent restartKafkaServicePerNode for node {b.node_no} only (blast radius node). That "
        f"broker was orange for {b.green - b.orange:.1f}s, and remediator declared orders "
        f"recovered at {b.recovered:.1f}s after {b.successes} healthy status reads. Then orders' "
        f"CMAK went down at {t.broke:.1f}s with every broker green: cmak-unhealthy tripped after "
        f"3 failed probes and at {t.acted:.1f}s sent restartCMAKService, which NCP has withdrawn "
        "(404 / errorCode 300). Its only wider remedy, restart_all_services, restarts every "
        "broker and ZooKeeper at once, above the rule's max_blast_radius (tool): so remediator "
        f"stopped there, no broker restarted, and it recorded orders not recovered at "
        f"{t.not_recovered:.1f}s. With CMAK still down, the {t.cooldown:g}s cooldown held a "
        f"second try back at {t.held:.1f}s, until the on-call engineer repaired CMAK at "
        f"{t.fixed:.1f}s. The sandbox's own record: {f.restarted} of orders' {f.brokers} brokers "
        f"restarted, nothing cluster-wide; payments was looked at {f.payments_looks} times, "
        f"stayed healthy and was never touched; the sandbox verified the signature of {signed}. "
        "Every decision and outcome is in the ledger (state.db) and the daemon's log, and "
        "counted in the metrics above."
    )
