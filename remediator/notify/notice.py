"""A notification as remediator says it (SPEC section 10): one event, its facts, one sentence.

The body is the JSON that `kind: webhook` receives as is, and from which the Slack and Teams
messages are made (`payloads.py`). Its `id` is made once, when the notice is, and stays the
same on every attempt and after a restart: the outbox keeps it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from remediator.config.notifymodel import NotifyEvent
from remediator.core.rules import blast_radius_of
from remediator.timetext import iso

VERSION = "1"


@dataclass(frozen=True)
class Approval:
    """The approval a notice is about: its id, when it expires, and the action it would allow."""

    id: str
    expires_at: float
    action: str


@dataclass(frozen=True)
class Notice:
    """One notification, before it is routed to sinks."""

    id: str
    event: NotifyEvent
    at: float
    target: str | None
    body: Mapping[str, Any]

    def json(self) -> str:
        """The body as the outbox stores it and `kind: webhook` receives it."""
        return json.dumps(self.body, sort_keys=True)


def notice(  # noqa: PLR0913 - a notification's fields, by keyword
    event: NotifyEvent,
    *,
    at: float,
    message: str,
    target: str | None = None,
    cluster_no: str | None = None,
    rule: str | None = None,
    action: str | None = None,
    reason: str = "",
    approval: Approval | None = None,
    id: str | None = None,
) -> Notice:
    """A notice with a fresh id (unless given) and the body of SPEC section 10."""
    nid = id or uuid.uuid4().hex
    body: dict[str, Any] = {
        "version": VERSION,
        "id": nid,
        "event": event,
        "time": iso(at),
        "target": target,
        "cluster_no": cluster_no or None,
        "rule": rule,
        "action": action,
        "blast_radius": blast_radius_of(action) if action else None,
        "reason": reason,
        "message": message,
        "approval": None
        if approval is None
        else {
            "id": approval.id,
            "expires_at": iso(approval.expires_at),
            "action": approval.action,
        },
    }
    return Notice(id=nid, event=event, at=at, target=target, body=body)
