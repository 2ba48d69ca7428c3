"""Notification payloads in the documented shapes: Slack Block Kit with a text fallback, a Teams
Adaptive Card in a Workflows envelope, and SPEC section 10's JSON for `kind: webhook`.

The checkers encode the documented rules (tests/fixtures/notify/README.md links the pages);
each is shown to accept the documented example in the fixtures, then applied to remediator's
message for every event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remediator.config.notifymodel import NOTIFY_EVENTS, NotifyEvent
from remediator.notify.notice import Approval, notice
from remediator.notify.payloads import render

FIXTURES = Path(__file__).parent / "fixtures" / "notify"
T0 = 1_800_000_000.0
SPEC_KEYS = {
    "version",
    "id",
    "event",
    "time",
    "target",
    "cluster_no",
    "rule",
    "action",
    "blast_radius",
    "reason",
    "message",
    "approval",
}


def check_slack(payload: dict[str, Any]) -> None:
    """Slack's incoming webhook body: a text fallback and Block Kit blocks within their limits."""
    assert isinstance(payload["text"], str) and payload["text"].strip()
    blocks = payload["blocks"]
    assert isinstance(blocks, list) and 0 < len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        assert kind in {"header", "section", "context", "divider"}, kind
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] in {"mrkdwn", "plain_text"}
                assert 0 < len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert field["type"] in {"mrkdwn", "plain_text"}
                assert 0 < len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] in {"mrkdwn", "plain_text", "image"}
                if element["type"] != "image":
                    assert 0 < len(element["text"]) <= 3000


def check_teams(payload: dict[str, Any]) -> None:
    """A Teams Workflows webhook body: a message with one Adaptive Card attachment."""
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment.get("contentUrl") is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    major, minor = (int(n) for n in card["version"].split("."))
    assert (major, minor) <= (1, 5), "Teams renders Adaptive Cards up to 1.5"
    assert card["body"]
    for element in card["body"]:
        assert element["type"] in {"TextBlock", "FactSet"}, element["type"]
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
        else:
            for fact in element["facts"]:
                assert set(fact) == {"title", "value"}
                assert all(isinstance(v, str) and v for v in fact.values())


def body_for(event: NotifyEvent, **extra: Any) -> dict[str, Any]:
    approval = (
        Approval("a1b2c3d4", T0 + 1800, "restart_all_services")
        if event.startswith("approval")
        else None
    )
    n = notice(
        event,
        at=T0,
        message=f"what happened: {event}",
        target=None if event == "reload_refused" else "orders",
        cluster_no=None if event == "reload_refused" else "1484848",
        rule="cmak-unhealthy",
        action="restart_all_services",
        reason="3 of the last 3 probes failed",
        approval=approval,
        **extra,
    )
    return json.loads(n.json())  # type: ignore[no-any-return]


def test_the_checkers_accept_the_documented_examples() -> None:
    check_slack(json.loads((FIXTURES / "slack-incoming-webhook.json").read_text()))
    check_teams(json.loads((FIXTURES / "teams-workflows-webhook.json").read_text()))


def test_the_checkers_refuse_what_slack_and_teams_refuse() -> None:
    slack = json.loads((FIXTURES / "slack-incoming-webhook.json").read_text())
    slack["blocks"][0]["text"]["text"] = "x" * 151
    with pytest.raises(AssertionError):
        check_slack(slack)
    teams = json.loads((FIXTURES / "teams-workflows-webhook.json").read_text())
    teams["attachments"][0]["contentType"] = "application/json"
    with pytest.raises(AssertionError):
        check_teams(teams)


@pytest.mark.parametrize("event", NOTIFY_EVENTS)
def test_every_event_is_a_valid_slack_teams_and_webhook_message(event: NotifyEvent) -> None:
    body = body_for(event)
    assert set(body) == SPEC_KEYS
    assert body["version"] == "1" and body["event"] == event
    assert body["time"] == "2027-01-15T08:00:00Z"
    slack = render("slack", body)
    check_slack(slack)
    assert body["message"] in slack["text"]
    teams = render("teams", body)
    check_teams(teams)
    assert render("webhook", body) == body
    if event.startswith("approval"):
        assert body["approval"] == {
            "id": "a1b2c3d4",
            "expires_at": "2027-01-15T08:30:00Z",
            "action": "restart_all_services",
        }
    else:
        assert body["approval"] is None


def test_an_approval_request_says_how_to_answer_it() -> None:
    body = body_for("approval_requested")
    slack = json.dumps(render("slack", body))
    teams = json.dumps(render("teams", body))
    for text in (slack, teams):
        assert "remediator approve a1b2c3d4 --reason" in text
        assert "remediator deny a1b2c3d4 --reason" in text


def test_the_webhook_body_names_the_blast_radius_of_the_action() -> None:
    body = body_for("acted")
    assert body["blast_radius"] == "cluster"
    assert body["target"] == "orders" and body["cluster_no"] == "1484848"


def test_slack_markup_in_reasons_is_escaped_and_long_text_is_cut() -> None:
    n = notice(
        "not_recovered",
        at=T0,
        message="<!channel> & co " + "x" * 5000,
        target="orders",
        reason="y" * 5000,
    )
    slack = render("slack", json.loads(n.json()))
    check_slack(slack)
    text = json.dumps(slack)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
