"""A registry in the format a scraper asks for, the `series` families written from their
pre-rendered lines and every other family by prometheus_client's own encoder.

The format is prometheus_client's choice (`choose_encoder`: text 0.0.4 unless the Accept
header asks for OpenMetrics >= 1.0 or text 1.0, with a name-escaping scheme). The registry is
walked once, in its order; runs of ordinary families go through the chosen encoder as they
are, a `FamilySnapshot` is written by `render` (unless the escaping scheme would change its
names, which none of ours does), and OpenMetrics' `# EOF` comes once, last. Both encoders write
a registry family after family with nothing between, so the result is what the encoder would
write for the whole registry (tests/test_exposition.py compares them byte for byte).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.exposition import UNDERSCORES
from prometheus_client.registry import Collector

from remediator.series import FamilySnapshot

_OPENMETRICS = "application/openmetrics-text"
_EOF = b"# EOF\n"


@dataclass(frozen=True)
class Format:
    """What a scrape gets: prometheus_client's encoder and content type, and what they mean."""

    encoder: Callable[[Collector], bytes]
    content_type: str
    openmetrics: bool
    escaping: str  # how names outside the legacy character set are written


def choose(accept: str | None) -> Format:
    """The format for this Accept header, as prometheus_client's make_wsgi_app chooses it."""
    encoder, content_type = choose_encoder(accept or "")
    _kind, *params = (p.strip() for p in content_type.split(";"))
    escaping = next((p[9:] for p in params if p.startswith("escaping=")), UNDERSCORES)
    return Format(encoder, content_type, content_type.startswith(_OPENMETRICS), escaping)


class _Metrics:
    """Some families already collected, for an encoder that wants a collector."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def generate(registry: Collector, fmt: Format) -> bytes:
    """The whole registry, as `fmt.encoder(registry)` would write it."""
    chunks: list[bytes] = []
    others: list[Metric] = []
    for metric in registry.collect():
        if isinstance(metric, FamilySnapshot) and metric.family.plain(fmt.escaping):
            if others:
                chunks.append(_encode(others, fmt))
                others = []
            chunks.append(metric.render(fmt.openmetrics).encode("utf-8"))
        else:
            others.append(metric)
    if others:
        chunks.append(_encode(others, fmt))
    if fmt.openmetrics:
        chunks.append(_EOF)
    return b"".join(chunks)


def _encode(metrics: list[Metric], fmt: Format) -> bytes:
    out = fmt.encoder(_Metrics(metrics))
    # The OpenMetrics encoder ends each piece with `# EOF`; the scrape's one comes at its end.
    return out.removesuffix(_EOF) if fmt.openmetrics else out
