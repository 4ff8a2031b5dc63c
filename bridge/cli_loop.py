"""``bridge report``, ``bridge kb list|done`` and ``bridge seed-demo``.

``seed-demo`` writes a realistic month of cases through the real pipeline into the dry-run setup:
signed chatbot events go to ``POST /webhooks/generic`` of ``create_app``, the in-process runner
escalates, routes and "delivers" them to the outbox, then signed Zendesk events (assignments,
holding and useful replies, solves, reopens, CSAT) go to ``POST /events/zendesk`` and Jira events
to ``POST /events/jira``, all under a shifted ``rt.clock`` so the timestamps spread over the month.
It refuses to run when a vendor is configured (it would create real tickets).
"""

from __future__ import annotations

import csv
import json
import random
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bridge.recovery_model import METRICS, RecoveryReport


def _runtime() -> Any:
    from bridge.cli import _runtime as build

    return build(migrate=True)


# --- report -------------------------------------------------------------------------------------

def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric.endswith("_s"):
        minutes, seconds = divmod(int(round(value)), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"
    if metric.endswith("rate") or metric.startswith("csat"):
        return f"{100 * value:.1f}%"
    return f"{value:g}"


def render_table(report: RecoveryReport) -> str:
    lines = [f"Recovery report {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC"
             + (f"  filters: {report.filters}" if report.filters else "")]
    width = max(len(m) for m in METRICS) + 2
    for v in report.totals:
        ratio = f"  ({v.numerator:g}/{v.denominator:g})" if v.numerator is not None and v.denominator else ""
        lines.append(f"  {v.metric:<{width}}{_fmt(v.metric, v.value):>12}{ratio}")
    lines.append("  outcome cohorts: " + ", ".join(f"{k}={n}" for k, n in report.cohorts.items()))
    for dimension in ("trigger", "team", "completeness_band"):
        shown = ("escalations", "time_to_first_useful_response_median_s", "csat", "reopen_rate")
        by_metric = {b.metric: b for b in report.breakdowns if b.dimension == dimension and b.metric in shown}
        keys = [r.key for r in by_metric["escalations"].rows] if "escalations" in by_metric else []
        if not keys:
            continue
        lines.append(f"  by {dimension}:")
        for key in keys:
            cells = []
            for metric in shown:
                row = next((r for r in by_metric[metric].rows if r.key == key), None)
                cells.append(f"{metric.split('_median')[0]}={_fmt(metric, row.value if row else None)}")
            lines.append(f"    {key:<26}" + "  ".join(cells))
    return "\n".join(lines)


@click.command("report")
@click.option("--since", default="30d", show_default=True, help="Window start: 30d, 2w, 12h or an ISO date.")
@click.option("--until", "until_text", default=None, help="Window end (ISO date/time; default now).")
@click.option("--team", default=None)
@click.option("--trigger", default=None)
@click.option("--platform", default=None)
@click.option("--owner", default=None)
@click.option("--granularity", type=click.Choice(["day", "week"]), default="week", show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="Flat CSV rows (totals, then breakdowns).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
def report(since: str, until_text: str | None, team: str | None, trigger: str | None, platform: str | None,
           owner: str | None, granularity: str, as_csv: bool, as_json: bool) -> None:
    """Print the recovery metrics (definitions: docs/metrics.md)."""
    from bridge.recovery import build_report, flat_rows, parse_since

    rt = _runtime()
    now = rt.clock()
    try:
        start = parse_since(since, now)
        end = parse_since(until_text, now) if until_text else now
    except ValueError:
        raise click.BadParameter("use 30d, 12h, 2w or an ISO date", param_hint="--since/--until") from None
    filters = {k: v for k, v in dict(team=team, trigger=trigger, platform=platform, owner=owner).items() if v}
    with rt.store.session() as s:
        result = build_report(s, start, end, filters, granularity, settings=rt.settings)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    elif as_csv:
        fields = ["dimension", "key", "metric", "value", "numerator", "denominator"]
        writer = csv.DictWriter(sys.stdout, fieldnames=fields)
        writer.writeheader()
        writer.writerows(flat_rows(result))
    else:
        click.echo(render_table(result))


# --- kb -----------------------------------------------------------------------------------------

@click.group("kb")
def kb_group() -> None:
    """Knowledge-base suggestions drafted from human answers to content gaps."""


@kb_group.command("list")
@click.option("--status", type=click.Choice(["suggested", "done"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def kb_list(status: str | None, as_json: bool) -> None:
    from bridge import kb

    rows = kb.listing(_runtime(), status)
    if not rows and not as_json:
        click.echo("no KB suggestions")
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['id']}  {row['status']:<9}  {row['source']:<8}  case={row['case']}  {row['title']}")


@kb_group.command("done")
@click.argument("ident", type=int)
@click.option("--by", default="cli:kb", show_default=True, help="Who made the KB change.")
@click.option("--url", default=None, help="Link to the article that was written or changed.")
def kb_done(ident: int, by: str, url: str | None) -> None:
    """Mark suggestion ID as done: the KB change is made (counts as a conversion)."""
    from bridge import kb

    if not kb.mark_done(_runtime(), ident, by, url):
        click.echo(f"{ident} is not an open KB suggestion", err=True)
        sys.exit(2)
    click.echo(f"KB suggestion {ident} marked done")


# --- seed-demo ----------------------------------------------------------------------------------

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
# Zendesk agents of examples/routing.yaml (Ana, Jonas, Keiko, Sam, Priya) and the people who mark
# KB articles done and approve customer updates.
AGENTS = ("9001", "9002", "9003", "9101", "9102")
KB_EDITOR, APPROVER = "U01ANA", "U02SAM"

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
AGENT_REPLIES = {
    "human": "The export lives under Workspace settings > Data > Export for admins; I've made you an admin so "
             "you can run it now. The CSV arrives by email within a few minutes.",
    "gap": "To set up SAML with Okta: in Okta add our app from the catalog, copy the metadata URL into "
           "Settings > Security > SSO, map the email attribute, then test with one user before enforcing.",
    "bug": "Thanks for the details. We reproduced the 500 on checkout; engineering is fixing the payment "
           "callback. I've applied your order manually so you are not blocked.",
    "angry": "I'm sorry we kept you waiting. I've looked at your three earlier requests and fixed the sync "
             "setting that caused them; I'll stay your contact until it's settled.",
    "billing": "You're right, INV-2291 was charged twice. I've refunded the duplicate $49; it shows on your "
               "statement in 3-5 business days.",
}
REASK = "Could you send me a screenshot of the error message and tell me which browser you use?"
HOLDING = "Thanks for your patience, we're looking into it and will get back to you shortly."


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
        from sqlalchemy import select

        from bridge.store.models import DEAD, DONE, PENDING, RECEIVED, DeliveryRow, InboxRow
        from bridge.worker import jobs

        if events and keys is None:
            with self.rt.store.session() as s:
                keys = list(s.scalars(select(InboxRow.key).where(InboxRow.case_id == case_id,
                                                                 InboxRow.state == RECEIVED).order_by(InboxRow.id)))
        for key in keys or []:
            jobs.process_event(key, self.rt)
        tried: set[int] = set()
        for _ in range(20):  # bounded: new steps (follow-ups) are picked up by the next read
            with self.rt.store.session() as s:
                steps = s.execute(select(DeliveryRow.id, DeliveryRow.step, DeliveryRow.after, DeliveryRow.status,
                                         DeliveryRow.next_attempt_at).where(DeliveryRow.case_id == case_id)
                                  .order_by(DeliveryRow.id)).all()
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
        import time

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
        from bridge.web.vendor_events import zendesk_signature

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
        from bridge.loop import process_vendor_event

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
        from sqlalchemy import select

        from bridge.store.models import PENDING, DeliveryRow

        tried: set[int] = set()
        for _ in range(5000):
            with self.rt.store.session() as s:
                row = s.execute(select(DeliveryRow.id, DeliveryRow.case_id, DeliveryRow.next_attempt_at)
                                .where(DeliveryRow.status == PENDING, DeliveryRow.next_attempt_at <= self.until,
                                       DeliveryRow.id.not_in(tried) if tried else DeliveryRow.id.is_not(None))
                                .order_by(DeliveryRow.next_attempt_at).limit(1)).first()
            if row is None:
                return
            tried.add(row.id)
            self.clock.now = row.next_attempt_at
            self.drain(row.case_id)


def _case_of(platform: str, conversation: str) -> str:
    from bridge.worker.intake import case_id_for

    return case_id_for(platform, conversation)


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=rng.lognormvariate(0, 0.8) * (low + high) / 4 if rng.random() < 0.9 else high)


@dataclass(frozen=True)
class Planned:
    """One demo conversation, decided up front so the month is the same however it is written."""

    n: int
    at: datetime
    kind: str
    platform: str
    customer: dict[str, Any]
    conversation: str
    seed: int  # of the random choices in this conversation's story


def plan(days: int, cases: int, seed_value: int, until: datetime) -> list[Planned]:
    rng = random.Random(seed_value)
    start = until - timedelta(days=days)
    starts = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400 - 3600)) for _ in range(cases))
    # About half the conversations reach a person: a bot that contains the other half is a good one.
    weights = {"fine": 45, "human": 14, "gap": 12, "bug": 11, "angry": 6, "billing": 7, "proactive": 5}
    planned = []
    for n, at in enumerate(starts):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        platform = rng.choices(list(PLATFORMS), weights=list(PLATFORMS.values()))[0]
        email = f"customer{rng.randint(1, max(10, cases // 2))}@example.com"
        customer: dict[str, Any] = {"id": f"cus-{email.split('@')[0]}", "name": f"Customer {n}"}
        if rng.random() < 0.8:  # some bots know only a platform id: a less complete package
            customer |= {"email": email, "plan": rng.choice(["pro", "business", "starter"])}
        planned.append(Planned(n, at, kind, platform, customer, f"demo-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}",
                               rng.getrandbits(32)))
    return planned


def _seeder(rt: Any, until: datetime, rng: random.Random) -> Seeder:
    from bridge import create_app

    clock = Clock(until)
    rt.clock = clock
    return Seeder(rt, create_app(rt=rt).test_client(), clock, rng, until=until)


def _write(seeder: Seeder, item: Planned) -> None:
    """One conversation and what the humans then did with it, at their times."""
    rng = seeder.rng = random.Random(item.seed)
    at, kind, customer = item.at, item.kind, item.customer
    if kind == "proactive":
        seeder.chat(at, "fine", item.conversation, customer, proactive=True)
        seeder.chat(at + timedelta(minutes=30), "fine", item.conversation, customer, close=True, proactive=True)
        seeder.bump("proactive")
    elif kind == "fine":
        seeder.chat(at, kind, item.conversation, customer, platform=item.platform)
        if item.platform == "generic":
            seeder.chat(at + timedelta(minutes=3), "fine", item.conversation, customer, close=True)
        seeder.bump("contained")
    else:
        case_id = seeder.chat(at, kind, item.conversation, customer, platform=item.platform)
        seeder.bump("escalated")
        seeder.bump(f"platform {item.platform}")
        if rng.random() < 0.05:  # the customer opens a second chat a few minutes later: a duplicate
            seeder.chat(at + timedelta(minutes=4), kind, f"{item.conversation}-again", customer)
            seeder.bump("duplicate")
        _agent_story(seeder, rng, case_id, kind, at, customer, item.n)


def seed(rt: Any, days: int = 30, cases: int = 200, seed_value: int = 7,
         progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write ``cases`` conversations over the last ``days`` days; returns what it made, by kind."""
    from bridge import kb
    from bridge.loop_jira import approve_update
    from bridge.store import loop_repo

    real_now = rt.clock()
    planned = plan(days, cases, seed_value, real_now)
    rng = random.Random(seed_value + 1)
    seeder = _seeder(rt, real_now, rng)
    for item in planned:
        _write(seeder, item)
        if progress:
            progress(item.n + 1)
    seeder.rng = rng
    clock = seeder.clock
    start = real_now - timedelta(days=days)
    # Non-bridge tickets rated in the helpdesk: the CSAT baseline.
    for i in range(max(5, cases // 8)):
        at = start + timedelta(seconds=rng.uniform(0, days * 86400))
        seeder.zendesk(at, {"ticket_id": str(90000 + i), "status": "solved", "updated_at": at.isoformat(),
                            "satisfaction": {"score": "good" if rng.random() < 0.78 else "bad"}})
    seeder.settle()
    # Some KB suggestions become articles; some drafted customer updates are approved.
    with rt.store.session() as s:
        open_suggestions = [(r.id, r.created_at) for r in loop_repo.suggestions(s, "suggested")]
    for ident, created in open_suggestions:
        if rng.random() < 0.45 and created + timedelta(days=2) <= real_now:
            clock.now = created + timedelta(days=rng.uniform(0.5, 2))
            kb.mark_done(rt, ident, KB_EDITOR)
            seeder.bump("kb_done")
    from sqlalchemy import select

    from bridge.store.models import DRAFTED, NOTE_UPDATE, CaseNoteRow

    with rt.store.session() as s:
        drafted = [(r.id, r.case_id, r.created_at) for r in s.scalars(
            select(CaseNoteRow).where(CaseNoteRow.kind == NOTE_UPDATE, CaseNoteRow.status == DRAFTED))]
    for ident, case_id, created in drafted:
        if rng.random() < 0.7:
            clock.now = min(created + timedelta(hours=rng.uniform(1, 12)), real_now)
            approve_update(rt, ident, APPROVER)
            seeder.drain(case_id)
            seeder.bump("update_approved")
    clock.now = real_now
    return seeder.counts


def _agent_story(seeder: Seeder, rng: random.Random, case_id: str, kind: str, at: datetime,
                 customer: dict[str, Any], n: int) -> None:
    """What the humans did with one escalated case, as Zendesk (and Jira) would report it."""
    ticket = str(10000 + n)
    agent = rng.choice(AGENTS)
    t = at + timedelta(seconds=30)
    if rng.random() < 0.85:  # someone takes it in Zendesk
        t += _minutes(rng, 2, 90)
        seeder.ticket_event(t, ticket, case_id, "agent_assignment_changed", {"current": agent, "previous": None}, agent)
    if rng.random() < 0.35:  # a holding reply first
        t += _minutes(rng, 1, 20)
        _reply(seeder, t, ticket, case_id, agent, HOLDING)
    if rng.random() < 0.1:  # the AI's handoff did not stick: the agent re-asks what the package had
        t += _minutes(rng, 2, 30)
        _reply(seeder, t, ticket, case_id, agent, REASK)
    if rng.random() < 0.08:
        return  # no useful reply yet: still open
    t += _minutes(rng, 5, 240 if kind != "bug" else 600)
    _reply(seeder, t, ticket, case_id, agent, AGENT_REPLIES[kind])
    if rng.random() < 0.12:
        return  # answered, not solved yet
    t += _minutes(rng, 10, 600)
    solved = t
    seeder.ticket_event(t, ticket, case_id, "status_changed", {"current": "SOLVED", "previous": "OPEN"}, agent)
    if rng.random() < 0.09:  # the customer was not done
        t += timedelta(hours=rng.uniform(2, 100))
        seeder.ticket_event(t, ticket, case_id, "status_changed", {"current": "OPEN", "previous": "SOLVED"}, agent)
        t += _minutes(rng, 30, 600)
        _reply(seeder, t, ticket, case_id, agent, "Sorry about that, here is the rest: " + AGENT_REPLIES[kind])
        t += _minutes(rng, 10, 120)
        seeder.ticket_event(t, ticket, case_id, "status_changed", {"current": "SOLVED", "previous": "OPEN"}, agent)
    if rng.random() < 0.6:  # CSAT survey answered
        good = 0.9 if kind in ("human", "gap", "billing") else 0.7 if kind == "bug" else 0.55
        score = "good" if rng.random() < good else "bad"
        rated = t + timedelta(hours=rng.uniform(1, 48))
        seeder.zendesk(rated, {"ticket_id": ticket, "external_id": case_id, "updated_at": rated.isoformat(),
                               "status": "solved", "actor_id": None,
                               "satisfaction": {"score": score, "comment": "" if score == "good" else "took too long"}},
                       case_id)
    if kind == "bug":
        with seeder.rt.store.session() as s:
            from bridge.store import repo

            case = repo.get_case(s, case_id)
            key = str((case.refs or {}).get("jira.bug") or "") if case else ""
        if key and rng.random() < 0.7:
            resolved = solved + timedelta(days=rng.uniform(0.5, 6))
            issue = {"key": key, "fields": {"resolution": {"name": "Done"}, "resolutiondate": resolved.isoformat(),
                                            "fixVersions": [{"id": "10500", "name": "5.2.2", "released": False}]}}
            seeder.jira(resolved, {"webhookEvent": "jira:issue_updated", "timestamp": int(resolved.timestamp() * 1000),
                                   "issue": issue, "user": {"accountId": "5c2f3e8d9a1b2c0011aa22cc"}}, case_id)
            released = resolved + timedelta(days=rng.uniform(0.5, 4))
            seeder.jira(released, {"webhookEvent": "jira:version_released",
                                   "timestamp": int(released.timestamp() * 1000),
                                   "version": {"id": "10500", "name": "5.2.2", "released": True}}, case_id)
    if rng.random() < 0.07:  # the same customer comes back about the same thing
        again = solved + timedelta(days=rng.uniform(0.5, 6))
        if again <= seeder.until:
            seeder.chat(again, kind, f"demo-{uuid.uuid4().hex[:12]}", customer)
            seeder.bump("repeat_contact")


def _reply(seeder: Seeder, at: datetime, ticket: str, case_id: str, agent: str, text: str) -> None:
    comment = {"id": uuid.uuid4().int % 10**12, "body": text, "is_public": True,
               "author": {"id": agent, "is_staff": True, "name": "Agent"}, "created_at": at.isoformat()}
    seeder.ticket_event(at, ticket, case_id, "comment_added", {"comment": comment}, agent)


@click.command("seed-demo")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 365))
@click.option("--cases", default=200, show_default=True, type=click.IntRange(1, 20000))
@click.option("--seed", "seed_value", default=7, show_default=True, help="Random seed (same seed, same month).")
def seed_demo(days: int, cases: int, seed_value: int) -> None:
    """Write a realistic month of cases through the real pipeline into the dry-run setup."""
    import logging
    import time

    import connectors
    from bridge.cli import _settings
    from bridge.runtime import Runtime, install
    from bridge.store.migrate import upgrade

    settings = _settings()
    live = [v for v in ("zendesk", "slack", "jira") if connectors.is_configured(v, settings)]
    if live:
        raise click.ClickException(f"{', '.join(live)} configured: seed-demo writes to the dry-run outbox only")
    if settings.redis_url:
        raise click.ClickException("REDIS_URL is set: seed-demo runs the in-process worker; unset it")
    extra = dict(settings.extra)
    routing, told = demo_routing(settings)
    extra["ROUTING_FILE"] = str(routing)
    secrets = {**settings.webhook_secrets, "generic": (DEMO_GENERIC_SECRET,), "zendesk": (DEMO_ZENDESK_SECRET,),
               "jira": (DEMO_JIRA_SECRET,), "rasa": (DEMO_RASA_TOKEN,), "dialogflow-cx": (DEMO_DIALOGFLOW_TOKEN,)}
    rt = install(Runtime.build(settings.with_overrides(webhook_secrets=secrets, extra=extra)))
    if rt.store.dialect == "sqlite":
        from sqlalchemy import event

        # Demo data can be made again: commit without waiting for the disk each time (WAL keeps the
        # file consistent; only the last moments before a power cut could be lost).
        event.listen(rt.store.engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=NORMAL"))
    upgrade(rt.store)
    began = time.monotonic()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # a line per event would bury the progress bar
    try:
        with click.progressbar(length=cases, label=f"seeding {cases} conversations", file=sys.stderr,
                               show_pos=True, show_eta=False) as bar:
            done = [0]

            def progress(n: int) -> None:
                bar.update(n - done[0])
                done[0] = n

            counts = seed(rt, days, cases, seed_value, progress)
    finally:
        root.setLevel(level)
    escalated = counts.get("escalated", 0)
    platforms = ", ".join(f"{k.split(' ', 1)[1]} {v}" for k, v in sorted(counts.items()) if k.startswith("platform "))
    click.echo(f"{cases} conversations over {days} days in {time.monotonic() - began:.1f} s: {escalated} escalated "
               f"({platforms}), {counts.get('contained', 0)} solved by the bot, "
               f"{counts.get('proactive', 0)} proactive.", err=True)
    click.echo(f"Routing: {told}", err=True)
    click.echo(f"Outbox: {settings.outbox_dir}/<case>/*.md. Next: `bridge serve` and open the dashboard, or "
               "`bridge report --since 30d`.", err=True)
    click.echo(json.dumps({k: v for k, v in counts.items() if not k.startswith("platform ")}, sort_keys=True))


def demo_routing(settings: Any) -> tuple[Path, str]:
    """The routing file the demo uses, and what to tell the user about it.

    ROUTING_FILE when set; otherwise ``examples/routing.yaml`` of the clone (the file the docs show),
    which the user is told to put in ``.env`` so new cases and `bridge route --replay` use the same
    teams; outside a clone, a copy of the packaged example in the data dir.
    """
    configured = settings.get("ROUTING_FILE", "").strip()
    if configured:
        return Path(configured), f"{configured} (ROUTING_FILE)"
    example = Path.cwd() / EXAMPLE_ROUTING
    if not example.is_file():
        example = settings.data_dir / "demo-routing.yaml"
        example.parent.mkdir(parents=True, exist_ok=True)
        example.write_text(_packaged_example())
    shown = example.relative_to(Path.cwd()) if example.is_relative_to(Path.cwd()) else example
    return example, (f"{shown}. Add `ROUTING_FILE={shown}` to .env (or the environment) so `bridge serve` and "
                     "`bridge route --replay` use the same teams as the demo.")


def _packaged_example() -> str:
    here = Path(__file__).resolve().parents[1] / EXAMPLE_ROUTING
    if here.is_file():
        return here.read_text()
    return DEMO_ROUTING


DEMO_ROUTING = """\
# The demo's routing when examples/routing.yaml is not at hand (an installed package).
default_team: support
teams:
  - id: support
    name: Customer Support
    slack_channel: "#support"
    hours: "24/7"
    members:
      - {name: Ana Souza, slack_user_id: U01ANA, zendesk_agent_id: 9001, languages: [en, pt, es]}
      - {name: Jonas Weber, slack_user_id: U01JONAS, zendesk_agent_id: 9002, languages: [de, en], lead: true}
      - {name: Keiko Tanaka, slack_user_id: U01KEIKO, zendesk_agent_id: 9003, languages: [ja, en]}
  - id: engineering
    name: Support Engineering
    slack_channel: "#support-eng"
    hours: "24/7"
    jira: {project: BUG}
    members:
      - {name: Sam Rivera, slack_user_id: U02SAM, zendesk_agent_id: 9101, languages: [en, es], lead: true}
      - {name: Priya Nair, slack_user_id: U02PRIYA, zendesk_agent_id: 9102, languages: [en]}
rules:
  - {name: bugs, when: {triggers: [product_bug]}, then: {team: engineering, file_jira: true}}
"""
