"""Routing decisions: which team, which one named person, and who is paged when nobody acknowledges.

Pure: the routing (``route_config``), the facts of the case, the clock and the load are all passed
in, so the worker, ``bridge route`` and the replay give the same answer for the same inputs.

Member keys: ``open_cases`` and ``last_assigned`` are keyed by the member's Slack user id
(``Member.key``), which is also what the case's ``owner`` column holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bridge.events import Decision, Event, Priority, RouteInfo
from bridge.pipeline.completeness import language_of
from bridge.pipeline.evidence import failure_evidence
from bridge.pipeline.route_config import (
    PRIORITIES,
    EscalationPolicy,
    Level,
    Member,
    Routing,
    Rule,
    Team,
    primary_language,
)

DEFAULT_RULE = "default"
Status = Literal["chosen", "considered", "skipped"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class RouteFacts(_Frozen):
    """What rules may look at. Built from the event; rules never see raw vendor JSON."""

    triggers: tuple[str, ...] = ()
    topic: str | None = None
    plan: str | None = None
    mrr: float | None = None
    language: str | None = None  # primary subtag: "pt", not "pt-BR"
    platform: str | None = None
    priority: Priority = "normal"
    customer: str | None = None
    company: str | None = None
    # The evidence proves a product failure (bridge.pipeline.evidence): a bug is filed although the
    # trigger engine did not say product_bug (an outage told as anger, a bot handoff with a 422).
    bug_evidence: bool = False

    @classmethod
    def from_event(cls, event: Event, decision: Decision, priority: str, platform: str | None = None) -> RouteFacts:
        """``platform`` is the case's platform slug when known (the bot's own label otherwise)."""
        customer, account = event.customer, event.customer.account if event.customer else None
        device = event.evidence.device if event.evidence else None
        # A declared tag wins even outside the languages the package templates know (a "ko" customer
        # should reach a Korean speaker); detection is the fallback.
        declared = event.conversation.language or (customer.locale if customer else None) or (
            device.locale if device else None)
        topic = event.handoff.topic if event.handoff and event.handoff.topic else None
        if topic is None:  # platforms that classify (Dialogflow, Lex, Rasa) put the topic in intents
            topic = next((m.intent for m in reversed(event.conversation.messages) if m.intent), None)
        return cls(
            triggers=tuple(decision.trigger_ids),
            topic=topic,
            plan=customer.plan if customer else None,
            mrr=account.mrr if account else None,
            language=primary_language(declared) or language_of(event),
            platform=platform or (event.bot.platform if event.bot else None),
            priority=priority if priority in PRIORITIES else "normal",
            customer=(customer.name or customer.email) if customer else None,
            company=account.name if account else None,
            bug_evidence=bool(failure_evidence(event)),
        )


class RuleCheck(_Frozen):
    rule: str
    matched: bool
    reason: str  # what matched, or the first condition that did not


class Consideration(_Frozen):
    member: str
    key: str
    status: Status
    reason: str


class RouteDecision(_Frozen):
    team: Team
    owner: Member | None
    rule: str  # the matching rule's name, or "default"
    file_jira: bool
    priority: Priority
    priority_reason: str = ""
    no_one_on_shift: bool = False
    channel: str  # where the alert goes: the team channel, or its fallback when no one is on shift
    language: str | None = None
    language_fallback: bool = False  # nobody on shift speaks the language; picked among all on shift
    considered: tuple[Consideration, ...] = ()
    rules: tuple[RuleCheck, ...] = ()

    @property
    def policy(self) -> EscalationPolicy:
        return self.team.escalation

    def to_json(self) -> dict[str, Any]:
        owner = self.owner
        return {
            "team": self.team.id,
            "team_name": self.team.display_name,
            "channel": self.channel,
            "owner": None if owner is None else {
                "name": owner.name, "slack_user_id": owner.slack_user_id,
                "zendesk_agent_id": owner.zendesk_agent_id, "jira_account_id": owner.jira_account_id},
            "no_one_on_shift": self.no_one_on_shift,
            "rule": self.rule,
            "file_jira": self.file_jira,
            "priority": self.priority,
            "priority_reason": self.priority_reason,
            "language": self.language,
            "language_fallback": self.language_fallback,
            "rules": [r.model_dump() for r in self.rules],
            "considered": [c.model_dump() for c in self.considered],
            "escalation": self.policy.model_dump(),
        }

    def info(self) -> RouteInfo:
        """What the connectors need from this decision, in the package's vocabulary."""
        owner, jira = self.owner, self.team.jira
        return RouteInfo(
            team=self.team.id, team_name=self.team.display_name, channel=self.channel, rule=self.rule,
            owner_name=owner.name if owner else None, owner_slack_id=owner.slack_user_id if owner else None,
            zendesk_group_id=self.team.zendesk_group_id, zendesk_agent_id=owner.zendesk_agent_id if owner else None,
            jira_project=jira.project if jira else None, jira_components=list(jira.components) if jira else [],
            jira_account_id=owner.jira_account_id if owner else None, no_one_on_shift=self.no_one_on_shift,
            file_jira=self.file_jira,
        )

    def explain(self) -> list[str]:
        """The decision and why, one line per fact, for people (``bridge route``)."""
        owner = (f"{self.owner.name} <@{self.owner.key}>" if self.owner
                 else f"NO ONE ON SHIFT: alert {self.channel} with the team fallback")
        lines = [f"team:     {self.team.display_name} ({self.team.id}), rule {self.rule!r}",
                 f"owner:    {owner}",
                 f"channel:  {self.channel}",
                 f"priority: {self.priority}" + (f" ({self.priority_reason})" if self.priority_reason else ""),
                 f"jira:     {'file a bug' if self.file_jira else 'no bug'}"]
        if self.rules:
            lines.append("rules:")
            lines += [f"  {'✓' if r.matched else '✗'} {r.rule}: {r.reason}" for r in self.rules]
        lines.append("members:" if self.considered else "members:  (the team has no members)")
        marks = {"chosen": "→", "considered": "·", "skipped": "✗"}
        lines += [f"  {marks[c.status]} {c.member}: {c.status}, {c.reason}" for c in self.considered]
        levels = " → ".join(self.policy.levels)
        lines.append(f"escalation: unacknowledged after {self.policy.ack_timeout_minutes} min: {levels}")
        return lines


# --- rules ------------------------------------------------------------------------------------

def _topic_matches(pattern: str, topic: str) -> bool:
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.search(pattern[1:-1], topic, re.IGNORECASE) is not None
    return pattern.casefold() in topic.casefold()


def check_rule(rule: Rule, facts: RouteFacts) -> RuleCheck:
    """All of ``when`` must hold; the reason names what matched or the first thing that did not."""
    w, why = rule.when, []

    def fail(reason: str) -> RuleCheck:
        return RuleCheck(rule=rule.name, matched=False, reason=reason)

    if w.triggers:
        hit = [t for t in w.triggers if t in facts.triggers]
        if not hit:
            return fail(f"triggers {', '.join(facts.triggers) or 'none'} not in {', '.join(w.triggers)}")
        why.append(f"trigger {hit[0]}")
    if w.topic:
        if not facts.topic or not any(_topic_matches(p, facts.topic) for p in w.topic):
            return fail(f"topic {repr(facts.topic) if facts.topic else '(none)'} does not match {', '.join(w.topic)}")
        why.append(f"topic {facts.topic!r}")
    if w.plans:
        if not facts.plan or facts.plan.casefold() not in {p.casefold() for p in w.plans}:
            return fail(f"plan {facts.plan or '(none)'} not in {', '.join(w.plans)}")
        why.append(f"plan {facts.plan}")
    if w.mrr_min is not None or w.mrr_max is not None:
        low, high = w.mrr_min if w.mrr_min is not None else float("-inf"), w.mrr_max or float("inf")
        band = f"[{w.mrr_min if w.mrr_min is not None else ''}, {w.mrr_max if w.mrr_max is not None else ''})"
        if facts.mrr is None or not low <= facts.mrr < high:
            return fail(f"MRR {facts.mrr if facts.mrr is not None else 'unknown'} outside {band}")
        why.append(f"MRR {facts.mrr:g} in {band}")
    if w.languages:
        if facts.language not in w.languages:
            return fail(f"language {facts.language or 'unknown'} not in {', '.join(w.languages)}")
        why.append(f"language {facts.language}")
    if w.platforms:
        if not facts.platform or facts.platform.casefold() not in {p.casefold() for p in w.platforms}:
            return fail(f"platform {facts.platform or '(none)'} not in {', '.join(w.platforms)}")
        why.append(f"platform {facts.platform}")
    if w.priorities:
        if facts.priority not in w.priorities:
            return fail(f"priority {facts.priority} not in {', '.join(w.priorities)}")
        why.append(f"priority {facts.priority}")
    return RuleCheck(rule=rule.name, matched=True, reason="; ".join(why) or "matches every case")


# --- people -----------------------------------------------------------------------------------

def local_time(team: Team, member: Member, now: datetime) -> str:
    """``Sat 03:00 Europe/Berlin``: the member's wall clock, as the explanation shows it."""
    _, zone = team.schedule_of(member)
    return f"{now.astimezone(zone):%a %H:%M} {zone.key}"


def on_shift(team: Team, member: Member, now: datetime) -> bool:
    schedule, zone = team.schedule_of(member)
    return schedule.covers(now.astimezone(zone))


def next_on_shift(team: Team, now: datetime) -> datetime | None:
    """When someone on the team is next in working hours (``now`` if someone is); None: no members.

    For the customer's receipt and the ticket's expected reply time when no one is on shift.
    """
    best: datetime | None = None
    for member in team.members:
        if on_shift(team, member, now):
            return now
        schedule, zone = team.schedule_of(member)
        today = now.astimezone(zone).date()
        for offset in range(8):
            day = today + timedelta(days=offset)
            for span in schedule.spans(day.weekday()):
                start = datetime.combine(day, time(span.start // 60, span.start % 60), zone)
                if start > now and (best is None or start < best):
                    best = start
    return best


def speaks(member: Member, language: str | None) -> bool:
    return language is None or language in member.languages


def _rotate(team: Team, candidates: Sequence[Member], after: str | None) -> Member:
    """The first candidate in roster order after ``after`` (wrapping), so ties take turns."""
    order = [m.key for m in team.members]
    last = team.member(after) if after else None
    start = order.index(last.key) + 1 if last else 0
    keys = {m.key for m in candidates}
    for i in range(len(order)):
        key = order[(start + i) % len(order)]
        if key in keys:
            return next(m for m in candidates if m.key == key)
    return candidates[0]


def _plural(n: int) -> str:
    return f"{n} open case" if n == 1 else f"{n} open cases"


def pick_owner(team: Team, language: str | None, now: datetime, open_cases: Mapping[str, int],
               last_assigned: str | None) -> tuple[Member | None, list[Consideration], bool]:
    """One member on shift who speaks the language, least loaded, ties in turn. Also says why."""
    notes: dict[str, tuple[Status, str]] = {}
    shift = [m for m in team.members if on_shift(team, m, now)]
    for m in team.members:
        if m not in shift:
            notes[m.key] = ("skipped", f"off shift ({local_time(team, m, now)})")
    pool = [m for m in shift if speaks(m, language)]
    fallback = bool(shift) and not pool
    if fallback:
        # Someone who answers in English now beats a perfect match tomorrow; the alert says so.
        pool = shift
    for m in shift:
        if m not in pool:
            notes[m.key] = ("skipped", f"does not speak {language}")
    owner = None
    if pool:
        load = {m.key: open_cases.get(m.key, 0) for m in pool}
        least = min(load.values())
        tied = [m for m in pool if load[m.key] == least]
        owner = _rotate(team, tied, last_assigned)
        for m in pool:
            said = f", nobody on shift speaks {language}" if fallback else ""
            if load[m.key] > least:
                notes[m.key] = ("skipped", f"{load[m.key]} open cases vs {least}{said}")
            elif m is not owner:
                notes[m.key] = ("considered", f"tied at {_plural(least)}; round robin chose {owner.name}{said}")
        turn = f", next in rotation after {team.member(last_assigned).name}" if (
            len(tied) > 1 and last_assigned and team.member(last_assigned)) else ""
        lang = f"does not speak {language} (nobody on shift does)" if fallback else (
            f"speaks {language}" if language else "no language given")
        notes[owner.key] = ("chosen", f"on shift ({local_time(team, owner, now)}), {lang}, "
                                      f"{_plural(least)}{turn}")
    considered = [Consideration(member=m.name, key=m.key, status=notes[m.key][0], reason=notes[m.key][1])
                  for m in team.members]
    return owner, considered, fallback


def _aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("routing needs an aware datetime: working hours depend on the time zone")


def _raise(priority: Priority, floor: Priority | None) -> Priority:
    if floor and PRIORITIES.index(floor) > PRIORITIES.index(priority):
        return floor
    return priority


def route(facts: RouteFacts, routing: Routing, now: datetime, open_cases: Mapping[str, int],
          last_assigned: Mapping[str, str]) -> RouteDecision:
    """The team (first matching rule, else the default team) and exactly one owner, or the fallback."""
    _aware(now)
    checks: list[RuleCheck] = []
    rule: Rule | None = None
    for candidate in routing.rules:
        check = check_rule(candidate, facts)
        checks.append(check)
        if check.matched:
            rule = candidate
            break
    team = routing.team(rule.then.team) if rule else routing.default
    floor = rule.then.priority_floor if rule else None
    priority = _raise(facts.priority, floor)
    reason = f"raised from {facts.priority} by rule {rule.name!r}" if rule and priority != facts.priority else ""
    forced = rule.then.file_jira if rule else None
    file_jira = forced if forced is not None else ("product_bug" in facts.triggers or facts.bug_evidence)
    owner, considered, fallback = pick_owner(team, facts.language, now, open_cases, last_assigned.get(team.id))
    return RouteDecision(
        team=team, owner=owner, rule=rule.name if rule else DEFAULT_RULE, file_jira=file_jira,
        priority=priority, priority_reason=reason, no_one_on_shift=owner is None,
        channel=team.slack_channel if owner else team.fallback, language=facts.language,
        language_fallback=fallback, considered=tuple(considered), rules=tuple(checks),
    )


# --- re-escalation ----------------------------------------------------------------------------

class Page(_Frozen):
    """Who is paged at one re-escalation level; ``level`` is the 1-based level actually used."""

    level: int
    kind: Level
    member: Member | None = None
    channel: str
    mention: str  # "<@U123>", "<!here>" or "<!channel>"
    reason: str
    final: bool


def next_in_rotation(team: Team, after: str | None, now: datetime, exclude: Sequence[str] = (),
                     language: str | None = None) -> Member | None:
    """The next member on shift after ``after`` who has not been asked yet (Not mine, level 1)."""
    left = [m for m in team.members if m.key not in exclude and m.name not in exclude and on_shift(team, m, now)]
    pool = [m for m in left if speaks(m, language)] or left
    return _rotate(team, pool, after) if pool else None


def next_level(team: Team, level: int, now: datetime, paged: Sequence[str], language: str | None = None) -> Page | None:
    """Who to page at re-escalation ``level`` (1 = first ack timeout), or None when the policy is spent.

    ``paged`` lists the member keys already paged, the original owner first. A level with nobody to
    page (no other member on shift, no lead on shift) is skipped and the next one is used; the
    scheduler continues from ``page.level + 1``. Leads are paged only on shift: the channel level
    is the off-hours catch-all.
    """
    _aware(now)
    levels, skipped = team.escalation.levels, []
    for index in range(max(level, 1) - 1, len(levels)):
        kind, final = levels[index], index == len(levels) - 1
        if kind == "next_member":
            member = next_in_rotation(team, paged[-1] if paged else None, now, paged, language)
            if member:
                return Page(level=index + 1, kind=kind, member=member, channel=team.slack_channel,
                            mention=f"<@{member.key}>", reason="; ".join([*skipped, "next member in rotation"]),
                            final=final)
            skipped.append("next_member: no other member on shift")
        elif kind == "lead":
            lead = next((m for m in team.members if m.lead and m.key not in paged and on_shift(team, m, now)), None)
            if lead:
                return Page(level=index + 1, kind=kind, member=lead, channel=team.slack_channel,
                            mention=f"<@{lead.key}>", reason="; ".join([*skipped, "team lead"]), final=final)
            skipped.append("lead: no lead on shift")
        else:
            anyone = any(on_shift(team, m, now) for m in team.members)
            return Page(level=index + 1, kind=kind, channel=team.slack_channel if anyone else team.fallback,
                        mention=f"<!{team.escalation.channel_mention}>",
                        reason="; ".join([*skipped, "channel mention"]), final=final)
    return None
