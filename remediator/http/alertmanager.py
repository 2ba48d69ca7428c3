"""Alertmanager webhook payloads (version 4) → `AlertEvent`s for the configured targets only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from remediator.core.events import AlertEvent
from remediator.core.rules import TargetRef
from remediator.timetext import parse_time

# Labels that name the target, in the order they are tried (SPEC section 6).
TARGET_LABELS = ("remediator_target", "cluster_no", "service_group_instance_no")


def _storable(text: str) -> str:
    """Text the ledger can store: no NUL (PostgreSQL refuses it), no lone surrogate (a JSON
    escape like \ud800, which is no UTF-8); Alertmanager sends neither."""
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (not UTF-8)") from None
    return text


_Text = AfterValidator(_storable)
_Short = Annotated[str, StringConstraints(max_length=1024), _Text]
_Labels = Annotated[
    dict[_Short, Annotated[str, StringConstraints(max_length=4096), _Text]], Field()
]


class _Alert(BaseModel):
    # Alertmanager may add fields in later versions: ignore what we do not use.
    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"]
    labels: _Labels
    annotations: _Labels = Field(default_factory=dict)
    startsAt: Annotated[str, StringConstraints(min_length=1, max_length=64), _Text]
    endsAt: _Short = ""
    generatorURL: _Short = ""
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=128), _Text]


class Payload(BaseModel):
    """The webhook body Alertmanager sends (`version: "4"`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: _Short = ""
    alerts: Annotated[list[_Alert], Field(max_length=10_000)]
    groupKey: _Short = ""
    truncatedAlerts: Annotated[int, Field(ge=0, le=2**64)] = 0  # Go's uint64


class InvalidPayload(ValueError):
    """The body is not a valid Alertmanager v4 payload; the message says why, briefly."""


@dataclass(frozen=True)
class Received:
    """One alert of a payload: mapped to a target (`event`), or not (`event` None)."""

    event: AlertEvent | None
    status: str
    alertname: str


def parse(body: bytes) -> Payload:
    """Validate a webhook body; InvalidPayload names the first problem."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise InvalidPayload("not JSON this remediator reads: nested too deeply") from None
    except ValueError as exc:  # not UTF-8, not JSON, or an integer of thousands of digits
        raise InvalidPayload(f"not JSON: {str(exc)[:120]}") from None
    try:
        return Payload.model_validate(data)
    except RecursionError:
        raise InvalidPayload("nested too deeply") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p)[:40] for p in first["loc"]) or "(root)"
        raise InvalidPayload(f"{where}: {first['msg']}") from None


def index_targets(targets: Sequence[TargetRef]) -> dict[str, TargetRef]:
    """Each target under its name and its cluster number, for `target_of`."""
    index: dict[str, TargetRef] = {}
    for t in targets:
        index.setdefault(t.name, t)
        index.setdefault(t.cluster_no, t)
    return index


def target_of(labels: Mapping[str, str], index: Mapping[str, TargetRef]) -> TargetRef | None:
    """The configured target an alert names, by label, or None (never a guess)."""
    for label in TARGET_LABELS:
        value = labels.get(label)
        if value is not None and value in index:
            return index[value]
    return None


def to_events(payload: Payload, index: Mapping[str, TargetRef], now: float) -> list[Received]:
    """Each alert of `payload`, mapped to a configured target where its labels name one."""
    out: list[Received] = []
    for alert in payload.alerts:
        alertname = alert.labels.get("alertname", "")
        target = target_of(alert.labels, index)
        event = None
        if target is not None:
            event = AlertEvent(
                target=target.name,
                alertname=alertname,
                status=alert.status,
                fingerprint=alert.fingerprint,
                starts_at=alert.startsAt,
                at=now,
                labels=dict(alert.labels),
                starts_at_ts=parse_time(alert.startsAt),
            )
        out.append(Received(event=event, status=alert.status, alertname=alertname))
    return out
