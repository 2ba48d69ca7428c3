"""The action path to CDSS — the signed calls' keys, permissions, region and clock — as the
driver last found it: every signed read-only call says whether it is up, and a readiness check
makes one such call per region, so that a broken path shows before an incident needs it.
"""

from __future__ import annotations

import logging

from remediator.clock import Clock
from remediator.core.rules import Policy
from remediator.errors import NcpError
from remediator.ncp.client import CdssClient
from remediator.ncp.results import ClusterStatus
from remediator.notify import messages
from remediator.runtime.notices import Notices

log = logging.getLogger("remediator.runtime.daemon")


class ActionPath:
    """Whether signed calls to CDSS work, per region and overall, and the notices of changes."""

    def __init__(self, notices: Notices, clock: Clock) -> None:
        self.notices = notices
        self.clock = clock
        # Whether the last signed read-only call succeeded (None: none made yet).
        self.up: bool | None = None
        self._ok: dict[str, bool] = {}
        self._turn = -1

    def read(self, client: CdssClient, cluster_no: str, region: str | None) -> ClusterStatus:
        """A signed read-only call; whether it worked is what `status` says of the action path."""
        try:
            status = client.get_cluster_status(cluster_no, region=region)
        except NcpError:
            self.up = False
            raise
        self.up = True
        return status

    def check(self, policy: Policy, regions: dict[str, str], client: CdssClient) -> None:
        """One signed read-only call per region, round-robin over its targets.

        So that a broken key, permission, region or clock shows before an incident, without
        a burst of calls (NCP throttles per key) or retries that would hold a thread: `client`
        is a single-attempt one.
        """
        by_region: dict[str, list[str]] = {}
        for target in policy.targets:
            by_region.setdefault(regions.get(target.name, ""), []).append(target.name)
        self._turn += 1
        for region, names in sorted(by_region.items()):
            name = names[self._turn % len(names)]
            ref = policy.target(name)
            assert ref is not None
            was = self._ok.get(region)
            try:
                self.read(client, ref.cluster_no, region or None)
            except NcpError as exc:
                self._ok[region] = False
                if was is not False:
                    log.error(
                        f"action path to CDSS ({region or 'default region'}, checked with "
                        f"{name}) is down: {exc}",
                        extra={"event": "action_path", "target": name, "up": False},
                    )
                    self._notify(False, region, name, ref.cluster_no, str(exc))
                continue
            self._ok[region] = True
            if was is False:
                log.info(
                    f"action path to CDSS ({region or 'default region'}) is back",
                    extra={"event": "action_path", "target": name, "up": True},
                )
                self._notify(True, region, name, ref.cluster_no, "")

    def _notify(self, up: bool, region: str, name: str, cluster_no: str, detail: str) -> None:
        now = self.clock.now()
        self.notices.write(
            messages.action_path(
                up, region=region, checked_with=name, cluster_no=cluster_no, detail=detail, at=now
            )
        )
