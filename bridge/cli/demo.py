"""``bridge seed-demo``: a realistic month of cases, and the humans' story of each.

``seed-demo`` writes a realistic month of cases through the real pipeline into the dry-run setup:
signed chatbot events go to ``POST /webhooks/generic`` of ``create_app``, the in-process runner
escalates, routes and "delivers" them to the outbox, then signed Zendesk events (assignments,
holding and useful replies, solves, reopens, CSAT) go to ``POST /events/zendesk`` and Jira events
to ``POST /events/jira``, all under a shifted ``rt.clock`` so the timestamps spread over the month.
It refuses to run when a vendor is configured (it would create real tickets). The posting and the
work each event causes are ``demo_seeder.Seeder``'s; what happens to each case is decided here.
The app, the runtime and the store are imported inside the functions, for start-up speed.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bridge.cli.common import load_settings
from bridge.cli.demo_seeder import (
    DEMO_DIALOGFLOW_TOKEN,
    DEMO_GENERIC_SECRET,
    DEMO_JIRA_SECRET,
    DEMO_RASA_TOKEN,
    DEMO_ZENDESK_SECRET,
    EXAMPLE_ROUTING,
    PLATFORMS,
    Clock,
    Seeder,
)

# Zendesk agents of examples/routing.yaml (Ana, Jonas, Keiko, Sam, Priya) and the people who mark
# KB articles done and approve customer updates.
AGENTS = ("9001", "9002", "9003", "9101", "9102")
KB_EDITOR, APPROVER = "U01ANA", "U02SAM"

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
    from bridge.loop import kb
    from bridge.loop.jira import approve_update
    from bridge.store import demo_repo, loop_repo

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
    with rt.store.session() as s:
        drafted = demo_repo.drafted_updates(s)
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
    import connectors
    from bridge.runtime import Runtime, install
    from bridge.store import demo_repo
    from bridge.store.migrate import upgrade

    settings = load_settings()
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
        # Demo data can be made again: commit without waiting for the disk each time (WAL keeps the
        # file consistent; only the last moments before a power cut could be lost).
        demo_repo.commit_without_fsync(rt.store)
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
    if settings.routing_file:
        return settings.routing_file, f"{settings.routing_file} (ROUTING_FILE)"
    example = Path.cwd() / EXAMPLE_ROUTING
    if not example.is_file():
        example = settings.data_dir / "demo-routing.yaml"
        example.parent.mkdir(parents=True, exist_ok=True)
        example.write_text(_packaged_example())
    shown = example.relative_to(Path.cwd()) if example.is_relative_to(Path.cwd()) else example
    return example, (f"{shown}. Add `ROUTING_FILE={shown}` to .env (or the environment) so `bridge serve` and "
                     "`bridge route --replay` use the same teams as the demo.")


def _packaged_example() -> str:
    here = Path(__file__).resolve().parents[2] / EXAMPLE_ROUTING  # the clone's root
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
