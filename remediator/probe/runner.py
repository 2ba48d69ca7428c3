"""Health probes: one look at a manager tool → a `ProbeResult` (expected failures are values).

The look itself is a coroutine on the probe loop (`probe_async`); `probe` is the same look for a
caller on another thread, which waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from remediator.clock import Clock
from remediator.config.health import HealthCheck
from remediator.core.events import ProbeResult
from remediator.probe.client import HttpClient
from remediator.probe.http import fetch
from remediator.probe.loop import ProbeLoop
from remediator.secrets import Secret, SecretRef, resolve


class Prober:
    """Looks at targets' tools on one probe loop; never raises for a sick target."""

    def __init__(
        self,
        loop: ProbeLoop,
        clock: Clock,
        secrets: Mapping[SecretRef, Secret] | None = None,
    ) -> None:
        self.loop = loop
        self._clock = clock
        self._secrets = dict(secrets or {})

    def probe(self, check: HealthCheck) -> ProbeResult:
        """GET `check.url` and judge the answer, waiting for it (not from the probe loop)."""
        return self.loop.run(lambda client: self.look(client, check))

    async def probe_async(self, check: HealthCheck) -> ProbeResult:
        """The same look, on the running probe loop."""
        return await self.look(self.loop.client, check)

    async def look(self, client: HttpClient, check: HealthCheck) -> ProbeResult:
        """One look through `client`; `reason` is "ok" or why the target is unhealthy."""
        start = self._clock.monotonic()
        reason = await fetch(client, check, self._auth(check))
        return ProbeResult(
            target=check.target,
            ok=reason == "ok",
            reason=reason,
            at=self._clock.now(),
            duration=max(0.0, self._clock.monotonic() - start),
        )

    def _auth(self, check: HealthCheck) -> tuple[str, str] | None:
        if check.basic_auth is None:
            return None
        ref = check.basic_auth.password
        if ref not in self._secrets:
            # Normally resolved at start-up (config.resolve_secrets); a CredentialError here is
            # our misconfiguration, not the target's ill health, so it is not turned into a value.
            self._secrets[ref] = resolve(ref)
        return (check.basic_auth.username, self._secrets[ref].reveal())
