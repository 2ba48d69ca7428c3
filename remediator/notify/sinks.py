"""The configured sinks, and which of them each notice goes to (by event and target glob)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from remediator.config.notifymodel import NotifySink, SinkKind
from remediator.notify.notice import Notice
from remediator.secrets import Secret, SecretRef


@dataclass(frozen=True)
class Sink:
    """One place notifications go; its URL is a secret and never shown."""

    name: str
    kind: SinkKind
    url: Secret
    events: frozenset[str]
    targets: tuple[str, ...] = ("*",)
    give_up_after: float = 3600.0
    timeout: float = 10.0

    def wants(self, n: Notice) -> bool:
        """Whether this sink takes `n`: its event, and its target (a notice about remediator
        itself, with no target, goes to every sink that takes its event)."""
        if n.event not in self.events:
            return False
        return n.target is None or any(fnmatchcase(n.target, p) for p in self.targets)


@dataclass(frozen=True)
class Delivery:
    """A notice for one sink, as the outbox writes it (see `store.outbox.OutboxEntry`)."""

    id: str
    sink: str
    event: str
    target: str | None
    at: float
    body: str


class Router:
    """Routes notices to the sinks that want them; `wake` tells the sender there is news."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks: dict[str, Sink] = {s.name: s for s in sinks}
        self.wake: Callable[[], None] = lambda: None

    def route(self, *notices: Notice) -> list[Delivery]:
        """One delivery per notice and sink that wants it (none without sinks)."""
        return [
            Delivery(n.id, sink.name, n.event, n.target, n.at, n.json())
            for n in notices
            for sink in self.sinks.values()
            if sink.wants(n)
        ]


def sinks_of(config: Iterable[NotifySink], secrets: Mapping[SecretRef, Secret]) -> list[Sink]:
    """The sinks of a configuration's `notify:`, with their URLs read."""
    return [
        Sink(
            name=s.name,
            kind=s.kind,
            url=secrets[s.url],
            events=frozenset(s.events),
            targets=s.targets,
            give_up_after=s.give_up_after,
            timeout=s.timeout,
        )
        for s in config
    ]
