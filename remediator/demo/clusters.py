"""The clusters as CDSS reports them, watched for the narrator: each change of status, once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from remediator.core.events import Event
from remediator.demo.narrator import Narrator
from remediator.sandbox import ClusterSnapshot, Sandbox


class ClusterWatcher:
    """Tells the narrator when a cluster's status changes, as CDSS reports it.

    It polls in a thread, and also just before each event reaches the narrator: the sandbox
    works out a finished restart when it is next asked, and a probe may be first to ask.
    """

    def __init__(self, sb: Sandbox, numbers: Sequence[str], narrator: Narrator) -> None:
        self._sb = sb
        self._narrator = narrator
        self._last = {no: self._key(sb.cluster(no)) for no in numbers}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-clusters", daemon=True)

    @staticmethod
    def _key(s: ClusterSnapshot) -> tuple[str, str | None]:
        return (s.status, s.restarting)

    def poll(self) -> None:
        """Look at every cluster once; tell the narrator of each change."""
        with self._lock:
            for no, last in self._last.items():
                snap = self._sb.cluster(no)
                if self._key(snap) != last:
                    self._last[no] = self._key(snap)
                    self._narrator.on_cluster(snap)

    def on_event(self, _event: Event) -> None:
        """A `Driver.event_listeners` listener, placed before the narrator's."""
        self.poll()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.poll()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
