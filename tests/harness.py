"""A daemon without its scheduler, stepped by hand against the sandbox on one FakeClock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from remediator.clock import FakeClock
from remediator.config.loader import load_config
from remediator.runtime.daemon import Daemon
from remediator.runtime.executors import DeferredExecutor
from remediator.sandbox import Sandbox
from remediator.store import Ledger

AK, SK = "HARNESS-AK", "harness-sk"  # sandbox test keys, not secrets
ORDERS, PAYMENTS, ANALYTICS = "1484848", "1484849", "1484850"

CMAK_RULE = """
  - name: cmak-unhealthy
    targets: ["orders", "analytics"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    fallback_action: restart_all_services
    max_blast_radius: cluster
    cooldown: 15m
    budget: {max: 3, per: 6h}
    verify: {grace: 10s, successes: 2, timeout: 2m}
"""


class Harness:
    """A daemon without its scheduler: `step()` probes every target once and lets time pass."""

    def __init__(
        self,
        tmp: Path,
        sb: Sandbox,
        clock: FakeClock,
        rules: str,
        *,
        ledger: Callable[[], Ledger] | None = None,
        **kw: str,
    ) -> None:
        self.sb, self.clock, self.tmp = sb, clock, tmp
        self.rules = rules
        self.ledger = ledger  # opens the ledger (default: the configured SQLite file)
        # guardrails=..., server=..., state=..., cluster_health=..., notify=... YAML fragments;
        # top=... more sections
        self.extra = kw
        self.executor = DeferredExecutor()
        self.daemon = self._build()

    def _build(self) -> Daemon:
        (self.tmp / "rules").mkdir(exist_ok=True)
        (self.tmp / "rules" / "r.yaml").write_text("rules:\n" + self.rules)
        interval = self.extra.get("cluster_health")
        cluster_health = f"    cluster_health: {{interval: {interval}}}\n" if interval else ""
        targets = "".join(
            f"""
  - name: {name}
    cluster_no: "{no}"
    health: {{kind: {kind}, url: "{self.sb.tool_url(no)}", interval: 15s, timeout: 1s}}
{cluster_health}"""
            for name, no, kind in (
                ("orders", ORDERS, "cmak"),
                ("payments", PAYMENTS, "kafka_ui"),
                ("analytics", ANALYTICS, "cmak"),
            )
        )
        (self.tmp / "remediator.yaml").write_text(
            f"""
ncp:
  endpoint: {self.sb.url}
  access_key: {{env: AK}}
  secret_key: {{env: SK}}
  timeout: 1s
server: {{{self.extra.get("server", 'listen: "127.0.0.1:0"')}}}
state: {{{self.extra.get("state", f'path: "{self.tmp / "state.db"}"')}}}
guardrails: {self.extra.get("guardrails", "{}")}
targets:{targets}
rules: [rules/*.yaml]
notify: {self.extra.get("notify", "[]")}
{self.extra.get("top", "")}
"""
        )
        config = load_config(self.tmp / "remediator.yaml")
        daemon = Daemon(
            config,
            clock=self.clock,
            registry=CollectorRegistry(),
            environ={"AK": AK, "SK": SK},
            executor=self.executor,
            ledger=None if self.ledger is None else self.ledger(),
        )
        daemon.prepare()
        return daemon

    def restart_daemon(self) -> None:
        """As after a crash: a new daemon on the same ledger."""
        self.daemon.ledger.close()
        self.executor = DeferredExecutor()
        self.daemon = self._build()

    def step(self, seconds: float = 15.0) -> None:
        for check in self.daemon.config.health_checks():
            self.daemon.driver.probe_and_feed(check)
            self.executor.drain()
        for look in self.daemon.config.cluster_checks():
            self.daemon.cluster_looks.look_and_feed(look)
            self.executor.drain()
        self.daemon.tick()
        self.daemon.check_ledger()
        self.executor.drain()
        self.clock.advance(seconds)

    def run(self, seconds: float, interval: float = 15.0) -> None:
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.step(interval)

    def metric(self, name: str, **labels: str) -> float:
        value = self.daemon.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def actions(self, no: str | None = None) -> list[str]:
        return [c.operation or "" for c in self.sb.action_calls(no)]
