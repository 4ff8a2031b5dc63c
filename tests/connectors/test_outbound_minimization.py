"""Issue 20, item 10: what each destination receives, as docs/reliability.md's table says, over every
builder, with a corpus of personal data and secrets in every place a sender can put them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bridge.events import Event, RouteInfo
from bridge.pipeline import llm_judge, summary
from bridge.pipeline.package import build_package
from bridge.pipeline.sanitize import sanitize_decision
from bridge.pipeline.triggers import decide
from connectors import STEPS
from connectors.base import request_json
from tests.helpers import generic_event

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
CARD = "4111 1111 1111 1111"
SECRETS = {
    "api key": "sk_live_51HxYzAbCdEfGhIjKlMnOpQr",
    "password": "Hunter2Secret!",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "private key": "MIIEpAIBAAKCAQEAprivatekeybody",
}
CONTACT = {"email": "eve.customer@example.org", "phone": "+49 30 12345678", "iban": "DE89 3704 0044 0532 0130 00"}
EARLIER = "by the way the office plant looks lovely"  # only in a middle message: a sign of the transcript
LEAKY = (f"My card {CARD} was charged twice, refund to {CONTACT['iban']}. My key is {SECRETS['api key']} "
         f"and my password is {SECRETS['password']}. Token {SECRETS['jwt']} Call me at {CONTACT['phone']} "
         f"or write to {CONTACT['email']}. -----BEGIN RSA PRIVATE KEY-----\n{SECRETS['private key']}\n"
         "-----END RSA PRIVATE KEY----- I want a refund, talk to a person now!")
ROUTE = RouteInfo(team="support", team_name="Support", channel="C0SUPPORT", owner_slack_id="U0ANA", owner_name="Ana",
                  acknowledged=False)


def _table() -> list[dict[str, str]]:
    text = DOC.read_text()
    block = text.split("<!-- destinations:begin -->", 1)[1].split("<!-- destinations:end -->", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block.strip().splitlines()]
    header, body = rows[0], [r for r in rows[2:]]
    return [dict(zip(header, row, strict=True)) for row in body]


def _event() -> Event:
    data = generic_event(messages=[
        {"id": "1", "role": "customer", "text": "I was charged twice for my March invoice"},
        {"id": "2", "role": "bot", "text": "Let me look into that.", "confidence": 0.9},
        {"id": "3", "role": "customer", "text": f"ok, {EARLIER}"},
        {"id": "4", "role": "bot", "text": "Sorry, I could not find an answer.", "confidence": 0.2},
        {"id": "5", "role": "customer", "text": LEAKY},
    ], evidence={"console_logs": [{"level": "error", "message": f"auth failed for {SECRETS['jwt']} {CARD}"}],
                 "page_url": "https://app.example.com/billing"})
    data["customer"].update(email=CONTACT["email"], phone=CONTACT["phone"], attributes={"note": LEAKY})
    data["handoff"]["reason"] = f"customer shared {CARD} and {SECRETS['api key']}"
    return Event.from_json(data)


def _package() -> Any:
    event = _event()
    return build_package("c-1", "generic", event, decide(event), route=ROUTE)


REFS: dict[str, Any] = {
    "live": True, "slack.alert": "C1:1.2", "zendesk.ticket": "42", "jira.bug": "SUP-1",
    "case.url": "https://bridge.example.com/cases/c-1?sig=s&exp=1",
    "page": {"level": 1, "mention": "<@U0BEN>", "member": "U0BEN", "channel": "C1", "final": False},
    "ephemeral": {"channel": "C1", "user": "U0BEN", "text": f"Not taken: {LEAKY}"},
    "note": {"text": LEAKY, "draft": LEAKY, "draft_id": 7},
    "followup": {"n": 1, "text": LEAKY, "files": []},
    "unanswered": True, "taken": False,
}


def _steps(pattern: str) -> list[str]:
    names = [n for n in STEPS if re.fullmatch(pattern.strip("`").replace(".", r"\.").replace("*", ".*"), n)]
    assert names, pattern
    return names


def _raw_values(kind: str) -> list[str]:
    if kind == "card numbers":
        return [CARD, CARD.replace(" ", "")]
    if kind == "secrets":
        return list(SECRETS.values())
    return list(CONTACT.values())


ROWS = [row for row in _table() if row["steps"] != "prompts"]


@pytest.mark.parametrize("row", ROWS, ids=[row["destination"] for row in ROWS])
def test_every_builder_sends_what_the_table_says(row: dict[str, str]) -> None:
    package = _package()
    for step in _steps(row["steps"]):
        sent = json.dumps(request_json(STEPS[step].build(package, dict(REFS))), ensure_ascii=False)
        for kind in ("card numbers", "secrets", "e-mail, phone, IBAN"):
            if row[kind] in ("last four", "marker", "removed", "none"):
                for value in _raw_values(kind):
                    assert value not in sent, f"{step} sends {kind}: {value!r}"
        if row["card numbers"] == "last four" and "My card" in sent:  # the sentence is there, the card masked
            assert "[card ending 1111]" in sent, step
        if row["transcript"].startswith("none"):
            assert EARLIER not in sent, f"{step} sends the transcript"


def test_the_corpus_reaches_the_builders() -> None:
    """The agent keeps what they need to answer: the assertions above look at text that is there."""
    ticket = json.dumps(request_json(STEPS["zendesk.ticket"].build(_package(), dict(REFS))), ensure_ascii=False)
    for value in (CONTACT["email"], CONTACT["iban"], EARLIER, "[card ending 1111]", "my password is [secret]"):
        assert value in ticket


def test_slack_links_the_case_page_instead_of_the_transcript() -> None:
    alert = STEPS["slack.alert"].build(_package(), dict(REFS))
    buttons = [e for b in alert["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert any(e.get("url") == REFS["case.url"] for e in buttons)


def test_the_trigger_evidence_is_masked() -> None:
    event = _event()
    decision = sanitize_decision(decide(event))
    quoted = json.dumps(decision.to_json())
    assert CARD not in quoted and SECRETS["password"] not in quoted and any(h.evidence for h in decision.triggers)


def test_llm_prompts_hold_placeholders_only() -> None:
    event = _event()
    judge_prompt = json.dumps(llm_judge.build_prompt(event).messages, ensure_ascii=False)
    summary_prompt = json.dumps(summary.build_prompt(event, decide(event))[0], ensure_ascii=False)
    for prompt in (judge_prompt, summary_prompt):
        for value in [CARD, *SECRETS.values(), CONTACT["email"], CONTACT["phone"]]:
            assert value not in prompt
