"""The clusters as the sandbox has them, watched for the narrator: each change, once, in order.

A change is told only after the call that made it: the sandbox applies a restart a moment
before it records the call, and a look in between would otherwise tell the effect before its
cause. The watcher counts the applied calls the narration has told (`told`) and holds a
cluster back while its `actions_applied` is ahead of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from remediator.sandbox import ClusterSnapshot, RecordedCall, Sandbox

ORANGE = "orange"  # a broker restarting


@dataclass(frozen=True)
class Seen:
    """What the narration tells of a cluster: its status and the colour of each part."""

    status: str
    restarting: str | None
    brokers: tuple[tuple[str, str], ...]  # (hostname, colour), in the sandbox's node order
    broker_status: str
    zookeeper: str
    tool: str

    @classmethod
    def of(cls, s: ClusterSnapshot) -> Seen:
        """The parts of `s` the narration tells."""
        brokers = tuple((n.host_name, n.broker_status) for n in s.nodes if n.broker_status)
        tool = s.cmak_status or ("up" if s.tool_effective_mode == "ok" else s.tool_effective_mode)
        return cls(s.status, s.restarting, brokers, s.broker_status, s.zookeeper_status, tool)


@dataclass(frozen=True)
class Change:
    """A cluster changed: in words, and the colours that brokers changed to."""

    cluster_no: str
    status: str
    text: str
    brokers: tuple[tuple[str, str], ...]  # (hostname, new colour) of the brokers that changed


class ClusterWatcher:
    """Looks at the sandbox's clusters when asked, and says what changed since the last look."""

    def __init__(self, sb: Sandbox, numbers: Sequence[str]) -> None:
        self._sb = sb
        first = {no: sb.cluster(no) for no in numbers}
        self._names = {no: s.name for no, s in first.items()}
        self._tools = {no: "cmak" if s.tool == "cmak" else "kafka-ui" for no, s in first.items()}
        self._last = {no: Seen.of(s) for no, s in first.items()}
        self._told = {no: s.actions_applied for no, s in first.items()}
        # Every colour each broker was seen in (its hostname), for the sandbox's facts.
        self.colours: dict[str, set[str]] = {}
        for seen in self._last.values():
            self._remember(seen)

    def told(self, call: RecordedCall) -> None:
        """The narration told `call`: what it applied may be told from now on."""
        if call.applied and call.cluster_no in self._told:
            self._told[call.cluster_no] += 1

    def changes(self) -> list[Change]:
        """What changed in each cluster since the last look (not yet what an untold call did)."""
        out: list[Change] = []
        for no, last in self._last.items():
            snap = self._sb.cluster(no)
            if snap.actions_applied > self._told[no]:
                continue  # its call is on its way to the narration: tell that first
            seen = Seen.of(snap)
            if seen != last:
                self._last[no] = seen
                self._remember(seen)
                out.append(self._change(no, last, seen))
        return out

    def restarted(self, cluster_no: str) -> list[str]:
        """The brokers of that cluster seen restarting (orange) so far, by hostname."""
        hosts = [host for host, _ in self._last[cluster_no].brokers]
        return [host for host in hosts if ORANGE in self.colours.get(host, ())]

    def _remember(self, seen: Seen) -> None:
        for host, colour in seen.brokers:
            self.colours.setdefault(host, set()).add(colour)

    def _change(self, no: str, old: Seen, new: Seen) -> Change:
        parts: list[str] = []
        before = dict(old.brokers)
        moved = tuple((h, c) for h, c in new.brokers if before.get(h) != c)
        for host, colour in moved:
            parts.append(
                f"{host} {before.get(host)} → {colour}"
                + (" (restarting)" if colour == ORANGE else "")
            )
        if new.zookeeper != old.zookeeper:
            parts.append(f"zookeeper {old.zookeeper} → {new.zookeeper}")
        if new.tool != old.tool:
            parts.append(f"{self._tools[no]} {old.tool} → {new.tool}")
        if new.status != old.status or new.restarting != old.restarting:
            doing = f" ({new.restarting} in progress)" if new.restarting else ""
            parts.append(f"cluster {old.status} → {new.status}{doing}")
        if moved:
            parts.append(f"brokerStatus {new.broker_status}")
        text = f"CDSS: cluster {self._names[no]} ({no}): " + "; ".join(parts)
        return Change(no, new.status, text, moved)
