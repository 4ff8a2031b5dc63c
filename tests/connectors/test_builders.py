"""Ticket, bug and alert builders: every package section, escaped, within each vendor's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.events import Decision, Event, RouteInfo, Summary, TriggerHit
from bridge.pipeline.package import build_package
from connectors.jira import DESCRIPTION_LIMIT, build_bug
from connectors.slack.blocks import build_alert
from connectors.zendesk import build_ticket
from tests.helpers import generic_event

DECISION = Decision(escalate=True, at_message=1, triggers=[
    TriggerHit(trigger="product_bug", message_index=1, evidence="error 500"),
    TriggerHit(trigger="customer_requested_human", message_index=3, evidence="talk to a person"),
])
EVIDENCE: dict[str, Any] = {
    "page_url": "https://app.example.com/reports",
    "console_logs": [{"level": "log", "message": "app boot"}, {"level": "error", "message": "TypeError: rows is null"}],
    "network_requests": [{"method": "POST", "url": "https://api.example.com/export", "status": 502}],
    "device": {"os": "macOS 15", "browser": "Safari 18", "app_version": "4.2.1"},
    "session_replay_url": "https://replay.example.com/s/42",
    "screenshots": [{"kind": "screenshot", "url": "https://cdn.example.com/shot.png", "name": "shot.png"}],
    "steps_to_reproduce": ["Open Reports", "Click Export"],
}
CUSTOMER: dict[str, Any] = {
    "id": "cus-1", "email": "ana@example.com", "name": "Ana Lima", "plan": "enterprise",
    "account": {"id": "acc-7", "name": "Lima Corp", "mrr": 4200, "currency": "EUR", "sla": "gold",
                "renewal_date": "2026-12-01"},
    "attributes": {"seats": 40},
}
HOSTILE = ("<!channel> <!here> <@U123> <!subteam^S1> <https://evil.example|Reset your password> "
           "[click|https://evil.example] !https://evil.example/p.png! {color:red}x{color} {noformat} "
           "<img src=x onerror=alert(1)> [x](javascript:alert(1)) & \u202egnp.exe")


def _package(messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> Any:
    messages = messages or [
        {"role": "customer", "text": "Export fails with error 500"},
        {"role": "bot", "text": "Try again later.", "confidence": 0.3,
         "sources": [{"title": "Export FAQ", "url": "https://help.example.com/faq"}]},
        {"role": "customer", "text": "Can I talk to a person please?"},
    ]
    event = Event.from_json(generic_event(messages=messages, evidence=EVIDENCE, customer=CUSTOMER))
    return build_package("hb-1", "generic", event, DECISION, **kwargs)


SECTION_MARKERS = [
    "Summary", "Why escalated", "Priority", "Completeness", "Customer", "What the bot tried", "Evidence",
    "Suggested opening line", "Transcript",
    # content from each section
    "Export fails with error 500", "product_bug at message 1", "+1 plan enterprise", "Score:",
    "MRR 4,200.00 EUR", "SLA gold", "renews 2026-12-01", "seats: 40", "Export FAQ", "TypeError: rows is null",
    "POST https://api.example.com/export → 502", "Safari 18", "https://app.example.com/reports",
    "https://replay.example.com/s/42", "1. Open Reports", "shot.png", "I'm sorry our assistant",
    "3. Customer: Can I talk to a person please?",
]


def test_ticket_has_every_section_as_a_plain_private_comment() -> None:
    ticket = build_ticket(_package(), {}).to_json()
    body = ticket["comment"]["body"]
    for marker in SECTION_MARKERS:
        assert marker in body, marker
    assert body.index("[error] TypeError") < body.index("[log] app boot")
    assert ticket["comment"]["public"] is False and "html_body" not in ticket["comment"]
    assert ticket["priority"] == "urgent"  # enterprise plan + gold SLA on a bug
    assert ticket["requester"] == {"email": "ana@example.com", "name": "Ana Lima"}
    assert {"recovery_bridge", "trigger_product_bug", "rb_priority_urgent", "lang_en"} <= set(ticket["tags"])
    assert ticket["external_id"] == "hb-1"


def test_bug_has_every_section_inside_noformat() -> None:
    bug = build_bug(_package(), {"zendesk.ticket": "12345"})
    description = bug.description
    for marker in SECTION_MARKERS:
        assert marker in description, marker
    assert description.startswith("Zendesk ticket:")
    assert "h3. Evidence\n{noformat}" in description
    assert bug.issue_type == "Bug" and "priority-urgent" in bug.labels
    assert "\n" not in bug.summary and len(bug.summary) <= 255


def test_the_channel_post_is_lean_and_carries_no_contact_details() -> None:
    """Issue 16, point 10: a headline with the topic, who (and how much they matter), priority, owner
    and due time; the transcript stays behind the case link; no e-mail or phone."""
    route = RouteInfo(team="support", team_name="Support", channel="#support", owner_slack_id="U0ANA",
                      owner_name="Ana Souza")
    messages = [{"role": "customer", "text": "Export fails with error 500 for our 35 users. Call me on +44 20 7946 0321"
                                             " or ana@example.com, we need it by Friday."},
                {"role": "bot", "text": "Try again later.", "confidence": 0.3},
                {"role": "customer", "text": "Can I talk to a person please?"}]
    package = _package(messages, route=route)
    alert = build_alert(package, {"zendesk.ticket": "12345", "case.escalated_at": "2026-12-01T09:00:00+00:00",
                                  "case.url": "https://bridge.example.com/cases/hb-1?sig=x"})
    text = json.dumps(alert, ensure_ascii=False)
    blocks = alert["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text",
                                                    "text": "Export fails with error 500 for our 35 users."}}
    assert "*Ana Lima* · Lima Corp · plan enterprise · MRR 4,200 EUR · SLA gold · renews 2026-12-01" in text
    for part in ("<@U0ANA>", "urgent", "reply due by 09:15 UTC (target: within 15 minutes)", "English",
                 "looks like a product bug, asked for a person", "for our 35 users", "we need it by Friday",
                 "Can I talk to a person please?", "https://bridge.example.com/cases/hb-1?sig=x"):
        assert part in text, part
    for absent in ("ana@example.com", "7946 0321", "Transcript", "Try again later.", "Summary"):
        assert absent not in text, absent
    assert len(blocks) <= 12 and alert["text"].startswith("[urgent] Export fails with error 500")
    assert alert["unfurl_links"] is False and alert["unfurl_media"] is False and "link_names" not in alert
    assert "Ticket: 12345" in blocks[-1]["elements"][0]["text"]


def test_hostile_customer_and_llm_text_is_inert_everywhere() -> None:
    summary = Summary(issue=HOSTILE, tried=HOSTILE, source="llm", model="m")
    package = _package([{"role": "customer", "text": HOSTILE}, {"role": "customer", "text": "a person please"},
                        {"role": "customer", "text": HOSTILE}], summary=summary)
    alert = json.dumps(build_alert(package, {}), ensure_ascii=False)
    for raw in ("<!channel>", "<!here>", "<@U123>", "<!subteam", "<https://evil", "<img"):
        assert raw not in alert
    assert "&lt;!channel&gt;" in alert and "&amp;" in alert
    assert "\u202e" not in alert
    bug = build_bug(package, {}).description
    # Jira: all customer/LLM text is inside noformat, and a "{noformat}" in it cannot close the block.
    assert bug.count("{noformat}") % 2 == 0 and "(noformat)" in bug
    titles = [line for line in bug.split("\n") if line.startswith("h3. ")]
    assert titles and not [line for line in titles if "evil" in line]
    body = build_ticket(package, {}).body
    assert "<img src=x onerror=alert(1)>" in body  # plain body keeps the text, Zendesk renders it as text
    assert "\u202e" not in body
    # Subjects and summaries never carry LLM text.
    assert "evil" not in build_ticket(package, {}).subject and "evil" not in build_bug(package, {}).summary


def _long_messages(count: int, size: int) -> list[dict[str, Any]]:
    return [{"role": "customer" if i % 2 else "bot", "text": f"message {i} " + "<&>" * (size // 3)}
            for i in range(count)]


@pytest.mark.parametrize(("count", "size"), [(400, 600), (3, 9_000), (1, 99_000)])
def test_huge_transcripts_respect_every_limit(count: int, size: int) -> None:
    package = _package(_long_messages(count, size))
    alert = build_alert(package, {})
    assert len(alert["blocks"]) <= 50
    sections = [block["text"]["text"] for block in alert["blocks"] if block["type"] == "section" and "text" in block]
    assert sections and all(len(text) <= 3000 and "&am\n" not in text for text in sections)
    assert len(alert["text"]) <= 3000
    description = build_bug(package, {}).description
    assert len(description) <= DESCRIPTION_LIMIT
    assert "h3. Summary" in description and "h3. Evidence" in description and "TypeError" in description
    body = build_ticket(package, {}).body
    assert len(body) <= 60_000 and "Evidence" in body
    if count > 10:
        assert "omitted here for length" in description and "omitted here for length" in body


def test_builders_are_pure() -> None:
    """Same input, same request; the package is never changed, and a built request shares nothing
    with the next one (a caller that edits what it got cannot change a later build)."""
    import copy

    package = _package()
    before = copy.deepcopy(package)
    for build in (build_alert, build_bug, build_ticket):
        first = build(package, {})
        assert package == before, build.__name__
        expected = copy.deepcopy(first)
        _scribble(first)
        assert build(package, {}) == expected, build.__name__


def _scribble(value: Any) -> None:
    """Change every mutable container in a built request in place."""
    if isinstance(value, dict):
        for key in list(value):
            _scribble(value[key])
        value["scribbled"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("scribbled")
