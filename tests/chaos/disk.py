"""A full and a read-only state directory, on a real filesystem: a 2 MiB tmpfs (tmpfs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from remediator.sandbox import Sandbox
from tests.chaos.ledgerdown import Outage, outage
from tests.chaos.proc import Daemon
from tests.chaos.tmpfs import fill, tmpfs


@dataclass(frozen=True)
class StartFailure:
    """How `remediator run` ended on a state directory it cannot write."""

    what: str
    code: int | None
    output: str

    @property
    def clear(self) -> bool:
        """Exit 1 (systemd may try again), a message naming the ledger, no traceback."""
        return (
            self.code == 1
            and "cannot start: ledger" in self.output
            and "Traceback" not in self.output
        )


def at_start(tmp: Path, sb: Sandbox, *, read_only: bool) -> StartFailure:
    """Start a daemon whose state directory is full, or read-only."""
    with tmpfs(tmp / "state", read_only=read_only) as state:
        if not read_only:
            fill(state)
        d = Daemon(tmp / "d", sb, db=state / "state.db")
        try:
            code = d.start().wait(30)
        finally:
            d.kill()
    what = "read-only state directory at start" if read_only else "full state directory at start"
    return StartFailure(what, code, d.output())


def filling(tmp: Path, sb: Sandbox, seconds: float = 15.0) -> Outage:
    """The state directory fills up just before a trip and stays full `seconds`."""
    with tmpfs(tmp / "state") as state:
        d = Daemon(tmp / "d", sb, db=state / "state.db", cooldown="1h", grace="1s", verify="20s")
        fillers: list[Path] = []

        def free() -> None:
            fillers[0].unlink()

        return outage(
            d,
            sb,
            f"state directory full {seconds:g} s",
            seconds,
            begin=lambda: fillers.append(fill(state)),
            end=free,
        )
