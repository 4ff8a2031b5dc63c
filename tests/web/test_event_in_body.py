"""A generic webhook's body is its event: the inbox keeps it once (issue 19, "validated once, the raw
bytes stored, not re-serialized"), and everything that reads an inbox row's event reads the same event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.events import Event
from bridge.runtime import Runtime
from bridge.store import erasure
from bridge.store.intake_rows import EVENT_IN_BODY, inbox_event
from bridge.store.models import InboxRow
from bridge.worker import intake
from tests.helpers import dumps, generic_event, signed_headers


def _post(client: FlaskClient, body: bytes) -> Any:
    response = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _row(rt: Runtime, key: str) -> InboxRow:
    with rt.store.session() as s:
        row = s.scalars(select(InboxRow).where(InboxRow.key == key)).one()
        s.expunge(row)
        return row


def test_the_body_is_stored_once_and_read_back_as_the_validated_event(client: FlaskClient, rt: Runtime) -> None:
    data = generic_event(event_id="evt-once", sender_extra={"kept": "in the body only"})
    data["conversation"]["messages"][0]["sent_at"] = "2026-11-28T09:59:00z"
    body = dumps(data)
    row = _row(rt, _post(client, body)["event"])
    assert row.event == EVENT_IN_BODY and bytes(row.body) == body
    assert Event.from_json(inbox_event(row.event, row.body)) == Event.from_json(data)


def test_a_body_the_strict_parser_had_to_repair_keeps_its_event(client: FlaskClient, rt: Runtime) -> None:
    data = generic_event(event_id="evt-bom")
    body = "\ufeff".encode() + dumps(data)  # a byte order mark: jiter refuses it, jsonsafe.loads drops it
    row = _row(rt, _post(client, body)["event"])
    assert row.event != EVENT_IN_BODY
    assert Event.from_json(inbox_event(row.event, row.body)) == Event.from_json(data)


def test_a_body_with_a_masked_credential_keeps_its_event(rt: Runtime) -> None:
    # Drift puts its verification token in the body: the stored body is not the body received, so the
    # event the adapter parsed is stored beside it, whatever the caller says.
    data = generic_event(event_id="evt-drift") | {"token": "drift-verification-token"}
    event = Event.from_json(data)
    [accepted] = intake.store_events(rt, "drift", dumps(data), {}, [event], body_is_event=True)
    row = _row(rt, accepted.key)
    assert b"drift-verification-token" not in bytes(row.body)
    assert row.event != EVENT_IN_BODY and Event.from_json(row.event) == event


def test_several_events_of_one_body_keep_their_own(rt: Runtime) -> None:
    events = [Event.from_json(generic_event(event_id=f"evt-{n}", conversation_id=f"conv-{n}")) for n in (1, 2)]
    accepted = intake.store_events(rt, "generic", b"[]", {}, events, body_is_event=True)
    for item, event in zip(accepted, events, strict=True):
        row = _row(rt, item.key)
        assert row.event != EVENT_IN_BODY and Event.from_json(row.event) == event


def test_erasure_keeps_the_ids_of_an_event_stored_in_its_body(client: FlaskClient, rt: Runtime) -> None:
    body = dumps(generic_event(event_id="evt-erased", conversation_id="conv-erased"))
    key = _post(client, body)["event"]
    with rt.store.session() as s:
        later = rt.clock() + timedelta(days=1)
        assert erasure.scrub_caseless_inbox(s, later, ()) == 1
        s.commit()
    row = _row(rt, key)
    assert bytes(row.body) == b""
    assert row.event == {"event_id": "evt-erased", "type": "handoff.requested",
                         "conversation": {"id": "conv-erased", "messages": []}}
