"""Before an action, what operators already said elsewhere: the configured maintenance windows
and Alertmanager silences that hold a target — SPEC section 10.

The driver asks `Respect.hold` in the look before acting and hands the answer to the engine on
the `PreflightResult`; the engine suppresses the action (`core.respect`). Each silence check is
counted (`remediator_silence_checks_total{result}`); an Alertmanager that cannot be asked is
logged, and `alertmanager.on_error` says whether the action goes on (`act`) or is held (`hold`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from remediator.clock import Clock
from remediator.config.loader import Config
from remediator.config.windows import Schedule, Window
from remediator.core.events import HoldReason
from remediator.metrics import Metrics
from remediator.silences.client import SilencesClient, SilencesUnavailable
from remediator.silences.matching import holding

log = logging.getLogger("remediator.runtime.daemon")

Hold = tuple[HoldReason, str]


class Respect:
    """Whether a window or a silence holds a target now; built from a config by `from_config`."""

    def __init__(
        self,
        *,
        identities: Mapping[str, Mapping[str, str]],
        metrics: Metrics,
        silences: SilencesClient | None = None,
        on_error: str = "act",
        windows: Mapping[str, Sequence[Schedule]] | None = None,
    ) -> None:
        self.identities = identities
        self.windows = windows or {}
        self.metrics = metrics
        self.silences = silences
        self.on_error = on_error
        # At 0 from start-up, with or without Alertmanager, as every other series (SPEC 7).
        for result in ("clear", "silenced", "error"):
            metrics.silence_checks.labels(result=result)

    @classmethod
    def from_config(cls, config: Config, *, clock: Clock, metrics: Metrics) -> Respect:
        """The checks `config` asks for (none without `alertmanager:`)."""
        am = config.alertmanager
        client = (
            None if am is None else SilencesClient(am.endpoints, timeout=am.timeout, clock=clock)
        )
        return cls(
            identities={t.name: t.identity() for t in config.targets},
            metrics=metrics,
            silences=client,
            on_error=am.on_error if am is not None else "act",
            windows={
                t.name: tuple(m.windows() for m in config.maintenance_of(t.name))
                for t in config.targets
            },
        )

    def hold(self, target: str, now: float) -> Hold | None:
        """`(reason, detail)` when a maintenance window or a silence holds `target` at `now`;
        else None. A window is known here: Alertmanager is not asked inside one."""
        window = self.current_window(target, now)
        if window is not None:
            return "maintenance", f"inside maintenance window {window.describe()}"
        if self.silences is None:
            return None
        return self._silenced(target)

    def current_window(self, target: str, now: float) -> Window | None:
        """The maintenance window open on `target` at `now` (the one ending last), or None."""
        open_ = [w for s in self.windows.get(target, ()) if (w := s.current(now)) is not None]
        return max(open_, key=lambda w: w.end, default=None)

    def next_window(self, target: str, now: float) -> Window | None:
        """The first maintenance window on `target` that opens after `now`, or None."""
        coming = [w for s in self.windows.get(target, ()) if (w := s.next(now)) is not None]
        return min(coming, key=lambda w: w.start, default=None)

    def windows_view(self, target: str, now: float) -> dict[str, Any]:
        """`target`'s current and next maintenance window, for `status`."""

        def view(w: Window | None) -> dict[str, Any] | None:
            if w is None:
                return None
            return {
                "name": w.name,
                "start": w.start,
                "end": w.end,
                "timezone": w.timezone,
                "local_start": w.local(w.start),
                "local_end": w.local(w.end),
            }

        return {
            "current": view(self.current_window(target, now)),
            "next": view(self.next_window(target, now)),
        }

    def _silenced(self, target: str) -> Hold | None:
        assert self.silences is not None
        extra = {"event": "silences", "target": target}
        try:
            active = self.silences.active()
        except SilencesUnavailable as exc:
            return self._unknown(target, f"Alertmanager could not be asked ({exc})", extra)
        verdict = holding(active, self.identities.get(target, {"remediator_target": target}))
        if verdict.held is not None:
            self.metrics.silence_checks.labels(result="silenced").inc()
            return "silenced", f"held by Alertmanager {verdict.held.describe()}"
        if verdict.unreadable:
            why = f"a silence could not be evaluated ({verdict.unreadable})"
            return self._unknown(target, why, extra)
        self.metrics.silence_checks.labels(result="clear").inc()
        return None

    def _unknown(self, target: str, why: str, extra: dict[str, str]) -> Hold | None:
        """Alertmanager's word is not known: `on_error` decides, and the log says so."""
        self.metrics.silence_checks.labels(result="error").inc()
        if self.on_error == "hold":
            log.warning(f"{why}: holding {target} (alertmanager.on_error: hold)", extra=extra)
            return "silenced", f"{why}; alertmanager.on_error is hold"
        log.warning(
            f"{why}: acting on {target} as if no silence held it (alertmanager.on_error: act)",
            extra=extra,
        )
        return None

    def close(self) -> None:
        """Close the Alertmanager session."""
        if self.silences is not None:
            self.silences.close()
