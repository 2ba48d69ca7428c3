"""The end of the demo: the daemon's own metrics, scraped over HTTP, and a summary of the run."""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

SHOWN = (
    "remediator_decisions_total",
    "remediator_actions_total",
    "remediator_ncp_requests_total",
    "remediator_remediations_total",
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
class Facts:
    """The times (seconds since the start) and numbers the summary tells."""

    broke: float
    first_failure: float
    acted: float
    fallback: bool
    changing_for: float | None
    recovered: float
    successes: int
    broke_again: float
    held: float
    cooldown: float
    held_detail: str
    payments_probes: int
    calls: int
    verified: int


def summary(f: Facts) -> str:
    """One paragraph: what happened, in order, with the numbers."""
    restart = (
        "sent a signed restartCMAKService; NCP withdrew that operation on 2026-09-17, so the "
        "gateway answered 404 / errorCode 300, and remediator fell back to restartAllServices, "
        "as the rule's fallback_action says. "
        if f.fallback
        else "sent a signed restartCMAKService, which CDSS accepted. "
    )
    changing = (
        f"The cluster was changing for {f.changing_for:.1f}s; "
        if f.changing_for is not None
        else ""
    )
    signed = f"all {f.calls} calls" if f.verified == f.calls else f"{f.verified} of {f.calls} calls"
    return (
        f"Summary: orders' CMAK went down at {f.broke:.1f}s. remediator saw its first failed probe "
        f"at {f.first_failure:.1f}s, tripped after the third, looked again (a fresh probe and the "
        f"cluster's status), checked every guard and, at {f.acted:.1f}s, {restart}The sandbox "
        f"verified the signature of {signed}. {changing}remediator "
        f"declared orders recovered at {f.recovered:.1f}s, after {f.successes} healthy probes: "
        f"{f.recovered - f.first_failure:.1f}s from the first failure. When CMAK broke again at "
        f"{f.broke_again:.1f}s, inside the {f.cooldown:g}s cooldown, remediator held back at "
        f"{f.held:.1f}s ({f.held_detail}) rather than restart the cluster again so soon. "
        f"payments (Kafka-UI) was probed {f.payments_probes} times, stayed healthy and was never "
        "touched. The action and its verified outcome are in the ledger (state.db), and every "
        "decision is in the daemon's log and counted in the metrics above."
    )
