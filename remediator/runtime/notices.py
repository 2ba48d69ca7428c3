"""The daemon's notifications on their way out: routed to the sinks that want them, written to
the ledger's outbox — in the same transaction as the record that causes them wherever the ledger
writes one, on their own otherwise — and the sender told.

Transactional with their cause: `acted` (the intent, or the fallback), `recovered` and
`not_recovered` (the remediation), `breaker_opened` and `breaker_closed` (the breaker),
`approval_requested` and `approval_resolved` (the approval), `paused` and `resumed` (the pause).
Written right after their cause, which the ledger does not record: `action_path_down`,
`action_path_up` and `reload_refused`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from remediator.errors import LedgerError
from remediator.notify.notice import Notice
from remediator.notify.sinks import Delivery, Router
from remediator.store import Ledger

log = logging.getLogger("remediator.runtime.daemon")


class Notices:
    """Routes notices and writes them to the outbox; `router` is replaced at a reload."""

    def __init__(self, ledger: Ledger, router: Router | None = None) -> None:
        self.ledger = ledger
        self.router = router or Router()

    def route(self, *notices: Notice) -> list[Delivery]:
        """The outbox rows of `notices`, to write with their cause."""
        return self.router.route(*notices)

    def written(self, deliveries: Sequence[Delivery]) -> None:
        """Rows were committed with their cause: have the sender look now."""
        if deliveries:
            self.router.wake()

    def write(self, *notices: Notice) -> None:
        """Write notices whose cause the ledger does not record. A failure is logged, never
        raised: it must not stop what caused them."""
        deliveries = self.route(*notices)
        if not deliveries:
            return
        try:
            self.ledger.enqueue(deliveries)
        except LedgerError as exc:  # a full disk, a lock held, a database down: no traceback
            log.error(
                f"could not write a notification to the outbox: {exc}", extra={"event": "notify"}
            )
            return
        except Exception:
            log.exception("could not write a notification to the outbox", extra={"event": "notify"})
            return
        self.written(deliveries)
