"""One named owner: take, reassign and "not mine" as compare-and-set writes, and re-escalation.

Every change is one conditional UPDATE on the case (two people clicking Take at once: exactly one
wins), one timeline row, and follow-up delivery steps (the Slack message updated in place, the
Zendesk assignee, a DM, a private answer to whoever lost the race) that the queue runs, retries and
dead-letters like any other step. Nothing here calls a vendor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import connectors
from bridge.events import Event, RouteInfo
from bridge.loop.change import Change
from bridge.pipeline.completeness import language_of
from bridge.pipeline.route import next_in_rotation, next_level, speaks
from bridge.pipeline.route_config import Member, Routing, Team, primary_language
from bridge.queue import DELIVER
from bridge.runtime import Runtime
from bridge.store import ownership_repo, repo
from bridge.store.db import Session
from bridge.store.models import ACKNOWLEDGED, DEAD, DONE, ESCALATED, PENDING, CaseRow, DeliveryRow
from connectors import step_for
from connectors.base import RetryableError

LIVE_WINDOW = timedelta(minutes=10)  # a customer who wrote this recently is "still there"


def _member(team: Team, user: str, routing: Routing | None = None) -> Member | None:
    """The person in the case's team, else anywhere in the routing (someone from another team may
    take a case: they are still a known person with a name and a Zendesk id)."""
    found = next((m for m in team.members if m.key == user), None)
    if found is None and routing is not None:
        found = next((m for t in routing.teams for m in t.members if m.key == user), None)
    return found


def _route_with(case: CaseRow, team: Team, user: str | None, acknowledged: bool,
                routing: Routing | None = None, name: str | None = None) -> dict[str, Any]:
    info = RouteInfo.model_validate(case.route) if case.route else RouteInfo(team=team.id, team_name=team.display_name,
                                                                              channel=team.slack_channel)
    member = _member(team, user, routing) if user else None
    return info.model_copy(update={
        "owner_slack_id": user,
        # Someone outside the roster is named as Slack names them, never by their id alone.
        "owner_name": member.name if member else (name or None),
        "zendesk_agent_id": member.zendesk_agent_id if member else None,
        "jira_account_id": member.jira_account_id if member else None,
        "owner_outside_roster": bool(user) and member is None,
        "no_one_on_shift": user is None,
        "acknowledged": acknowledged,
    }).to_json()


def follow_up(s: Session, case_id: str, steps: list[str], now: datetime, delay: int = 0,
              payload: dict[str, Any] | None = None) -> list[str]:
    """Create instances of repeatable steps; the caller enqueues them after commit.

    ``slack.page#2`` names its instance (one page per level, idempotent). A bare ``slack.update``
    gets a new instance numbered by its row id, which the database makes unique: counting existing
    rows instead would give two simultaneous clicks the same number, and one would vanish.
    """
    return [ownership_repo.step_instance(s, case_id, step, step_for(step).after, now, delay, payload) for step in steps]


def take(rt: Runtime, case_id: str, user: str, via: str = "slack", channel: str | None = None,
         name: str | None = None, actor: str | None = None) -> Change:
    """Take the case: exactly one person wins a simultaneous click (in Slack or on the case page).
    ``actor`` is who clicked when that is not ``user`` (a lead taking it for a member on the page);
    ``name`` is the display name Slack gave for someone outside the roster."""
    now = rt.clock()
    routing = rt.routing()  # outside the shared commit: a reload parses the file

    def unit(s: Session) -> tuple[Change, list[str]]:
        won = ownership_repo.take_case(s, case_id, user, now)
        case = ownership_repo.fresh_case(s, case_id)
        if case is None:
            return Change(False, None, "no such case"), []
        if not won:  # the UPDATE matched nothing, so it wrote nothing
            if case.owner == user and case.acknowledged_at is not None:
                return Change(True, user, "you already have this case"), []
            taken = f"already taken by <@{case.owner}>" if case.owner else f"this case is {case.status}"
            told = _answer(s, case_id, channel, user, f"Not taken: {taken}.", now) if channel else []
            return Change(False, case.owner, taken), told
        team = routing.team_or_default(case.team)
        route = _route_with(case, team, user, acknowledged=True, routing=routing, name=name)
        ownership_repo.set_route(case, route)
        detail = {"owner": user, "via": via}
        if route.get("owner_name"):
            detail["owner_name"] = route["owner_name"]
        repo.add_timeline(s, case_id, "case.acknowledged", f"{via}:{actor or user}", now, detail)
        return Change(True, user, "taken"), follow_up(s, case_id, ["slack.update", "zendesk.assign", "bot.callback"],
                                                      now)

    change, created = rt.store.group.run(unit)
    enqueue(rt, case_id, created)
    return change


def reassign(rt: Runtime, case_id: str, to: str | None, by: str, reason: str, channel: str | None = None,
             expected_owner: str | None = "*", name: str | None = None, via: str = "slack") -> Change:
    """Move the case to ``to`` (or, for "not mine", the next member on shift), compare-and-set."""
    now = rt.clock()
    routing = rt.routing()

    def unit(s: Session) -> tuple[Change, list[str]]:
        case = ownership_repo.fresh_case(s, case_id)
        if case is None or case.status not in (ESCALATED, ACKNOWLEDGED):
            return Change(False, case.owner if case else None, "this case is not open for reassignment"), []
        team = routing.team_or_default(case.team)
        current, target = case.owner, to
        if target is None:  # not mine: next in rotation, not the current owner nor whoever said so
            language = _language(Event.from_json(case.event))
            member = next_in_rotation(team, current, now, exclude=[x for x in (current, by) if x], language=language)
            target = member.key if member else None
            if target is None:
                told = _answer(s, case_id, channel, by, "Nobody else is on shift; the case stays where it is.",
                               now) if channel else []
                return Change(False, current, "nobody else is on shift"), told
        expected = current if expected_owner == "*" else expected_owner
        moved = ownership_repo.move_case(s, case_id, expected, target, now)
        case = ownership_repo.fresh_case(s, case_id)
        assert case is not None
        if not moved:  # the UPDATE matched nothing, so it wrote nothing
            return Change(False, case.owner, "the owner changed meanwhile; try again"), []
        ownership_repo.set_route(case, _route_with(case, team, target, acknowledged=False, routing=routing, name=name))
        repo.add_timeline(s, case_id, "case.reassigned", f"{via}:{by}", now,
                          {"from": current, "to": target, "reason": reason})
        return Change(True, target, "reassigned"), follow_up(s, case_id, ["slack.update", "zendesk.assign", "slack.dm"],
                                                            now)

    change, created = rt.store.group.run(unit)
    enqueue(rt, case_id, created)
    return change


def denied(rt: Runtime, case_id: str, user: str, action: str, channel: str | None, name: str | None = None) -> Change:
    """A click by someone the routing file does not allow: nothing changes, the timeline says who
    tried what, and they get a private answer saying why."""
    now = rt.clock()

    def unit(s: Session) -> tuple[Change, list[str]]:
        if repo.get_case(s, case_id) is None:
            return Change(False, None, "no such case"), []
        detail = {"action": action, "user": user} | ({"name": name} if name else {})
        repo.add_timeline(s, case_id, "action.denied", f"slack:{user}", now, detail)
        created = follow_up(s, case_id, ["slack.ephemeral"], now, payload={
            "channel": channel, "user": user,
            "text": f"Not done: the routing file does not allow you to {action} cases (slack_permissions)."},
        ) if channel else []
        return Change(False, None, f"not allowed to {action}"), created

    change, created = rt.store.group.run(unit)
    enqueue(rt, case_id, created)
    return change


def _answer(s: Session, case_id: str, channel: str, user: str, text: str, now: datetime) -> list[str]:
    """A private Slack answer to whoever clicked; the caller enqueues it after the commit."""
    return follow_up(s, case_id, ["slack.ephemeral"], now, payload={"channel": channel, "user": user, "text": text})


def enqueue(rt: Runtime, case_id: str, steps: list[str]) -> None:
    if not steps:
        return
    with rt.store.session() as s:
        ids = [d.id for d in repo.deliveries_of(s, case_id) if d.step in steps and d.status == PENDING]
    for delivery_id in ids:
        rt.queue.enqueue(DELIVER, delivery_id)


# --- hooks the delivery job calls around a step -------------------------------------------------

def _language(event: Event) -> str | None:
    """The customer's language as rosters list it: ``es``, not ``es-MX`` (nobody "speaks" es-MX)."""
    declared = event.conversation.language or (event.customer.locale if event.customer else None)
    return primary_language(declared) or language_of(event)


def is_live(event: Event, now: datetime) -> bool:
    last = next((m for m in reversed(event.conversation.messages) if m.role == "customer"), None)
    return bool(last and last.sent_at and now - last.sent_at <= LIVE_WINDOW)


def _alert_posted(rt: Runtime, s: Session, case: CaseRow) -> bool:
    """Whether the case's Slack alert went out (False: it is dead). The bug can be filed while the
    alert still waits for Slack, and the update that adds the bug link needs the posted message: while
    the alert is pending this raises ``RetryableError`` due just after the alert's next attempt, so
    each attempt of the alert costs the update at most one."""
    alert = next((d for d in repo.deliveries_of(s, case.id) if d.step == "slack.alert"), None)
    if alert is None or alert.status == DONE:
        return True
    if alert.status == DEAD:
        return False
    ready = max(t for t in (alert.next_attempt_at, alert.claimed_until) if t is not None)
    raise RetryableError("the Slack alert is not posted yet: the bug link is added once it is",
                         retry_after=max((ready - rt.clock()).total_seconds(), 0.0) + 1.0)


def prepare(rt: Runtime, s: Session, case: CaseRow, delivery: DeliveryRow) -> dict[str, Any] | None:
    """Extra refs a step needs at run time, or None when it has become unnecessary."""
    base = delivery.step.split("#", 1)[0]
    extra: dict[str, Any] = dict(delivery.payload or {})
    if base == "slack.ephemeral":
        return {"ephemeral": extra}
    if base in ("zendesk.note", "zendesk.reply", "slack.thread"):
        return {"note": extra}
    if base in ("zendesk.followup", "slack.followup", "jira.followup"):
        if base == "jira.followup":
            bug = str(repo.refs_of(s, case.id, case.refs).get("jira.bug") or "")
            if not bug or (bug.startswith("dry-run") and connectors.is_configured("jira", rt.settings)):
                return None  # no bug was filed (or only written to the outbox): nothing to comment on
        return {"followup": extra, "unanswered": case.first_response_at is None,
                "taken": case.acknowledged_at is not None}
    if base == "slack.alert":
        return {"live": is_live(Event.from_json(case.event), rt.clock())}
    if delivery.step in ("zendesk.link", "slack.update#bug"):
        bug = str(repo.refs_of(s, case.id, case.refs).get("jira.bug") or "")
        target = delivery.step.split(".", 1)[0]
        if bug.startswith("dry-run") and connectors.is_configured(target, rt.settings):
            return None  # a live ticket or alert gets no link to a bug that was only written to the outbox
        if delivery.step == "slack.update#bug" and not _alert_posted(rt, s, case):
            return None  # the alert was never posted: a replayed one is built with the bug link
    if base != "slack.page":
        return {}
    if case.acknowledged_at is not None or case.status not in (ESCALATED,):
        return None  # taken (or closed) in the meantime: the escalation stops
    level = int(delivery.step.split("#", 1)[1])
    team = rt.routing().team_or_default(case.team)
    paged = [case.owner] if case.owner else []
    paged += [who for t in repo.timeline_of(s, case.id) if t.kind == "case.paged" for who in t.detail.get("who", [])]
    language = _language(Event.from_json(case.event))
    page = next_level(team, level, rt.clock(), paged, language)
    if page is None:
        return None
    waited = int((rt.clock() - case.escalated_at).total_seconds() // 60) if case.escalated_at else None
    return {"page": {"level": page.level, "member": page.member.key if page.member else None,
                     "mention": page.mention, "channel": page.channel, "final": page.final,
                     "reason": page.reason, "waited_minutes": waited, "language": language,
                     "speaks": speaks(page.member, language) if page.member else None}}


def after(rt: Runtime, s: Session, case: CaseRow, delivery: DeliveryRow, extra: dict[str, Any]) -> list[str]:
    """After a page went out: record it and schedule the next level one ack timeout later."""
    if not delivery.step.startswith("slack.page#") or "page" not in extra:
        return []
    page = extra["page"]
    now = rt.clock()
    who = [page["member"]] if page.get("member") else []
    repo.add_timeline(s, case.id, "case.paged", "bridge:escalation", now,
                      {"level": page["level"], "who": who, "channel": page["channel"], "reason": page["reason"]})
    if page.get("final"):
        return []
    team = rt.routing().team_or_default(case.team)
    delay = team.escalation.ack_timeout_minutes * 60
    return follow_up(s, case.id, [f"slack.page#{page['level'] + 1}"], now, delay=delay)

