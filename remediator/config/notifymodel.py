"""`notify:` where notifications go (SPEC section 10): a Slack or Teams channel, or any webhook.

Each sink names a kind, a URL that is a secret like any other (a Slack webhook URL is its own
credential), the events it wants and the targets it covers.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from remediator.config.model import Duration, Name, SecretRefField, Section, Text

NotifyEvent = Literal[
    "acted",
    "recovered",
    "not_recovered",
    "breaker_opened",
    "breaker_closed",
    "approval_requested",
    "approval_resolved",
    "paused",
    "resumed",
    "action_path_down",
    "action_path_up",
    "reload_refused",
]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
SinkKind = Literal["slack", "teams", "webhook"]
DEFAULT_GIVE_UP_AFTER = 3600.0


class NotifySink(Section):
    """One entry of `notify:`: a channel or endpoint, and which notifications it gets."""

    name: Name
    kind: SinkKind
    url: SecretRefField
    events: Annotated[tuple[NotifyEvent, ...], Field(min_length=1)] = NOTIFY_EVENTS
    targets: Annotated[tuple[Text, ...], Field(min_length=1)] = ("*",)
    # Retried for this long (connection errors, timeouts, 408, 429, 5xx), then given up.
    give_up_after: Duration = DEFAULT_GIVE_UP_AFTER
    timeout: Duration = 10.0
