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
DEMO_ROUTING = """\
default_team: support
teams:
  - id: support
    name: Customer Support
    slack_channel: "#support"
    jira: {project: SUP}
    members:
      - {name: Ana Souza, slack_user_id: U01ANA, zendesk_agent_id: 9001, languages: [en, pt, es]}
      - {name: Jonas Weber, slack_user_id: U01JONAS, zendesk_agent_id: 9002, languages: [de, en], lead: true}
      - {name: Mia Chen, slack_user_id: U01MIA, zendesk_agent_id: 9003, languages: [en]}
  - id: billing
    name: Billing Desk
    slack_channel: "#billing"
    members:
      - {name: Omar Haddad, slack_user_id: U02OMAR, zendesk_agent_id: 9101, languages: [en]}
      - {name: Lena Fischer, slack_user_id: U02LENA, zendesk_agent_id: 9102, languages: [en, de]}
  - id: engineering
    name: Support Engineering
    slack_channel: "#support-eng"
    jira: {project: BUG}
    members:
      - {name: Sam Rivera, slack_user_id: U03SAM, zendesk_agent_id: 9201, languages: [en, es], lead: true}
      - {name: Priya Nair, slack_user_id: U03PRIYA, zendesk_agent_id: 9202, languages: [en]}
rules:
  - {name: money, when: {triggers: [billing_exception]}, then: {team: billing}}
  - {name: bugs, when: {triggers: [product_bug]}, then: {team: engineering, file_jira: true}}
"""

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


@dataclass
class Seeder:
    rt: Any
    client: Any
    clock: Clock
    rng: random.Random
    until: datetime
    counts: dict[str, int] = field(default_factory=dict)

    def bump(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def run(self) -> None:
        from bridge.loop import run_due

        run_due(self.rt)

    def chat(self, at: datetime, scenario: str, conversation: str, customer: dict[str, Any], *,
             close: bool = False, proactive: bool = False) -> str | None:
        import time

        from bridge.signing import sign_standard_webhook

        spec = SCENARIOS[scenario]
        if proactive:
            messages = [{"id": "m1", "role": "bot", "text": "Hi! Our new reporting dashboard is live - want a tour?"}]
        else:
            messages = []
            for i, item in enumerate(spec["messages"], 1):
                msg: dict[str, Any] = {"id": f"m{i}", "role": item[0], "text": item[1],
                                       "sent_at": (at + timedelta(seconds=20 * i)).isoformat()}
                if len(item) > 2:
                    msg["confidence"] = item[2]
                messages.append(msg)
        event: dict[str, Any] = {
            "schema_version": 1, "event_id": f"seed-{uuid.uuid4().hex[:16]}",
            "type": "conversation.closed" if close else "conversation.updated",
            "occurred_at": at.isoformat(), "bot": {"name": "Helper", "platform": "demo"},
            "conversation": {"id": conversation, "channel": "web", "language": "en", "messages": messages},
            "customer": customer,
        }
        if not proactive:
            event["handoff"] = {"topic": spec["topic"]}  # the bot's topic label; the engine decides
        if scenario == "bug" and not proactive and self.rng.random() < 0.6:
            event["evidence"] = {
                "page_url": "https://app.example.com/checkout",
                "console_logs": [{"level": "error", "message": "PaymentError: callback returned 500"}],
                "network_requests": [
                    {"method": "POST", "url": "https://api.example.com/v1/checkout/pay", "status": 500}],
                "device": {"browser": "Firefox 128", "os": "macOS 14", "app_version": "5.2.1"},
            }
        body = json.dumps(event).encode()
        ts, mid = int(time.time()), f"msg_{uuid.uuid4().hex[:16]}"
        self.clock.now = at
        response = self.client.post("/webhooks/generic", data=body, headers={
            "Content-Type": "application/json", "webhook-id": mid, "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard_webhook(body, mid, ts, DEMO_GENERIC_SECRET)})
        self.run()
        if response.status_code >= 300:
            raise click.ClickException(f"the bridge refused a demo event: {response.status_code}")
        return response.get_json().get("case")  # type: ignore[no-any-return]

    def zendesk(self, at: datetime, payload: dict[str, Any]) -> None:
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
        self.run()

    def ticket_event(self, at: datetime, ticket: str, case_id: str, kind: str, event: dict[str, Any],
                     actor: str) -> None:
        self.zendesk(at, {
            "type": f"zen:event-type:ticket.{kind}", "id": uuid.uuid4().hex, "time": at.isoformat(),
            "subject": f"zen:ticket:{ticket}", "zendesk_event_version": "2022-11-06",
            "detail": {"id": ticket, "external_id": case_id, "actor_id": actor, "updated_at": at.isoformat()},
            "event": event})

    def jira(self, at: datetime, payload: dict[str, Any]) -> None:
        if at > self.until:
            return
        self.clock.now = at
        response = self.client.post("/events/jira", data=json.dumps(payload).encode(), headers={
            "Content-Type": "application/json", "X-Bridge-Webhook-Secret": DEMO_JIRA_SECRET,
            "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex})
        if response.status_code != 200:
            raise click.ClickException(f"/events/jira refused a demo event: {response.status_code}")
        self.run()


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=rng.lognormvariate(0, 0.8) * (low + high) / 4 if rng.random() < 0.9 else high)


def seed(rt: Any, days: int = 30, cases: int = 200, seed_value: int = 7,
         progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write ``cases`` conversations over the last ``days`` days; returns what it made, by kind."""
    from bridge import create_app, kb
    from bridge.loop_jira import approve_update
    from bridge.store import loop_repo

    rng = random.Random(seed_value)
    real_now = rt.clock()
    clock = Clock(real_now)
    rt.clock = clock
    app = create_app(rt=rt)
    if "vendor_events" not in app.blueprints:  # until create_app registers it
        from bridge.web import vendor_events

        app.register_blueprint(vendor_events.bp)
    seeder = Seeder(rt, app.test_client(), clock, rng, until=real_now)
    start = real_now - timedelta(days=days)
    starts = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400 - 3600)) for _ in range(cases))
    weights = {"fine": 30, "human": 18, "gap": 16, "bug": 14, "angry": 8, "billing": 9, "proactive": 5}
    for n, at in enumerate(starts):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        email = f"customer{rng.randint(1, max(10, cases // 2))}@example.com"
        customer: dict[str, Any] = {"id": f"cus-{email.split('@')[0]}", "name": f"Customer {n}"}
        if rng.random() < 0.8:  # some bots know only a platform id: a less complete package
            customer |= {"email": email, "plan": rng.choice(["pro", "business", "starter"])}
        conversation = f"demo-{uuid.uuid4().hex[:12]}"
        if kind == "proactive":
            seeder.chat(at, "fine", conversation, customer, proactive=True)
            seeder.chat(at + timedelta(minutes=30), "fine", conversation, customer, close=True, proactive=True)
            seeder.bump("proactive")
            continue
        case_id = seeder.chat(at, kind, conversation, customer)
        if kind == "fine":
            seeder.chat(at + timedelta(minutes=3), "fine", conversation, customer, close=True)
            seeder.bump("contained")
            continue
        seeder.bump("escalated")
        if rng.random() < 0.05:  # the customer opens a second chat a few minutes later: a duplicate
            seeder.chat(at + timedelta(minutes=4), kind, f"demo-{uuid.uuid4().hex[:12]}", customer)
            seeder.bump("duplicate")
        _agent_story(seeder, rng, str(case_id), kind, at, customer, n)
        if progress:
            progress(n + 1)
    # Non-bridge tickets rated in the helpdesk: the CSAT baseline.
    for i in range(max(5, cases // 4)):
        at = start + timedelta(seconds=rng.uniform(0, days * 86400))
        seeder.zendesk(at, {"ticket_id": str(90000 + i), "status": "solved", "updated_at": at.isoformat(),
                            "satisfaction": {"score": "good" if rng.random() < 0.78 else "bad"}})
    # Some KB suggestions become articles; some drafted customer updates are approved.
    with rt.store.session() as s:
        open_suggestions = [(r.id, r.created_at) for r in loop_repo.suggestions(s, "suggested")]
    for ident, created in open_suggestions:
        if rng.random() < 0.45 and created + timedelta(days=2) <= real_now:
            clock.now = created + timedelta(days=rng.uniform(0.5, 2))
            kb.mark_done(rt, ident, "U01ANA")
            seeder.bump("kb_done")
    from sqlalchemy import select

    from bridge.store.models import DRAFTED, NOTE_UPDATE, CaseNoteRow

    with rt.store.session() as s:
        drafted = [(r.id, r.created_at) for r in s.scalars(
            select(CaseNoteRow).where(CaseNoteRow.kind == NOTE_UPDATE, CaseNoteRow.status == DRAFTED))]
    for ident, created in drafted:
        if rng.random() < 0.7:
            clock.now = min(created + timedelta(hours=rng.uniform(1, 12)), real_now)
            approve_update(rt, ident, "U03SAM")
            seeder.bump("update_approved")
    clock.now = real_now
    return seeder.counts


def _agent_story(seeder: Seeder, rng: random.Random, case_id: str, kind: str, at: datetime,
                 customer: dict[str, Any], n: int) -> None:
    """What the humans did with one escalated case, as Zendesk (and Jira) would report it."""
    ticket = str(10000 + n)
    agent = rng.choice(["9001", "9002", "9003", "9101", "9201"])
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
                               "satisfaction": {"score": score, "comment": "" if score == "good" else "took too long"}})
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
                                   "issue": issue, "user": {"accountId": "5c2f3e8d9a1b2c0011aa22cc"}})
            released = resolved + timedelta(days=rng.uniform(0.5, 4))
            seeder.jira(released, {"webhookEvent": "jira:version_released",
                                   "timestamp": int(released.timestamp() * 1000),
                                   "version": {"id": "10500", "name": "5.2.2", "released": True}})
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
    routing = settings.data_dir / "demo-routing.yaml"
    if not extra.get("ROUTING_FILE"):
        routing.parent.mkdir(parents=True, exist_ok=True)
        routing.write_text(DEMO_ROUTING)
        extra["ROUTING_FILE"] = str(routing)
    secrets = {**settings.webhook_secrets, "generic": (DEMO_GENERIC_SECRET,), "zendesk": (DEMO_ZENDESK_SECRET,),
               "jira": (DEMO_JIRA_SECRET,)}
    rt = install(Runtime.build(settings.with_overrides(webhook_secrets=secrets, extra=extra)))
    upgrade(rt.store)
    with click.progressbar(length=cases, label="seeding", file=sys.stderr) as bar:
        done = [0]

        def progress(n: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        counts = seed(rt, days, cases, seed_value, progress)
    click.echo(json.dumps(counts, sort_keys=True))
    click.echo("run `bridge report --since 30d` to see the figures", err=True)
