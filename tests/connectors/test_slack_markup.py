"""Issue 20, item 2: no sender-controlled string becomes Slack markup, in any Slack message builder.

Every field a sender controls carries mentions, broadcast commands and disguised links; every Slack
step in the registry is built from that package. What is left as markup must be the bridge's own:
the owner's mention from routing, the page's mention from routing, and links whose label the bridge
wrote (a URL cannot close its own link and add a label or a ``<!channel>``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge.events import Event, RouteInfo
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from connectors import STEPS
from connectors.slack.blocks import link, mention
from tests.helpers import generic_event

HOSTILE = "<!channel> <!here|here> <@U999> <!subteam^S1> <https://evil.example|Reset your password> &lt; x"
ROUTE = RouteInfo(team="support", team_name="Support", channel="C0SUPPORT", owner_slack_id="U0ANA",
                  owner_name="Ana")
OWN_LINK_LABELS = {"open it", "Open the case"}
SLACK_STEPS = sorted(name for name, step in STEPS.items() if step.connector == "slack")


def _package(url: str) -> Any:
    event = generic_event(messages=[
        {"id": "1", "role": "customer", "text": f"I need a person {HOSTILE}"},
        {"id": "2", "role": "bot", "text": f"Sorry {HOSTILE}", "confidence": 0.1},
        {"id": "3", "role": "customer", "text": f"talk to a human now {HOSTILE}"},
    ])
    event["conversation"]["url"] = url
    event["customer"].update(name=f"Eve {HOSTILE}", plan=HOSTILE,
                             account={"name": HOSTILE, "sla": HOSTILE, "mrr": 10, "currency": "EUR"})
    event["handoff"]["reason"] = HOSTILE
    parsed = Event.from_json(event)
    return build_package("c-1", "generic", parsed, decide(parsed), route=ROUTE)


REFS: dict[str, Any] = {
    "live": True, "slack.alert": "C1:1.2", "zendesk.ticket": "42",
    "case.url": "https://bridge.example.com/cases/c-1?sig=s&exp=1",
    "page": {"level": 1, "mention": "<!here>", "member": "U0BEN", "channel": "C1", "final": False,
             "waited_minutes": 15},
    # The bridge writes this one (it may name a user), never the sender: only its mentions stay markup.
    "ephemeral": {"channel": "C1", "user": "U0BEN",
                  "text": f"Not taken: already taken by <@U0ANA>. {HOSTILE.replace('<@U999> ', '')}"},
    "note": {"text": HOSTILE, "draft": HOSTILE, "draft_id": 7},
    "followup": {"n": 1, "text": HOSTILE, "files": [{"kind": "file", "name": HOSTILE, "url": "https://x.example/a>b"}]},
    "unanswered": True,
}
URLS = [
    "https://chat.example.com/c/1|<!channel>",
    "https://chat.example.com/c/1>|Reset your password",
    "https://chat.example.com/c/1?a=<!here>&b=1",
    "https://evil.example/ <!channel>",
]


def _mrkdwn(value: Any, key: str = "") -> list[str]:
    """Every string Slack reads as mrkdwn (plain_text and ids are not parsed for markup)."""
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return []
        return [s for k, v in value.items() if k in ("text", "blocks", "fields", "elements") for s in _mrkdwn(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _mrkdwn(v, key)]
    return [value] if isinstance(value, str) and key == "text" else []


_OWN_MARKUP = re.compile(r"<@U0ANA>|<@U0BEN>|<!here>|<https?://[^<>|\s]+\|(?P<label>[^<>|]*)>")


@pytest.mark.parametrize("step", SLACK_STEPS)
@pytest.mark.parametrize("url", URLS)
def test_no_sender_text_becomes_markup_in_any_slack_message(step: str, url: str) -> None:
    message = STEPS[step].build(_package(url), dict(REFS))
    texts = _mrkdwn(message)
    assert texts, f"{step} has no text"
    for text in texts:
        for own in _OWN_MARKUP.finditer(text):
            assert own.group("label") in (None, *OWN_LINK_LABELS), f"{step}: a disguised link {own.group(0)!r}"
        rest = re.sub(r"(?m)^>", "", _OWN_MARKUP.sub("", text))  # a leading ">" quotes the line
        assert "<" not in rest and ">" not in rest, f"{step}: markup left in {rest!r}"
    joined = "\n".join(texts)
    assert "<!channel>" not in joined and "<@U999>" not in joined and "<!subteam" not in joined


def test_the_live_link_keeps_the_url_but_cannot_end_it_early() -> None:
    alert = STEPS["slack.alert"].build(_package(URLS[0]), {"live": True})
    live = next(t for t in _mrkdwn(alert) if "Live" in t)
    assert "<https://chat.example.com/c/1%7C&lt;!channel&gt;|open it>" in live


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://a.example/x y", "", None])
def test_link_refuses_what_is_not_a_plain_web_address(url: str | None) -> None:
    assert link(url, "open it") is None


@pytest.mark.parametrize("value,expected", [("U0ANA", "<@U0ANA>"), ("W12AB", "<@W12AB>"),
                                            ("admin", "admin"), ("U1> <!channel", "U1&gt; &lt;!channel")])
def test_only_slack_user_ids_become_mentions(value: str, expected: str) -> None:
    assert mention(value) == expected


def test_a_page_mention_that_is_not_from_routing_is_text() -> None:
    page = STEPS["slack.page"].build(_package(URLS[0]), {**REFS, "page": {**REFS["page"], "mention": "<!channel> hi"}})
    assert "<!channel>" not in page["text"] and page["text"].startswith("&lt;!channel&gt; hi ")
