"""Check before you answer: an unsure bot answer the customer acted on, and privacy or legal weight
(issue 16, point 5)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline.flags import flags
from bridge.pipeline.package import build_package
from connectors.jira import build_bug
from connectors.zendesk import build_ticket
from tests.helpers import generic_event

RETENTION = [
    {"id": "m1", "role": "customer", "text": "How long do you keep employee data after we delete a location?"},
    {"id": "m2", "role": "bot", "text": "When you delete a location, all of its data is permanently deleted right "
     "away.", "confidence": 0.38, "sources": [{"title": "Delete a location", "url": "https://help.example.com/dl"}]},
    {"id": "m3", "role": "customer", "text": "Good. I've just deleted LOC-2291. Under Article 17 GDPR please "
     "confirm in writing that the personal data of 27 former employees is erased."},
]


def _event(messages: list[dict[str, Any]]) -> Event:
    return Event.from_json(generic_event(messages=messages, type_="conversation.updated"))


def test_the_unsure_answer_the_customer_acted_on_and_the_legal_weight_are_flagged() -> None:
    found = flags(_event(RETENTION))
    assert [f.kind for f in found] == ["privacy_legal", "unverified_answer"]
    unverified = found[1]
    assert unverified.message_index == 2
    for part in ("confidence 0.38", "permanently deleted right away", "https://help.example.com/dl",
                 "Good. I've just deleted LOC-2291", "Verify that answer"):
        assert part in unverified.text, part
    assert "Article 17" in found[0].text and "GDPR" in found[0].text


@pytest.mark.parametrize("reply", ["No, that's for overtime. I need the Sunday premium.", "Already did that."])
def test_an_answer_the_customer_rejected_is_not_flagged(reply: str) -> None:
    messages = [RETENTION[0], {**RETENTION[1], "confidence": 0.3}, {"id": "m3", "role": "customer", "text": reply}]
    assert flags(_event(messages)) == []


def test_a_sure_cited_answer_is_not_flagged_an_uncited_middling_one_is() -> None:
    sure = [RETENTION[0], {**RETENTION[1], "confidence": 0.9}, {"id": "m3", "role": "customer", "text": "OK thanks"}]
    assert flags(_event(sure)) == []
    uncited = [RETENTION[0], {**RETENTION[1], "confidence": 0.6, "sources": []},
               {"id": "m3", "role": "customer", "text": "OK, so I'll tell the auditor that."}]
    assert [f.kind for f in flags(_event(uncited))] == ["unverified_answer"]


@pytest.mark.parametrize("text", ["Bitte löschen Sie gemäß DSGVO alle personenbezogenen Daten.",
                                  "Solicito la eliminación de mis datos personales (RGPD).",
                                  "Our lawyer will be in touch about this."])
def test_privacy_and_legal_weight_in_any_language(text: str) -> None:
    assert [f.kind for f in flags(_event([{"role": "customer", "text": text}]))] == ["privacy_legal"]


def test_flags_lead_the_ticket_and_the_bug_and_tag_the_ticket() -> None:
    decision = Decision(escalate=True, triggers=[TriggerHit(trigger="low_confidence", evidence="0.38")])
    package = build_package("c-1", "generic", _event(RETENTION), decision)
    ticket = build_ticket(package, {}).to_json()
    assert ticket["comment"]["body"].startswith("Check before you answer")
    assert {"rb_privacy_legal", "rb_unverified_answer"} <= set(ticket["tags"])
    assert "The bot may have told the customer something wrong" in build_bug(package, {}).description
