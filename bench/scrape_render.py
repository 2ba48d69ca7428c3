"""What a /metrics scrape and the gauges' 1 s tick cost in CPU, in this process, at N targets.

    .venv/bin/python bench/scrape_render.py [--targets 5000] [--rules 0 2] [--repeat 5]

Builds `Metrics` on a fresh registry with `--targets` targets and each number of `--rules`
rules per target (declared as the daemon declares them, probes counted, gauges set), twice:
"before", prometheus_client's Counter and Gauge served by its `make_wsgi_app` (as up to
remediator 0.1.0), and "after", `remediator.series` families served by the daemon's app
(`remediator.http.server.make_app`). For each it times, as CPU (`time.process_time`, the best
of `--repeat` runs):

- `collect`: `registry.collect()` and every sample of it (what `get_sample_value` walks);
- GET /metrics asked as bench/probes.py asks (requests' `Accept: */*`, so text 0.0.4) and as
  Prometheus 2 and 3 ask (OpenMetrics first), without and with gzip;
- `tick`: what the daemon's 1 s tick does to the metrics (`Daemon._update_gauges` without its
  snapshot): `paused` and `approvals_pending` per target, `cooldown_remaining` and
  `breaker_open` per (rule, target), each through `.labels(**kw).set()`.

Prints one line per figure, in milliseconds: before, after.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app

from remediator.http.server import Routes, make_app
from remediator.metrics import Metrics

# What each scraper sends (Prometheus 2.42's and 3.x's Accept, captured from real scrapes).
ACCEPT = {
    "bench (*/*)": "*/*",
    "prometheus 2": (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    ),
    "prometheus 3": (
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
        "application/openmetrics-text;version=0.0.1;q=0.4,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
        "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    ),
}


def populate(
    targets: int, rules: int, *, stock: bool = False
) -> tuple[Metrics, list[str], list[str]]:
    """Metrics as the daemon has them after a while: declared, probes counted, some gauges 1."""
    metrics = Metrics(CollectorRegistry(), stock=stock)
    names = [f"t{n:04d}" for n in range(targets)]
    rule_names = [f"rule-{r}" for r in range(rules)]
    metrics.declare(names, [(r, t) for t in names for r in rule_names])
    for n, target in enumerate(names):
        metrics.probes.labels(target=target, result="success").inc(40 + n % 7)
        metrics.probes.labels(target=target, result="failure").inc(n % 3)
        metrics.target_up.labels(target=target).set(n % 50 != 0)
        metrics.probe_duration.observe(0.001 * (n % 100))
    return metrics, names, rule_names


def best(repeat: int, work: Callable[[], object]) -> float:
    """The least CPU seconds `work` took over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def scrape(app: Any, accept: str, encoding: str) -> Callable[[], bytes]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/metrics",
        "QUERY_STRING": "",
        "HTTP_ACCEPT": accept,
        "HTTP_ACCEPT_ENCODING": encoding,
    }

    def run() -> bytes:
        status: list[str] = []
        body = b"".join(app(dict(environ), lambda s, h: status.append(s)))
        assert status == ["200 OK"], status
        return body

    return run


def tick(metrics: Metrics, names: Iterable[str], rule_names: list[str]) -> Callable[[], None]:
    def run() -> None:
        for n, target in enumerate(names):
            metrics.paused.labels(target=target).set(0)
            metrics.approvals_pending.labels(target=target).set(False)
            for rule in rule_names:
                metrics.cooldown_remaining.labels(rule=rule, target=target).set(n % 5 * 60.5)
                metrics.breaker_open.labels(rule=rule, target=target).set(0)

    return run


def figures(targets: int, rules: int, repeat: int, *, stock: bool) -> dict[str, float]:
    """Label -> CPU milliseconds, before (`stock`) or after."""
    metrics, names, rule_names = populate(targets, rules, stock=stock)
    if stock:
        app = make_wsgi_app(metrics.registry)
    else:
        routes = Routes(metrics.registry, healthy=lambda: True, ready=lambda: True, status=dict)
        app = make_app(routes)

    def collect() -> int:
        return sum(len(family.samples) for family in metrics.registry.collect())

    found = {"collect() and its samples": best(repeat, collect)}
    for who, accept in ACCEPT.items():
        for encoding in ("", "gzip"):
            run = scrape(app, accept, encoding)
            body = run()
            if encoding:
                body = gzip.decompress(body)
            kind = "openmetrics" if body.endswith(b"# EOF\n") else "text"
            found[f"GET /metrics: {who}, {kind}{', gzip' if encoding else ''}"] = best(repeat, run)
    found[f"tick: {targets * (2 + 2 * rules)} gauges set"] = best(
        repeat, tick(metrics, names, rule_names)
    )
    return {label: seconds * 1000 for label, seconds in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--rules", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for rules in args.rules:
        metrics, _names, _rules = populate(args.targets, rules)
        text = scrape(make_wsgi_app(metrics.registry), "*/*", "")()
        series = sum(1 for line in text.splitlines() if not line.startswith(b"#"))
        print(f"{args.targets} targets, {rules} rules each: {series} series, {len(text)} bytes")
        print(f"  {'CPU ms, best of ' + str(args.repeat):<48}{'before':>8}{'after':>8}")
        before = figures(args.targets, rules, args.repeat, stock=True)
        after = figures(args.targets, rules, args.repeat, stock=False)
        for label, ms in before.items():
            print(f"  {label:<48}{ms:8.1f}{after[label]:8.1f}")


if __name__ == "__main__":
    main()
