"""The one place that knows everyone: builds a config's collaborators — secrets, metrics, the
signed clients, the prober, the ledger, the engine restored from it, the driver, the webhook
intake and the operator commands.

The daemon builds them at start (`build`) and again for a reloaded config (`rebuild`, which
keeps the ledger, the probe loop and the driver); the offline operator commands build them
on the ledger without a daemon.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import CollectorRegistry

from remediator.clock import Clock, SteadyClock, wall_clock
from remediator.config.health import HealthCheck
from remediator.config.loader import Config, Secrets, resolve_secrets
from remediator.core.alerts import EPISODE_MEMORY
from remediator.core.engine import Engine
from remediator.core.state import ActionRecord
from remediator.http.alertmanager import index_targets
from remediator.http.intake import AlertIntake
from remediator.metrics import Metrics
from remediator.ncp.client import CdssClient, Credentials
from remediator.notify.dispatcher import Dispatcher
from remediator.notify.sinks import Router, sinks_of
from remediator.probe.loop import ProbeLoop
from remediator.probe.runner import Prober
from remediator.runtime.driver import Driver
from remediator.runtime.executors import DeferredExecutor
from remediator.runtime.operations import Operator
from remediator.runtime.respect import Respect
from remediator.runtime.walltime import WallTimeLedger
from remediator.store import Ledger, open_ledger

log = logging.getLogger("remediator.runtime.daemon")


@dataclass(frozen=True)
class Parts:
    """A config's collaborators, as `build` wired them."""

    config: Config
    secrets: Secrets
    metrics: Metrics
    client: CdssClient
    path_client: CdssClient  # readiness checks: one attempt, bounded by the timeout
    probe_loop: ProbeLoop  # the probes' event loop and session; the daemon runs it
    prober: Prober
    ledger: Ledger
    engine: Engine
    actions: Executor
    driver: Driver
    intake: AlertIntake
    operator: Operator
    dispatcher: Dispatcher  # sends the outbox; started by the daemon, never by a command
    respect: Respect

    def close(self) -> None:
        """Stop the sender; close the ledger, the clients and the probe loop (the executor is the
        caller's)."""
        self.dispatcher.stop()
        self.ledger.close()
        self.client.close()
        self.path_client.close()
        self.probe_loop.stop()
        self.respect.close()


def build(  # noqa: PLR0913 - injected collaborators, by keyword
    config: Config,
    *,
    clock: Clock,
    registry: CollectorRegistry,
    environ: Mapping[str, str] | None = None,
    dry_run: bool = False,
    executor: Executor | None = None,
    ledger: Ledger | None = None,
) -> Parts:
    """Every collaborator for `config`; the engine remembers what the ledger holds.

    `ledger` None opens the configured one; `executor` None makes the actions' thread pool.
    """
    secrets = resolve_secrets(config, environ=environ)
    metrics = Metrics(registry)
    client = make_client(config, secrets, clock=clock, metrics=metrics)
    path_client = make_client(config, secrets, clock=clock, metrics=metrics, single_attempt=True)
    probe_loop = ProbeLoop()
    prober = Prober(probe_loop, clock, secrets.by_ref)
    if ledger is None:
        ledger = open_ledger(path=config.state.path, url=config.state.url, source=config.path)
    if isinstance(clock, SteadyClock):  # the daemon's parts decide on steady time
        ledger = WallTimeLedger(ledger, clock)
    engine = make_engine(config, ledger, now=clock.now(), metrics=metrics, announce=True)
    actions = executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix="actions")
    router = Router(sinks_of(config.notify, secrets.by_ref))
    respect = Respect.from_config(config, clock=clock, metrics=metrics)
    driver = Driver(
        engine=engine,
        ledger=ledger,
        client=client,
        probe=prober.probe,
        checks=checks_of(config),
        regions=regions_of(config),
        metrics=metrics,
        clock=clock,
        executor=actions,
        dry_run=dry_run,
        failpoint=(environ if environ is not None else os.environ).get("REMEDIATOR_FAILPOINT"),
        router=router,
        respect=respect,
    )
    driver.path_client = path_client
    intake = AlertIntake(
        token=secrets.webhook_token,
        targets=engine.policy.targets,
        ledger=ledger,
        metrics=metrics,
        clock=clock,
        submit=driver.feed_alerts,
        health=driver.ledger_watch,
    )
    operator = Operator(
        driver,
        ledger,
        clock,
        drain=actions.drain if isinstance(actions, DeferredExecutor) else None,
    )
    return Parts(
        config=config,
        secrets=secrets,
        metrics=metrics,
        client=client,
        path_client=path_client,
        probe_loop=probe_loop,
        prober=prober,
        ledger=ledger,
        engine=engine,
        actions=actions,
        driver=driver,
        intake=intake,
        operator=operator,
        dispatcher=Dispatcher(ledger, router, clock=clock, metrics=metrics),
        respect=respect,
    )


def rebuild(parts: Parts, config: Config, secrets: Secrets, *, clock: Clock) -> Parts:
    """The parts for a reloaded `config`, switched to under the driver's lock.

    A new engine with the new rules, restored from the ledger and taking over what the old one
    saw live; new clients only when the `ncp` section or the keys changed; the notification
    sinks as now configured; the ledger, the probe loop, the driver, the intake, the operator
    commands and the notification sender are kept.
    """
    old = parts
    client, path_client = old.client, old.path_client
    if (
        config.ncp != old.config.ncp
        or secrets.access_key != old.secrets.access_key
        or secrets.secret_key != old.secrets.secret_key
    ):
        # The old clients are not closed: an in-flight action may still be using them.
        client = make_client(config, secrets, clock=clock, metrics=old.metrics)
        path_client = make_client(
            config, secrets, clock=clock, metrics=old.metrics, single_attempt=True
        )
    prober = Prober(old.probe_loop, clock, secrets.by_ref)
    router = Router(sinks_of(config.notify, secrets.by_ref))
    # The old one is not closed: a look before acting may be asking Alertmanager.
    respect = Respect.from_config(config, clock=clock, metrics=old.metrics)
    driver = old.driver
    with driver.lock:
        engine = make_engine(config, old.ledger, now=clock.now(), metrics=old.metrics)
        engine.adopt(driver.engine)
        driver.rewire(
            engine=engine,
            client=client,
            path_client=path_client,
            probe=prober.probe,
            checks=checks_of(config),
            regions=regions_of(config),
            router=router,
            respect=respect,
        )
        old.intake.targets = engine.policy.targets
        old.intake.index = index_targets(engine.policy.targets)
    old.dispatcher.rewire(router)
    return replace(
        old,
        config=config,
        secrets=secrets,
        client=client,
        path_client=path_client,
        prober=prober,
        engine=engine,
        respect=respect,
    )


def make_client(
    config: Config,
    secrets: Secrets,
    *,
    clock: Clock,
    metrics: Metrics,
    single_attempt: bool = False,
) -> CdssClient:
    """The signed CDSS client; `single_attempt` for readiness checks, else with retries."""
    # Readiness checks get one try bounded by the timeout; actions and reads, retries.
    limits: dict[str, Any] = (
        {"deadline": config.ncp.timeout + 5.0, "max_attempts": 1, "pool_size": 1}
        if single_attempt
        else {"deadline": max(30.0, 3 * config.ncp.timeout)}
    )
    return CdssClient(
        credentials=Credentials(secrets.access_key, secrets.secret_key),
        clock=wall_clock(clock),  # signatures carry the wall time the gateway checks
        site=config.ncp.site,
        region=config.ncp.region,
        endpoint=config.ncp.endpoint,
        metrics=metrics,
        read_timeout=config.ncp.timeout,
        **limits,
    )


def make_engine(
    config: Config,
    ledger: Ledger,
    *,
    now: float,
    metrics: Metrics | None = None,
    announce: bool = False,
) -> Engine:
    """An engine for `config` that remembers the ledger: cooldowns, budgets, breakers, pauses,
    decided alert episodes and unfinished remediations (`announce`: log those it resumes)."""
    engine = Engine(config.policy())
    horizon = max([3600.0] + [max(r.cooldown, r.budget.per) for r in engine.policy.rules])
    seen: set[tuple[str, str, float]] = set()
    records: list[ActionRecord] = []
    for rec in ledger.actions_since(now - horizon) + ledger.unfinished_actions():
        key = (rec.rule, rec.target, rec.intent_at)
        if key not in seen:
            seen.add(key)
            records.append(rec)
    breakers = ledger.open_breakers()
    engine.restore(
        records,
        breakers=breakers,
        pauses=ledger.active_pauses(now),
        decided_episodes=ledger.settled_episodes(now - EPISODE_MEMORY),
        approvals=ledger.approvals_since(now - horizon),
        now=now,
    )
    for rec in records if announce else ():
        # One without a recorded result is said by `reconcile.settle` at the daemon's start.
        if rec.mode == "enforce" and rec.remediation is None and rec.result is not None:
            log.warning(
                f"resuming {rec.action} on {rec.target} from the ledger "
                f"(outcome {rec.result or 'never recorded'}): verifying, not resending",
                extra={"event": "restore", "rule": rec.rule, "target": rec.target},
            )
    if metrics is not None:
        for rule, target in breakers:
            metrics.breaker_open.labels(rule=rule, target=target).set(1)
    return engine


def checks_of(config: Config) -> dict[str, HealthCheck]:
    """Each target's manager-tool probe, by target name."""
    return {c.target: c for c in config.health_checks()}


def regions_of(config: Config) -> dict[str, str]:
    """Each target's CDSS region, by target name."""
    return {t.name: config.region_of(t) for t in config.targets}


def look_pool_size(config: Config) -> int:
    """Threads for the scheduled cluster-status looks (probes run on the probe loop, not on
    threads): enough for each look's worst case (a single attempt: timeout + 5 s), bounded."""
    deadline = config.ncp.timeout + 5.0
    need = sum(deadline / c.interval for c in config.cluster_checks())
    return max(2, min(64, math.ceil(need * 1.5) + 1))


def probe_sockets(config: Config) -> int:
    """How many probes may be in flight at once: each ends by its timeout (≤ its interval)."""
    return sum(math.ceil(t.health.timeout / t.health.interval) for t in config.targets)
