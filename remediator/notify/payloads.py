"""A notice as each kind of sink takes it: Slack Block Kit with a `text` fallback, a Teams
Adaptive Card in the envelope a Workflows webhook takes, or SPEC section 10's JSON as is.

Shapes and limits, as documented (tests/fixtures/notify/README.md links the pages):
- Slack incoming webhook: `{"text": ..., "blocks": [...]}`; a `header` block's plain text is at
  most 150 characters, a `section`'s text 3000, its `fields` at most 10 of 2000 each, a
  `context` block at most 10 elements. `&`, `<` and `>` are markup and are escaped.
- Teams Workflows ("Post to a channel when a webhook request is received"): `{"type":
  "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "contentUrl": null, "content": <AdaptiveCard>}]}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediator.config.notifymodel import SinkKind

TITLES = {
    "acted": "Restarting",
    "recovered": "Recovered",
    "not_recovered": "Not recovered",
    "breaker_opened": "Breaker open: a human must look",
    "breaker_closed": "Breaker closed",
    "approval_requested": "Approval requested",
    "approval_resolved": "Approval resolved",
    "paused": "Paused",
    "resumed": "Resumed",
    "action_path_down": "Action path down",
    "action_path_up": "Action path up",
    "reload_refused": "Configuration reload refused",
}
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def render(kind: SinkKind, body: Mapping[str, Any]) -> dict[str, Any]:
    """What to POST to a sink of `kind` for a notice whose JSON is `body`."""
    if kind == "slack":
        return slack(body)
    if kind == "teams":
        return teams(body)
    return dict(body)


def title(body: Mapping[str, Any]) -> str:
    """`remediator: Restarting orders`."""
    words = TITLES.get(str(body["event"]), str(body["event"]))
    return f"remediator: {words}" + (f" — {body['target']}" if body.get("target") else "")


def facts(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The notice's facts, as (name, value), leaving out the ones it does not have."""
    out: list[tuple[str, str]] = []
    if body.get("target"):
        no = body.get("cluster_no")
        out.append(("Target", f"{body['target']}" + (f" (cluster {no})" if no else "")))
    for key, name in (("rule", "Rule"), ("action", "Action"), ("blast_radius", "Blast radius")):
        if body.get(key):
            out.append((name, str(body[key])))
    approval = body.get("approval")
    if approval:
        out.append(("Approval", f"{approval['id']}, expires {approval['expires_at']}"))
    return out


def commands(body: Mapping[str, Any]) -> str | None:
    """For a pending approval: how to answer it."""
    approval = body.get("approval")
    if body.get("event") != "approval_requested" or not approval:
        return None
    return (
        f"remediator approve {approval['id']} --reason '...'  |  "
        f"remediator deny {approval['id']} --reason '...'"
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _esc(text: str) -> str:
    """Slack's mrkdwn markup characters, escaped (so that `<!channel>` pings nobody)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: Block Kit blocks and a plain `text` fallback."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title(body), 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_esc(body["message"]), 3000)}},
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{name}*\n{_esc(value)}", 2000)}
        for name, value in facts(body)[:10]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    answer = commands(body)
    if answer:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"`{_esc(answer)}`"}})
    context = [f"notification {body['id']} · {body['time']}"]
    if body.get("reason"):
        context.insert(0, _cut(_esc(str(body["reason"])), 3000))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in context]})
    return {"text": _cut(_esc(f"{title(body)}: {body['message']}"), 3000), "blocks": blocks}


def teams(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Teams Workflows webhook message: one Adaptive Card in a `message` envelope."""
    card: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": title(body),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": str(body["message"]), "wrap": True},
    ]
    found = facts(body)
    if found:
        card.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in found]})
    answer = commands(body)
    if answer:
        card.append({"type": "TextBlock", "text": answer, "wrap": True, "fontType": "Monospace"})
    if body.get("reason"):
        card.append(
            {"type": "TextBlock", "text": str(body["reason"]), "wrap": True, "isSubtle": True}
        )
    card.append(
        {
            "type": "TextBlock",
            "text": f"notification {body['id']} · {body['time']}",
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD_TYPE,
                "contentUrl": None,
                "content": {
                    "$schema": ADAPTIVE_CARD_SCHEMA,
                    "type": "AdaptiveCard",
                    "version": ADAPTIVE_CARD_VERSION,
                    "body": card,
                },
            }
        ],
    }
