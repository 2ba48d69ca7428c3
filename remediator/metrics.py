"""Every metric remediator exports (names fixed by SPEC section 7), on a given registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from remediator import __version__, series

_PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ACTION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_DETECTION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# What a ledger write records (`remediator_ledger_write_failures_total{record}`).
LEDGER_RECORDS = (
    "intent",
    "outcome",
    "remediation",
    "breaker",
    "episode",
    "shadow",
    "alerts",
    "heartbeat",
    "approval",
)


class Metrics:
    """The metric objects, built once per registry; tests pass a fresh `CollectorRegistry()`."""

    def __init__(self, registry: CollectorRegistry, *, stock: bool = False) -> None:
        """`stock`: prometheus_client's Counter and Gauge for the per-target families too, as
        before `series` (the reference the tests and bench/scrape_render.py compare with)."""
        # No `*_created` series: a quarter of the exposition at thousands of targets, for a
        # start time nobody graphs (a library-wide switch; client_python has no per-registry one).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry
        r = registry
        counter: Callable[..., series.CounterFamily] = Counter if stock else series.Counter
        gauge: Callable[..., series.GaugeFamily] = Gauge if stock else series.Gauge
        self.probes = counter(
            "remediator_probes_total", "Health probes by result.", ["target", "result"], registry=r
        )
        self.probe_duration = Histogram(
            "remediator_probe_duration_seconds",
            "Duration of health probes (all targets).",
            buckets=_PROBE_BUCKETS,
            registry=r,
        )
        self.target_up = gauge(
            "remediator_target_up",
            "Last probe of the target succeeded (1) or not (0).",
            ["target"],
            registry=r,
        )
        self.decisions = Counter(
            "remediator_decisions_total",
            "Decisions taken when a rule tripped, by outcome and reason.",
            ["rule", "target", "outcome", "reason"],
            registry=r,
        )
        self.actions = Counter(
            "remediator_actions_total",
            "Signed CDSS actions by result.",
            ["target", "action", "result"],
            registry=r,
        )
        self.action_duration = Histogram(
            "remediator_action_duration_seconds",
            "Duration of signed CDSS actions.",
            ["action"],
            buckets=_ACTION_BUCKETS,
            registry=r,
        )
        self.remediations = counter(
            "remediator_remediations_total",
            "Verified outcomes of remediations.",
            ["rule", "target", "outcome"],
            registry=r,
        )
        self.breaker_open = gauge(
            "remediator_breaker_open",
            "Circuit breaker open (1): restarts are not helping.",
            ["rule", "target"],
            registry=r,
        )
        self.cooldown_remaining = gauge(
            "remediator_cooldown_remaining_seconds",
            "Seconds until the rule may act again.",
            ["rule", "target"],
            registry=r,
        )
        self.paused = gauge(
            "remediator_paused", "Target paused for maintenance (1).", ["target"], registry=r
        )
        self.ncp_requests = Counter(
            "remediator_ncp_requests_total",
            "CDSS API requests by operation and HTTP status.",
            ["operation", "code"],
            registry=r,
        )
        self.ncp_retries = Counter(
            "remediator_ncp_retries_total",
            "CDSS API retries by operation and reason.",
            ["operation", "reason"],
            registry=r,
        )
        self.ncp_clock_skew = Gauge(
            "remediator_ncp_clock_skew_seconds",
            "Gateway Date header minus the local clock, from the last response.",
            registry=r,
        )
        self.action_path_up = Gauge(
            "remediator_action_path_up",
            "The last signed read-only CDSS call succeeded (1) or not (0).",
            registry=r,
        )
        self.alerts_received = Counter(
            "remediator_alerts_received_total",
            "Alertmanager alerts received.",
            ["status", "outcome"],
            registry=r,
        )
        self.alerts_truncated = Counter(
            "remediator_alerts_truncated_total",
            "Alerts Alertmanager left out of notifications (truncatedAlerts).",
            registry=r,
        )
        self.webhook_requests = Counter(
            "remediator_webhook_requests_total",
            "Alertmanager webhook requests by HTTP status.",
            ["code"],
            registry=r,
        )
        self.detection_to_action = Histogram(
            "remediator_detection_to_action_seconds",
            "From the first failing signal to the signed action.",
            ["action"],
            buckets=_DETECTION_BUCKETS,
            registry=r,
        )
        self.config_last_reload_success = Gauge(
            "remediator_config_last_reload_success",
            "The last configuration (re)load succeeded (1) or was refused (0).",
            registry=r,
        )
        self.build_info = Gauge(
            "remediator_build_info", "remediator build information.", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)
        self.notifications = Counter(
            "remediator_notifications_total",
            "Notification delivery attempts by sink, event and result (sent/retried/failed).",
            ["sink", "event", "result"],
            registry=r,
        )
        self.notifications_pending = Gauge(
            "remediator_notifications_pending",
            "Notifications in the outbox waiting to be sent.",
            registry=r,
        )
        self.approvals_pending = gauge(
            "remediator_approvals_pending",
            "A restart of the target waits for a human's approval (1).",
            ["target"],
            registry=r,
        )
        self.silence_checks = Counter(
            "remediator_silence_checks_total",
            "Alertmanager silences asked before an action, by result (clear, silenced, error).",
            ["result"],
            registry=r,
        )
        self.ledger_writable = Gauge(
            "remediator_ledger_writable",
            "The ledger took the last write (1), or cannot be written now (0): no action is sent.",
            registry=r,
        )
        self.ledger_write_failures = Counter(
            "remediator_ledger_write_failures_total",
            "Ledger writes that failed (disk full, locked, read-only, database down), by record.",
            ["record"],
            registry=r,
        )
        for record in LEDGER_RECORDS:  # from start-up, so that increase() sees the first
            self.ledger_write_failures.labels(record=record)
        self.ledger_deferred = Gauge(
            "remediator_ledger_deferred_records",
            "Records kept in memory until the ledger takes writes again.",
            registry=r,
        )
        self.standby = Gauge(
            "remediator_standby",
            "1 while this process stands by for a PostgreSQL ledger another daemon holds.",
            registry=r,
        )
        self.action_info = Gauge(
            "remediator_action_info",
            "1 for every action, labelled with its blast radius (join on action).",
            ["action", "blast_radius"],
            registry=r,
        )
        self.decision_actions = Counter(
            "remediator_decisions_by_action_total",
            "Decisions by the action decided on and outcome (join remediator_action_info).",
            ["action", "outcome"],
            registry=r,
        )

    def declare_actions(self, blast_radii: Iterable[tuple[str, str]]) -> None:
        """Say every (action, blast radius) as `remediator_action_info`, and count each action's
        decisions from 0, so that dashboards can join on `action` from start-up."""
        for action, radius in blast_radii:
            self.action_info.labels(action=action, blast_radius=radius).set(1)
            for outcome in ("acted", "suppressed", "shadow"):
                self.decision_actions.labels(action=action, outcome=outcome)

    def declare(self, targets: list[str], rule_targets: list[tuple[str, str]]) -> None:
        """Create the per-target and per-(rule, target) gauges at 0 so they exist from start-up."""
        for target in targets:
            self.target_up.labels(target=target)
            self.paused.labels(target=target)
            self.approvals_pending.labels(target=target)
        for rule, target in rule_targets:
            self.breaker_open.labels(rule=rule, target=target)
            self.cooldown_remaining.labels(rule=rule, target=target)
            # Counters too, so that rate() and increase() see their first event.
            for outcome in ("recovered", "not_recovered"):
                self.remediations.labels(rule=rule, target=target, outcome=outcome)

    def declare_notifications(self, sinks: list[tuple[str, tuple[str, ...]]]) -> None:
        """Create each (sink, event, result) counter at 0, for the events each sink takes."""
        for sink, events in sinks:
            for event in events:
                for result in ("sent", "retried", "failed"):
                    self.notifications.labels(sink=sink, event=event, result=result)
