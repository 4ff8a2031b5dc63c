"""Zendesk's pure request builders: the exact bodies the client sends, from a request and the config."""

from __future__ import annotations

from bridge.config import Settings
from connectors.config import ZendeskConfig
from connectors.zendesk import Requester, TicketCreate, TicketNote
from connectors.zendesk.build import note_body, requester_user, ticket_payload

CONFIG = ZendeskConfig.from_settings(Settings(extra={"ZENDESK_FIELD_MAP": "trigger=9001,mrr=9002,plan=9003"}))
TICKET = TicketCreate(subject="Export fails", body="Summary\n-------\nIt fails.", requester=None, priority="high",
                      type="incident", tags=("recovery_bridge", "trigger_product_bug"), external_id="c-1",
                      facts=(("trigger", "product_bug"), ("mrr", 4200), ("plan", None)), group_id=111)


def test_the_ticket_is_exactly_the_request_with_its_files_and_mapped_fields() -> None:
    who = {"email": "li@example.com", "name": "Li Wei"}
    assert ticket_payload(TICKET, CONFIG, who, ["tok-1"], ["- transcript.txt: attached"]) == {
        "requester": who,  # inline: one call per ticket, Zendesk makes or matches the user
        "comment": {"body": "Summary\n-------\nIt fails.\n\nAttachments\n-----------\n- transcript.txt: attached",
                    "public": False, "uploads": ["tok-1"]},
        "subject": "Export fails", "priority": "high", "type": "incident",
        "tags": ["recovery_bridge", "trigger_product_bug"], "external_id": "c-1", "group_id": 111,
        "custom_fields": [{"id": 9001, "value": "product_bug"}, {"id": 9002, "value": 4200}],  # None is not sent
    }
    assert ticket_payload(TICKET, ZendeskConfig(), who, [], [])["comment"] == {"body": TICKET.body, "public": False}
    assert requester_user(TICKET, CONFIG) == {"email": "anonymous-customer@recovery-bridge.invalid",
                                              "name": "Anonymous customer"}
    known = TicketCreate(**{**TICKET.__dict__, "requester": Requester("li@example.com", "Li Wei")})
    assert requester_user(known, CONFIG) == {"email": "li@example.com", "name": "Li Wei"}


def test_a_private_note_carries_its_marker_and_a_public_reply_does_not() -> None:
    assert note_body(TicketNote("42", "Engineering bug filed: SUP-7"), "c-1-zendesk.link") \
        == "Engineering bug filed: SUP-7\n\n[rb:c-1-zendesk.link]"
    assert note_body(TicketNote("42", "We fixed it.", public=True), "k", ["- a.png (screenshot): attached"]) \
        == "We fixed it.\n\nAttachments\n-----------\n- a.png (screenshot): attached"
    assert TicketNote("42", "x", assignee_id=9).to_json() == {"ticket": "42", "assignee_id": 9,
                                                              "comment": {"body": "x", "public": False}}
