"""The demo seeder's machinery: signed events posted to the app, and the work each one causes run at
that event's time (see ``bridge.cli.demo``).

The store, the worker's jobs, the loop and the intake are imported inside the methods, for start-up
speed: `bridge --help` loads this module.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

DEMO_GENERIC_SECRET = "whsec_ZGVtby1zZWVkLXNlY3JldC1mb3ItcmVjb3ZlcnktYnJpZGdl"
DEMO_ZENDESK_SECRET = "demo-zendesk-signing-secret"
DEMO_JIRA_SECRET = "demo-jira-shared-secret"
DEMO_RASA_TOKEN = "demo-rasa-action-endpoint-token"
DEMO_DIALOGFLOW_TOKEN = "demo-dialogflow-cx-webhook-token"
# The routing file the demo uses and tells the user about (so `bridge route --replay` agrees).
EXAMPLE_ROUTING = Path("examples") / "routing.yaml"
# Which bot platform each demo conversation comes from: the bridge's own format, a Rasa action
# server (whole tracker in each call) and Dialogflow CX (one webhook per turn).
PLATFORMS = {"generic": 60, "rasa": 25, "dialogflow-cx": 15}

SCENARIOS: dict[str, dict[str, Any]] = {
    "human": {"topic": "data-export", "messages": [
        ("customer", "How do I export all my project data to CSV?"),
        ("bot", "You can export from Settings > Data. Did that help?", 0.8),
        ("customer", "That menu is not there for me. Can I talk to a person please?")]},
    "gap": {"topic": "sso-setup", "messages": [
        ("customer", "How do I configure SAML single sign-on with Okta for my workspace?"),
        ("bot", "Sorry, I could not find an answer to that in our help center.", 0.2)]},
    "bug": {"topic": "checkout-error", "messages": [
        ("customer", "Checkout fails with error 500 every time I click Pay. Steps: add item, open cart, click Pay."),
        ("bot", "I'm sorry to hear that. Let me look into it.", 0.6),
        ("customer", "It still crashes with the same error 500.")]},
    "angry": {"topic": "slow-support", "messages": [
        ("customer", "This is the third time I'm asking. This is ridiculous, I'm going to cancel my subscription."),
        ("bot", "I understand your frustration.", 0.7)]},
    "billing": {"topic": "refund", "messages": [
        ("customer", "I was charged twice for invoice INV-2291, $49. I want a refund for the duplicate charge."),
        ("bot", "Refunds outside policy need a person to review.", 0.6)]},
    "fine": {"topic": "password-reset", "messages": [
        ("customer", "How do I reset my password?"),
        ("bot", "Click 'Forgot password' on the login page and follow the email link.", 0.95),
        ("customer", "Great, that worked, thanks!")]},
}

@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def _messages(scenario: str, at: datetime, proactive: bool) -> list[dict[str, Any]]:
    if proactive:
        return [{"id": "m1", "role": "bot", "text": "Hi! Our new reporting dashboard is live - want a tour?"}]
    messages = []
    for i, item in enumerate(SCENARIOS[scenario]["messages"], 1):
        msg: dict[str, Any] = {"id": f"m{i}", "role": item[0], "text": item[1],
                               "sent_at": (at + timedelta(seconds=20 * i)).isoformat()}
        if len(item) > 2:
            msg["confidence"] = item[2]
        messages.append(msg)
    return messages


@dataclass
class Seeder:
    """Posts signed events to the app and runs the work each one causes, at that event's time.

    The jobs are the real ones (``jobs.process_event``, ``jobs.deliver``, ``loop.process_vendor_event``),
    run for the case the event touched rather than by scanning every queue after every event: the
    demo writes hundreds of events, and the scans, not the work, were what made it slow.
    """

    rt: Any
    client: Any
    clock: Clock
    rng: random.Random
    until: datetime
    counts: dict[str, int] = field(default_factory=dict)
    _keys: list[str] | None = None

    def bump(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def drain(self, case_id: str, events: bool = True, keys: list[str] | None = None) -> None:
        """Run the case's accepted events, then its due deliveries, each after its prerequisite
        (the order ``repo.due_deliveries`` gives, worked out from one read of the case's steps)."""
        from bridge.store import demo_repo
        from bridge.store.models import DEAD, DONE, PENDING
        from bridge.worker import jobs

        if events and keys is None:
            with self.rt.store.session() as s:
                keys = demo_repo.received_event_keys(s, case_id)
        for key in keys or []:
            jobs.process_event(key, self.rt)
        tried: set[int] = set()
        for _ in range(20):  # bounded: new steps (follow-ups) are picked up by the next read
            with self.rt.store.session() as s:
                steps = demo_repo.delivery_steps(s, case_id)
            settled = {row.step for row in steps if row.status in (DONE, DEAD)}
            due = [row for row in steps if row.status == PENDING and row.id not in tried
                   and row.next_attempt_at <= self.clock.now]
            if not due:
                return
            progressed = False
            for row in due:
                if row.after and row.after not in settled:
                    continue
                tried.add(row.id)
                progressed = True
                if jobs.deliver(row.id, self.rt) == "done":
                    settled.add(row.step)
            if not progressed:
                return

    def chat(self, at: datetime, scenario: str, conversation: str, customer: dict[str, Any], *,
             platform: str = "generic", close: bool = False, proactive: bool = False) -> str:
        from bridge.worker.intake import case_id_for

        self.clock.now = at
        messages = _messages(scenario, at, proactive)
        topic = None if proactive else SCENARIOS[scenario]["topic"]
        if platform == "rasa":
            self._rasa(conversation, messages, customer, topic)
        elif platform == "dialogflow-cx":
            self._dialogflow(conversation, messages, customer, topic)
        else:
            self._generic(at, conversation, messages, customer, topic, scenario, close)
        case_id = case_id_for(platform, conversation)
        self.drain(case_id, keys=self._keys)
        return case_id

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        response = self.client.post(path, data=body, headers={"Content-Type": "application/json", **headers})
        if response.status_code >= 300:
            raise click.ClickException(f"the bridge refused a demo event on {path}: {response.status_code}")
        answer = response.get_json(silent=True) or {}
        # The bridge's own answer names the event; the platforms that call synchronously get their
        # own answer shape, so the case's accepted events are looked up instead.
        self._keys = [answer["event"]] if isinstance(answer.get("event"), str) and not answer.get("duplicate") else None
        return response

    def _generic(self, at: datetime, conversation: str, messages: list[dict[str, Any]], customer: dict[str, Any],
                 topic: str | None, scenario: str, close: bool) -> None:
        from bridge.signing import sign_standard_webhook

        event: dict[str, Any] = {
            "schema_version": 1, "event_id": f"seed-{uuid.uuid4().hex[:16]}",
            "type": "conversation.closed" if close else "conversation.updated",
            "occurred_at": at.isoformat(), "bot": {"name": "Helper", "platform": "demo"},
            "conversation": {"id": conversation, "channel": "web", "language": "en", "messages": messages},
            "customer": customer,
        }
        if topic:
            event["handoff"] = {"topic": topic}  # the bot's topic label; the engine decides
        if scenario == "bug" and topic and self.rng.random() < 0.6:
            event["evidence"] = {
                "page_url": "https://app.example.com/checkout",
                "console_logs": [{"level": "error", "message": "PaymentError: callback returned 500"}],
                "network_requests": [
                    {"method": "POST", "url": "https://api.example.com/v1/checkout/pay", "status": 500}],
                "device": {"browser": "Firefox 128", "os": "macOS 14", "app_version": "5.2.1"},
            }
        body = json.dumps(event).encode()
        ts, mid = int(time.time()), f"msg_{uuid.uuid4().hex[:16]}"
        self._post("/webhooks/generic", body, {"webhook-id": mid, "webhook-timestamp": str(ts),
                                               "webhook-signature": sign_standard_webhook(body, mid, ts,
                                                                                          DEMO_GENERIC_SECRET)})

    def _rasa(self, conversation: str, messages: list[dict[str, Any]], customer: dict[str, Any],
              topic: str | None) -> None:
        """A Rasa action server call: the whole tracker, the bot's next action not a handoff (the
        bridge's engine decides)."""
        events = []
        for m in messages:
            stamp = datetime.fromisoformat(m["sent_at"]).timestamp() if m.get("sent_at") else None
            item: dict[str, Any] = {"event": "user" if m["role"] == "customer" else "bot", "text": m["text"],
                                    "timestamp": stamp, "message_id": f"{conversation}-{m['id']}"}
            if m["role"] == "customer" and topic:
                item["parse_data"] = {"intent": {"name": topic.replace("-", "_"), "confidence": 0.86}}
            events.append(item)
        slots = {"customer_id": customer.get("id"), "customer_email": customer.get("email"),
                 "customer_name": customer.get("name")}
        data = {"next_action": "action_default_fallback", "sender_id": conversation,
                "tracker": {"sender_id": conversation, "slots": slots, "events": events,
                            "latest_message": {"text": events[-1]["text"] if events else "",
                                               "message_id": events[-1]["message_id"] if events else None},
                            "latest_input_channel": "rest"},
                "domain": {"assistant_id": "demo-assistant"}}
        self._post(f"/webhooks/rasa?token={DEMO_RASA_TOKEN}", json.dumps(data).encode(), {})

    def _dialogflow(self, conversation: str, messages: list[dict[str, Any]], customer: dict[str, Any],
                    topic: str | None) -> None:
        """Dialogflow CX calls once per turn: the customer's words and the bot's answer to them."""
        turns: list[tuple[dict[str, Any], list[str]]] = []
        for m in messages:
            if m["role"] == "customer":
                turns.append((m, []))
            elif turns:
                turns[-1][1].append(m["text"])
        params = {"customer_id": customer.get("id"), "customer_email": customer.get("email"),
                  "customer_name": customer.get("name"), "plan": customer.get("plan")}
        for said, answers in turns:
            data = {"detectIntentResponseId": uuid.uuid4().hex, "languageCode": "en", "text": said["text"],
                    "intentInfo": {"displayName": topic or "Default Welcome Intent", "confidence": 0.8},
                    "sessionInfo": {"session": f"projects/demo/locations/global/agents/helper/sessions/{conversation}",
                                    "parameters": {k: v for k, v in params.items() if v}},
                    "messages": [{"text": {"text": [text]}} for text in answers]}
            self._post("/webhooks/dialogflow-cx", json.dumps(data).encode(),
                       {"X-Bridge-Token": DEMO_DIALOGFLOW_TOKEN})
            self.drain(_case_of("dialogflow-cx", conversation), keys=None)

    def zendesk(self, at: datetime, payload: dict[str, Any], case_id: str | None = None) -> None:
        if at > self.until:
            return  # not happened yet
        from bridge.adapters.vendor.zendesk import zendesk_signature

        body = json.dumps(payload).encode()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.clock.now = at
        response = self.client.post("/events/zendesk", data=body, headers={
            "Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Signature": zendesk_signature(body, stamp, DEMO_ZENDESK_SECRET),
            "X-Zendesk-Webhook-Invocation-Id": uuid.uuid4().hex})
        if response.status_code != 200:
            raise click.ClickException(f"/events/zendesk refused a demo event: {response.status_code}")
        self._vendor(response, case_id)

    def _vendor(self, response: Any, case_id: str | None) -> None:
        from bridge.loop.jobs import process_vendor_event

        ident = (response.get_json() or {}).get("received")
        if ident is not None:
            process_vendor_event(ident, self.rt)
        if case_id:
            self.drain(case_id, events=False)

    def ticket_event(self, at: datetime, ticket: str, case_id: str, kind: str, event: dict[str, Any],
                     actor: str) -> None:
        self.zendesk(at, {
            "type": f"zen:event-type:ticket.{kind}", "id": uuid.uuid4().hex, "time": at.isoformat(),
            "subject": f"zen:ticket:{ticket}", "zendesk_event_version": "2022-11-06",
            "detail": {"id": ticket, "external_id": case_id, "actor_id": actor, "updated_at": at.isoformat()},
            "event": event}, case_id)

    def jira(self, at: datetime, payload: dict[str, Any], case_id: str | None = None) -> None:
        if at > self.until:
            return
        self.clock.now = at
        response = self.client.post("/events/jira", data=json.dumps(payload).encode(), headers={
            "Content-Type": "application/json", "X-Bridge-Webhook-Secret": DEMO_JIRA_SECRET,
            "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex})
        if response.status_code != 200:
            raise click.ClickException(f"/events/jira refused a demo event: {response.status_code}")
        self._vendor(response, case_id)

    def settle(self) -> None:
        """Steps due later (re-escalation pages of cases nobody took) run at their own time, up to now."""
        from bridge.store import demo_repo

        tried: set[int] = set()
        for _ in range(5000):
            with self.rt.store.session() as s:
                row = demo_repo.next_due_delivery(s, self.until, tried)
            if row is None:
                return
            tried.add(row.id)
            self.clock.now = row.next_attempt_at
            self.drain(row.case_id)


def _case_of(platform: str, conversation: str) -> str:
    from bridge.worker.intake import case_id_for

    return case_id_for(platform, conversation)
