"""Zendesk connector: the ticket's content, the exact requests, exactly-once, and the failure table."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses

from bridge.config import Settings
from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from connectors import STEPS, connector_for, fetch as fetch_module
from connectors.base import Context, PermanentError, RetryableError
from connectors.outbox import OutboxConnector
from connectors.zendesk import ZendeskConnector, build_ticket, field_map
from tests.connectors.misbehaving import BEHAVIOURS, MisbehavingServer
from tests.helpers import generic_event

BASE = "https://acme.zendesk.com/api/v2"
STEP = STEPS["zendesk.ticket"]
CONTEXT = Context("c-1", "c-1-zendesk.ticket", {}, 2)  # a retry: an earlier attempt may have created it
FIRST = Context("c-1", "c-1-zendesk.ticket", {}, 1)
CREDS = {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "tok"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def package_for(event: dict[str, Any]) -> Any:
    parsed = Event.from_json(event)
    return build_package("c-1", "generic", parsed, decide(parsed))


def bug_event(**extra: Any) -> dict[str, Any]:
    event = generic_event(messages=[
        {"id": "1", "role": "customer", "text": "The export crashes with error E1042 since yesterday's update"},
        {"id": "2", "role": "bot", "text": "I'm not sure how to fix that.", "confidence": 0.3},
    ], type_="conversation.updated")
    event["customer"] = {"id": "cus-7", "email": "li@example.com", "name": "Li Wei", "plan": "Enterprise Plus",
                         "account": {"name": "Acme GmbH", "mrr": 4200}}
    event["conversation"]["language"] = "en"
    event.update(extra)
    return event


def connector(**extra: str) -> ZendeskConnector:
    return ZendeskConnector(Settings(extra={**CREDS, **extra}))


# --- builder ----------------------------------------------------------------------------------

def test_ticket_fields_a_human_can_triage() -> None:
    ticket = build_ticket(package_for(bug_event()), {}).to_json()
    assert ticket["subject"] == "The export crashes with error E1042 since yesterday's update"
    assert ticket["type"] == "incident"
    assert {"recovery_bridge", "trigger_product_bug", "plan_enterprise_plus", "lang_en"} <= set(ticket["tags"])
    assert all(" " not in tag for tag in ticket["tags"])
    assert ticket["comment"]["public"] is False and "html_body" not in ticket["comment"]
    assert ticket["_facts"]["mrr"] == 4200 and ticket["_facts"]["trigger"] == "product_bug"


ANGRY = [
    {"id": "1", "role": "customer", "text": "Hi! Our timesheets still aren't reaching payroll. Three days now."},
    {"id": "2", "role": "bot", "text": "The sync reports as operational.", "confidence": 0.7},
    {"id": "3", "role": "customer", "text": "This is a joke. We will cancel and move to your competitor."},
]


@pytest.mark.parametrize(("messages", "handoff", "subject"), [
    (ANGRY, None, "Our timesheets still aren't reaching payroll."),
    # A bot's category is not words for the customer; the customer's e-mail subject line is.
    ([{"id": "1", "role": "customer", "text": "Betreff: Rechnung INV-77102 – falsche USt-IdNr.\n\nSehr geehrte"}],
     {"requested_by": "bot", "reason": "wrong VAT id", "topic": "billing/invoice_correction"},
     "Rechnung INV-77102 – falsche USt-IdNr."),
    ([{"id": "1", "role": "customer", "text": "Can I talk to a person?"}],
     {"requested_by": "customer", "topic": "Refund after annual renewal"}, "Refund after annual renewal"),
    ([{"id": "1", "role": "customer", "text": "human please"}], None, "Your conversation with our assistant"),
])
def test_the_subject_is_the_customers_topic_never_a_triage_label(
        messages: list[dict[str, Any]], handoff: dict[str, Any] | None, subject: str) -> None:
    """Issue 16, point 3: Zendesk e-mails the subject to the requester."""
    event = generic_event(messages=messages, type_="conversation.updated")
    event["customer"] = {"email": "h@example.com", "name": "Helen Ashcroft", "plan": "enterprise",
                         "account": {"name": "Brightwater", "mrr": 6250, "currency": "GBP"}}
    if handoff:
        event["handoff"] = handoff
    decision = Decision(escalate=True, triggers=[TriggerHit(trigger="negative_sentiment", evidence="cancel"),
                                                 TriggerHit(trigger="low_confidence", evidence="0.3")])
    ticket = build_ticket(build_package("c-1", "generic", Event.from_json(event), decision), {}).to_json()
    assert ticket["subject"] == subject
    for internal in ("negative", "sentiment", "low_confidence", "Unhappy", "6250", "6,250", "[", "Brightwater"):
        assert internal not in ticket["subject"]
    assert {"trigger_negative_sentiment", "trigger_low_confidence"} <= set(ticket["tags"])


def test_a_question_is_not_an_incident() -> None:
    assert build_ticket(package_for(generic_event()), {}).type == "question"


def test_evidence_urls_are_collected_once() -> None:
    event = bug_event(evidence={"screenshots": [{"kind": "screenshot", "url": "https://cdn.example.com/a.png"}],
                                "files": [{"kind": "console_log", "url": "https://cdn.example.com/a.png"}]})
    assert build_ticket(package_for(event), {}).to_json()["_evidence"] == [
        {"url": "https://cdn.example.com/a.png", "kind": "screenshot", "name": ""}]


def test_very_long_transcripts_ride_along_as_a_text_file() -> None:
    messages = [{"id": str(i), "role": "customer" if i % 2 else "bot", "text": f"message {i} " + "x" * 400}
                for i in range(400)]
    ticket = build_ticket(package_for(generic_event(messages=messages)), {}).to_json()
    assert len(ticket["comment"]["body"]) <= 60_000
    assert "message 399" in ticket["comment"]["body"]  # the latest part stays inline
    [attachment] = ticket["_attachments"]
    assert attachment["name"] == "transcript.txt" and "message 0 " in attachment["text"]


def test_field_map_parsing() -> None:
    assert field_map("trigger=1, mrr = 22,bad,x=y,") == {"trigger": 1, "mrr": 22}


def test_without_credentials_the_outbox_is_used() -> None:
    assert isinstance(connector_for("zendesk", Settings()), OutboxConnector)
    assert isinstance(connector_for("zendesk", Settings(extra=CREDS)), ZendeskConnector)


# --- requests ---------------------------------------------------------------------------------

def _lookup(rsps: responses.RequestsMock, tickets: list[dict[str, Any]] | None = None) -> None:
    rsps.add(responses.GET, f"{BASE}/tickets.json", json={"tickets": tickets or [], "next_page": None, "count": 0})


def test_lookup_before_create_and_the_idempotency_key() -> None:
    request = build_ticket(package_for(bug_event()), {})
    with responses.RequestsMock() as rsps:
        _lookup(rsps)
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 42}}, status=201)
        result = connector(ZENDESK_FIELD_MAP="trigger=9001,mrr=9002").send(STEP, request, CONTEXT)
        lookup, create = rsps.calls  # no users/create_or_update: the requester rides in the create
    assert result.external_id == "42" and not result.dry_run
    assert "external_id=c-1" in lookup.request.url
    assert create.request.headers["Idempotency-Key"] == "c-1-zendesk.ticket"
    body = json.loads(create.request.body)["ticket"]
    assert body["requester"] == {"email": "li@example.com", "name": "Li Wei"}  # no id: Zendesk matches the e-mail
    assert "requester_id" not in body
    assert body["external_id"] == "c-1" and body["type"] == "incident"
    assert body["comment"]["public"] is False and "E1042" in body["comment"]["body"]
    assert body["custom_fields"] == [{"id": 9001, "value": "product_bug"}, {"id": 9002, "value": 4200}]
    assert not any(key.startswith("_") for key in body)


def test_a_first_attempt_creates_without_looking_and_carries_the_key() -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 41}}, status=201)
        assert connector().send(STEP, build_ticket(package_for(bug_event()), {}), FIRST).external_id == "41"
        assert [c.request.method for c in rsps.calls] == ["POST"]  # the minimum: the ticket, requester inline
        assert rsps.calls[0].request.headers["Idempotency-Key"] == "c-1-zendesk.ticket"


def test_an_existing_ticket_is_never_created_again() -> None:
    with responses.RequestsMock() as rsps:
        _lookup(rsps, [{"id": 77, "external_id": "c-1"}])
        result = connector().send(STEP, build_ticket(package_for(bug_event()), {}), CONTEXT)
        assert len(rsps.calls) == 1
    assert result.external_id == "77"


def test_anonymous_customers_get_the_placeholder_requester() -> None:
    event = generic_event()
    event["customer"] = {"id": "visitor-123"}
    with responses.RequestsMock() as rsps:
        _lookup(rsps)
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 5}}, status=201)
        connector(ZENDESK_FIELD_MAP="platform_customer_id=501").send(
            STEP, build_ticket(package_for(event), {}), CONTEXT)
        ticket = json.loads(rsps.calls[1].request.body)["ticket"]
    assert ticket["requester"] == {"email": "anonymous-customer@recovery-bridge.invalid", "name": "Anonymous customer"}
    assert {"id": 501, "value": "visitor-123"} in ticket["custom_fields"]


@pytest.mark.parametrize(
    "header,expected",
    [("2", 2.0), ("3600", 3600.0), ("1.5", 1.5), ("Wed, 21 Oct 2099 07:28:00 GMT", 6 * 3600.0), (None, None)],
)
def test_429_is_retryable_with_retry_after_and_never_sleeps(header: str | None, expected: float | None) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/tickets.json", status=429,
                 headers={"Retry-After": header} if header else {}, json={"error": "TooManyRequests"})
        with pytest.raises(RetryableError) as excinfo:
            connector().send(STEP, build_ticket(package_for(bug_event()), {}), CONTEXT)
        assert len(rsps.calls) == 1  # zenpy did not wait and try again inside the worker
    assert excinfo.value.retry_after == expected


def test_503_then_created_on_the_next_attempt() -> None:
    request = build_ticket(package_for(bug_event()), {})
    with responses.RequestsMock() as rsps:
        _lookup(rsps)
        rsps.add(responses.POST, f"{BASE}/tickets.json", status=503, json={"error": "Unavailable"})
        with pytest.raises(RetryableError):
            connector().send(STEP, request, CONTEXT)
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 43}}, status=201)
        assert connector().send(STEP, request, CONTEXT).external_id == "43"


def test_connection_reset_after_the_ticket_was_made_finds_it_next_time() -> None:
    request = build_ticket(package_for(bug_event()), {})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _lookup(rsps)
        rsps.add(responses.POST, f"{BASE}/tickets.json", body=requests.ConnectionError("connection reset by peer"))
        with pytest.raises(RetryableError):
            connector().send(STEP, request, FIRST)
        # Zendesk did make the ticket before the connection dropped: the retry's lookup sees it.
        rsps.replace(responses.GET, f"{BASE}/tickets.json", json={"tickets": [{"id": 44}], "next_page": None})
        assert connector().send(STEP, request, CONTEXT).external_id == "44"
        methods = [(c.request.method, c.request.url.split("?")[0].rsplit("/", 1)[-1]) for c in rsps.calls]
    assert methods == [("POST", "tickets.json"), ("GET", "tickets.json")]  # one create attempt in all


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent_with_the_vendors_message(status: int) -> None:
    with responses.RequestsMock() as rsps:
        _lookup(rsps)
        rsps.add(responses.POST, f"{BASE}/tickets.json", status=status,
                 json={"error": "RecordInvalid", "description": "Requester is suspended"})
        with pytest.raises(PermanentError) as excinfo:
            connector().send(STEP, build_ticket(package_for(bug_event()), {}), CONTEXT)
    assert str(status) in str(excinfo.value)


def test_timeouts_are_retryable() -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/tickets.json", body=requests.Timeout("read timed out"))
        with pytest.raises(RetryableError):
            connector().send(STEP, build_ticket(package_for(bug_event()), {}), CONTEXT)


# --- evidence ---------------------------------------------------------------------------------

class Evidence(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def evidence_host() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.2", 0), Evidence)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{httpd.server_address[1]}"
    httpd.shutdown()


def test_evidence_is_fetched_uploaded_and_blocked_urls_are_listed(evidence_host: str) -> None:
    event = bug_event(evidence={"screenshots": [
        {"kind": "screenshot", "url": f"{evidence_host}/shot.png", "name": "shot.png"},
        {"kind": "screenshot", "url": "http://169.254.169.254/latest/meta-data/"},
    ]})
    with responses.RequestsMock() as rsps:
        _lookup(rsps)
        rsps.add(responses.POST, re.compile(rf"{BASE}/uploads.json.*"), json={"upload": {"token": "tok-1"}})
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 45}}, status=201)
        connector(BRIDGE_FETCH_ALLOW="127.0.0.2/32").send(STEP, build_ticket(package_for(event), {}), CONTEXT)
        upload = next(c for c in rsps.calls if "/uploads.json" in c.request.url)
        ticket = json.loads(rsps.calls[-1].request.body)["ticket"]
    assert upload.request.body == PNG and "filename=shot.png" in upload.request.url
    assert ticket["comment"]["uploads"] == ["tok-1"]
    note = ticket["comment"]["body"]
    assert "shot.png (screenshot): attached" in note
    assert "169.254.169.254/latest/meta-data/: not attached: blocked" in note


@pytest.mark.parametrize("behaviour", ["short_body", "reset_mid_body", "drip_body"])
def test_evidence_from_a_misbehaving_host_never_blocks_the_ticket(behaviour: str, monkeypatch: pytest.MonkeyPatch,
                                                                 evidence_host: str) -> None:
    """Issue 20: a host sending fewer bytes than its Content-Length let urllib3's ProtocolError
    escape, and ``zendesk.ticket`` died after three attempts with no ticket at all."""
    monkeypatch.setattr(fetch_module, "TOTAL_SECONDS", 0.5)
    with MisbehavingServer(BEHAVIOURS[behaviour]) as bad:
        event = bug_event(evidence={"screenshots": [
            {"kind": "screenshot", "url": f"{bad.url}/broken.png", "name": "broken.png"},
            {"kind": "screenshot", "url": f"{evidence_host}/shot.png", "name": "shot.png"},
        ]})
        with responses.RequestsMock() as rsps:
            _lookup(rsps)
            rsps.add(responses.POST, re.compile(rf"{BASE}/uploads.json.*"), json={"upload": {"token": "tok-1"}})
            rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 46}}, status=201)
            result = connector(BRIDGE_FETCH_ALLOW="127.0.0.2/32").send(STEP, build_ticket(package_for(event), {}),
                                                                     CONTEXT)
            ticket = json.loads(rsps.calls[-1].request.body)["ticket"]
    assert result.external_id == "46"
    note = ticket["comment"]["body"]
    assert f"{bad.url}/broken.png: not attached: " in note
    assert "shot.png (screenshot): attached" in note and ticket["comment"]["uploads"] == ["tok-1"]


def test_evidence_zendesk_refuses_to_store_is_listed_and_the_ticket_is_still_made(evidence_host: str) -> None:
    event = bug_event(evidence={"screenshots": [
        {"kind": "screenshot", "url": f"{evidence_host}/huge.png", "name": "huge.png"}]})

    def upload(request: Any) -> Any:
        if "filename=huge.png" in request.url:
            return 413, {}, json.dumps({"error": "RecordInvalid", "description": "Attachment too large"})
        return 201, {}, json.dumps({"upload": {"token": "tok-9"}})

    with responses.RequestsMock() as rsps:
        _lookup(rsps)
        rsps.add_callback(responses.POST, re.compile(rf"{BASE}/uploads.json.*"), callback=upload)
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 47}}, status=201)
        result = connector(BRIDGE_FETCH_ALLOW="127.0.0.2/32").send(STEP, build_ticket(package_for(event), {}), CONTEXT)
        ticket = json.loads(rsps.calls[-1].request.body)["ticket"]
    assert result.external_id == "47"
    assert f"{evidence_host}/huge.png: not attached: Zendesk refused the file (HTTP 413)" in ticket["comment"]["body"]


# --- through the jobs -------------------------------------------------------------------------

def test_one_ticket_per_case_through_the_jobs_and_replays_change_nothing(settings: Settings) -> None:
    from bridge import create_app
    from bridge.runtime import Runtime
    from bridge.store import repo
    from bridge.store.migrate import upgrade
    from bridge.worker import handover
    from bridge.worker.runner import run_due
    from tests.helpers import dumps, signed_headers

    rt = Runtime.build(settings.with_overrides(extra=CREDS))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    created: list[dict[str, Any]] = []

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        created.append(json.loads(request.body)["ticket"])
        return 201, {}, json.dumps({"ticket": {"id": 900 + len(created)}})

    def lookup(request: Any) -> tuple[int, dict[str, str], str]:
        tickets = [{"id": 900 + i + 1, "external_id": t["external_id"]} for i, t in enumerate(created)]
        return 200, {}, json.dumps({"tickets": tickets, "next_page": None})

    event = bug_event()
    body = dumps(event)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/tickets.json", callback=lookup)
        rsps.add_callback(responses.POST, f"{BASE}/tickets.json", callback=create)
        answer = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()
        run_due(rt)
        with rt.store.session() as s:
            ticket = next(d for d in repo.deliveries_of(s, answer["case"]) if d.step == "zendesk.ticket")
        assert ticket.status == "done" and ticket.external_id == "901" and not ticket.dry_run
        # The whole event again (a redelivery), and the step replayed by hand: still one ticket.
        client.post("/webhooks/generic", data=body, headers=signed_headers(body))
        with rt.store.session() as s:  # as if it had failed for good and an operator replays it
            row = s.get(type(ticket), ticket.id)
            row.status, row.last_error = "dead", "RetryableError: Zendesk 503"
            s.commit()
        assert handover.replay(f"dl-{ticket.id}", rt)
        run_due(rt)
    assert len(created) == 1 and created[0]["external_id"] == answer["case"]
    with rt.store.session() as s:
        assert next(d for d in repo.deliveries_of(s, answer["case"]) if d.step == "zendesk.ticket").external_id == "901"


def test_the_link_note_is_posted_once() -> None:
    from connectors.zendesk import build_link_note, marker

    request = build_link_note(package_for(bug_event()), {"zendesk.ticket": "42", "jira.bug": "SUP-7"})
    context = Context("c-1", "c-1-zendesk.link", {})
    with responses.RequestsMock() as rsps:  # a first attempt just posts
        rsps.add(responses.PUT, f"{BASE}/tickets/42.json", json={"ticket": {"id": 42}})
        connector().send(STEPS["zendesk.link"], request, context)
        note = json.loads(rsps.calls[-1].request.body)["ticket"]["comment"]
    assert note["public"] is False and "SUP-7" in note["body"] and marker(context.key) in note["body"]
    with responses.RequestsMock() as rsps:  # a retry after an ambiguous failure finds its own note
        rsps.add(responses.GET, f"{BASE}/tickets/42/comments.json",
                 json={"comments": [{"id": 5, "body": note["body"]}], "next_page": None})
        result = connector().send(STEPS["zendesk.link"], request, Context("c-1", "c-1-zendesk.link", {}, 2))
        assert [c.request.method for c in rsps.calls] == ["GET"]
    assert result.external_id == "42#5"


def test_a_later_file_rides_on_its_follow_up_note_once(evidence_host: str) -> None:
    from connectors.zendesk import build_followup, marker

    followup = {"n": 1, "message_index": 5, "text": "Screenshot attached.", "waited_minutes": 20,
                "files": [{"kind": "screenshot", "url": f"{evidence_host}/later.png", "name": "later.png"}]}
    request = build_followup(package_for(bug_event()), {"zendesk.ticket": "42", "followup": followup,
                                                        "unanswered": True, "taken": True})
    assert request.public is False and "Screenshot attached." in request.body
    context = Context("c-1", "c-1-zendesk.followup#1", {})
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, re.compile(rf"{BASE}/uploads.json.*"), json={"upload": {"token": "tok-9"}})
        rsps.add(responses.PUT, f"{BASE}/tickets/42.json", json={"ticket": {"id": 42}})
        connector(BRIDGE_FETCH_ALLOW="127.0.0.2/32").send(STEPS["zendesk.followup"], request, context)
        note = json.loads(rsps.calls[-1].request.body)["ticket"]["comment"]
    assert note["uploads"] == ["tok-9"] and note["public"] is False
    assert "later.png (screenshot): attached" in note["body"] and marker(context.key) in note["body"]
    with responses.RequestsMock() as rsps:  # a retry finds the note it already posted: no second upload
        rsps.add(responses.GET, f"{BASE}/tickets/42/comments.json",
                 json={"comments": [{"id": 8, "body": note["body"]}], "next_page": None})
        again = connector().send(STEPS["zendesk.followup"], request, Context("c-1", context.key, {}, 2))
        assert [c.request.method for c in rsps.calls] == ["GET"]
    assert again.external_id == "42#8"


def test_ticket_activity_for_the_reconciler() -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/tickets/42.json", json={"ticket": {
            "id": 42, "external_id": "c-1", "status": "solved", "assignee_id": 902,
            "updated_at": "2026-11-28T10:00:00Z", "satisfaction_rating": {"score": "good", "comment": "thanks"}}})
        rsps.add(responses.GET, f"{BASE}/tickets/42/comments.json", json={"comments": [
            {"id": 1, "author_id": 7, "public": False, "body": "package", "created_at": "2026-11-28T09:00:00Z",
             "via": {"channel": "api"}},
            {"id": 2, "author_id": 902, "public": True, "body": "Fixed it for you",
             "created_at": "2026-11-28T09:30:00Z", "via": {"channel": "web"}}], "next_page": None})
        rsps.add(responses.GET, f"{BASE}/users/7.json", json={"user": {"id": 7, "role": "end-user"}})
        rsps.add(responses.GET, f"{BASE}/users/902.json", json={"user": {"id": 902, "role": "agent"}})
        activity = connector().ticket_activity("42")
    assert activity["status"] == "solved" and activity["satisfaction_rating"] == {"score": "good", "comment": "thanks"}
    assert [(c["id"], c["is_staff"], c["via"]["channel"], c["public"]) for c in activity["comments"]] == [
        (1, False, "api", False), (2, True, "web", True)]


def test_a_live_ticket_gets_no_note_about_a_bug_that_was_only_dry_run(settings: Settings) -> None:
    from bridge import create_app
    from bridge.runtime import Runtime
    from bridge.store import repo
    from bridge.store.migrate import upgrade
    from bridge.worker.runner import run_due
    from tests.helpers import dumps, signed_headers

    rt = Runtime.build(settings.with_overrides(extra=CREDS))  # Zendesk live, Jira not configured
    upgrade(rt.store)
    body = dumps(bug_event())
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{BASE}/tickets.json", json={"ticket": {"id": 77}}, status=201)
        case_id = create_app(rt=rt).test_client().post(
            "/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
        run_due(rt)
        assert [c.request.method for c in rsps.calls] == ["POST"]  # the ticket only: no comments lookup, no PUT
    with rt.store.session() as s:
        link = next(d for d in repo.deliveries_of(s, case_id) if d.step == "zendesk.link")
    assert link.status == "done" and link.external_id == "skipped: no longer needed"
