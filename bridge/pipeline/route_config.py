"""The routing file: teams, rosters, working hours, escalation policies and rules.

Everything here is a frozen pydantic model; ``bridge.pipeline.routing_file`` reads and checks the
file (``load_routing`` is the only I/O). A bad file is refused with the line and the reason
(``RoutingError``), because a routing mistake found at 3 a.m. by a
customer nobody answered is far more expensive than one found at start-up. See docs/routing.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bridge.events import Priority, TriggerId
from bridge.pipeline.permissions import SlackPermissions

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
Level = Literal["next_member", "lead", "channel"]


class RoutingError(ValueError):
    """The routing file cannot be used. Each problem is ``file:line: where: reason``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class Span(NamedTuple):
    """Minutes after local midnight; ``end <= start`` means the span runs past midnight."""

    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _minutes(hours: str, minutes: str, *, end: bool) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise ValueError(f"{hours}:{minutes} is not a time of day")
    return h * 60 + m


def _spans(value: Any) -> tuple[Span, ...]:
    """``"09:00-17:30"``, ``"09:00-12:00, 13:00-17:00"``, a list of those, or null/"off"."""
    # YAML 1.1 reads a bare `off` as false.
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in {"off", "closed", ""}):
        return ()
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    spans = []
    for part in parts:
        if isinstance(part, Span):
            spans.append(part)
            continue
        match = _SPAN.match(str(part))
        if not match:
            raise ValueError(f"{part!r} is not a time range like 09:00-17:30")
        start = _minutes(match[1], match[2], end=False)
        end = _minutes(match[3], match[4], end=True)
        if start == end:
            raise ValueError(f"{part!r} is empty (start equals end)")
        spans.append(Span(start, end))
    return tuple(spans)


def _day_key(key: str) -> str:
    """``mon``, ``mon-fri``, ``sat-sun`` (ranges may wrap, e.g. ``fri-mon``)."""
    key = key.strip().lower()
    ends = key.split("-")
    if len(ends) > 2 or any(day not in DAYS for day in ends):
        raise ValueError(f"{key!r} is not a weekday (mon..sun) or a range of them (mon-fri)")
    return key


def _days(key: str) -> list[int]:
    first, _, last = key.partition("-")
    i, j = DAYS.index(first), DAYS.index(last or first)
    return [(i + k) % 7 for k in range((j - i) % 7 + 1)]


def _compact(value: Any) -> Any:
    """``"24/7"`` or ``"mon-fri 09:00-17:30; sat 10:00-14:00"`` into the mapping form."""
    if not isinstance(value, str):
        return value
    if value.strip() == "24/7":
        return {"mon-sun": "00:00-24:00"}
    out: dict[str, str] = {}
    for chunk in filter(None, (c.strip() for c in value.split(";"))):
        days, _, spans = chunk.partition(" ")
        if not spans.strip():
            raise ValueError(f"{chunk!r} should be days then times, e.g. 'mon-fri 09:00-17:30'")
        out[days] = spans.strip()
    return out


DayKey = Annotated[str, AfterValidator(_day_key)]
Spans = Annotated[tuple[Span, ...], BeforeValidator(_spans)]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


def _language(tag: str) -> str:
    return primary_language(tag) or ""


def primary_language(tag: str | None) -> str | None:
    """``pt-BR`` / ``pt_BR`` / ``PT`` -> ``pt``."""
    if not tag:
        return None
    return tag.replace("_", "-").split("-")[0].strip().lower() or None


TimeZone = Annotated[str, AfterValidator(_zone)]
Language = Annotated[str, AfterValidator(_language)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Schedule(Model):
    """Weekly working hours in the owner's time zone; days not listed are off."""

    days: dict[DayKey, Spans]

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        value = _compact(value)
        return {"days": value} if isinstance(value, dict) and "days" not in value else value

    @model_validator(mode="after")
    def _no_day_twice(self) -> Schedule:
        seen: dict[int, str] = {}
        for key in self.days:
            for day in _days(key):
                if day in seen:
                    raise ValueError(f"{DAYS[day]} is given twice ({seen[day]!r} and {key!r})")
                seen[day] = key
        return self

    def spans(self, weekday: int) -> tuple[Span, ...]:
        return tuple(s for key, spans in self.days.items() if weekday in _days(key) for s in spans)

    def covers(self, local: datetime) -> bool:
        """Is ``local`` (a wall-clock time in the schedule's zone) inside working hours?"""
        minute, day = local.hour * 60 + local.minute, local.weekday()
        for span in self.spans(day):
            if span.start <= minute < (1440 if span.overnight else span.end):
                return True
        # An overnight span belongs to the day it starts on: Monday 22:00-06:00 covers Tuesday 03:00.
        return any(span.overnight and minute < span.end for span in self.spans((day - 1) % 7))


ALWAYS = Schedule.model_validate("24/7")


class JiraTarget(Model):
    project: str
    components: list[str] = Field(default_factory=list)


class Member(Model):
    name: str = Field(min_length=1)
    # The member's key everywhere in the bridge (open-case counts, last_assigned, the case's owner
    # column, Take case): Slack is where ownership is announced and acknowledged, so its id is stable.
    slack_user_id: str = Field(pattern=r"^[UW][A-Z0-9]{2,}$")
    zendesk_agent_id: int | None = None
    jira_account_id: str | None = None
    languages: list[Language] = Field(default_factory=lambda: ["en"])
    skills: list[str] = Field(default_factory=list)
    lead: bool = False
    hours: Schedule | None = None  # overrides the team's hours
    timezone: TimeZone | None = None  # overrides the team's time zone

    @property
    def key(self) -> str:
        return self.slack_user_id


class EscalationPolicy(Model):
    ack_timeout_minutes: int = Field(15, ge=1, le=24 * 60)
    levels: list[Level] = Field(default_factory=lambda: ["next_member", "lead", "channel"], min_length=1)
    channel_mention: Literal["here", "channel"] = "here"


class Team(Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = ""
    zendesk_group_id: int | None = None
    jira: JiraTarget | None = None
    slack_channel: str = Field(min_length=1)
    fallback_channel: str | None = None  # defaults to slack_channel
    timezone: TimeZone = "UTC"
    hours: Schedule = ALWAYS  # a team without hours is staffed around the clock
    members: list[Member] = Field(default_factory=list)
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)

    @model_validator(mode="after")
    def _unique_members(self) -> Team:
        keys = [m.key for m in self.members]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"members listed twice: {', '.join(dupes)}")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def fallback(self) -> str:
        return self.fallback_channel or self.slack_channel

    def schedule_of(self, member: Member) -> tuple[Schedule, ZoneInfo]:
        return member.hours or self.hours, ZoneInfo(member.timezone or self.timezone)

    def member(self, key: str) -> Member | None:
        return next((m for m in self.members if key in (m.key, m.name)), None)


class When(Model):
    """Every listed condition must hold; within a list, any item may match. Empty matches all."""

    triggers: list[TriggerId] = Field(default_factory=list)
    topic: list[str] = Field(default_factory=list)  # substring, or /regex/; case-insensitive
    plans: list[str] = Field(default_factory=list)
    mrr_min: float | None = None  # inclusive
    mrr_max: float | None = None  # exclusive, so bands 0-1000, 1000-5000 do not overlap
    languages: list[Language] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        # One value is as good as a list of one: `topic: refund` reads better than `topic: [refund]`.
        if isinstance(value, dict):
            value = {k: [v] if isinstance(v, str) and k != "mrr_min" and k != "mrr_max" else v
                     for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _checks(self) -> When:
        if self.mrr_min is not None and self.mrr_max is not None and self.mrr_min >= self.mrr_max:
            raise ValueError("mrr_min must be below mrr_max")
        for pattern in self.topic:
            if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
                try:
                    re.compile(pattern[1:-1])
                except re.error as exc:
                    raise ValueError(f"topic {pattern}: bad regular expression ({exc})") from None
        return self


class Then(Model):
    team: str
    file_jira: bool | None = None  # None: file a Jira bug for product_bug cases only
    priority_floor: Priority | None = None


class Rule(Model):
    name: str = Field(min_length=1)
    when: When = Field(default_factory=When)
    then: Then


class Routing(Model):
    teams: list[Team] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    default_team: str | None = None  # required when there is more than one team
    slack_permissions: SlackPermissions = Field(default_factory=SlackPermissions)  # who may act from Slack

    def team(self, team_id: str) -> Team:
        """KeyError for a team that is gone (a stored case routed under an older file)."""
        for team in self.teams:
            if team.id == team_id:
                return team
        raise KeyError(f"unknown team {team_id!r}")

    @property
    def default(self) -> Team:
        return self.team(self.default_team) if self.default_team else self.teams[0]

    def team_or_default(self, team_id: str | None) -> Team:
        """The case's team, or the default one when it has none or it was removed from the file since."""
        try:
            return self.team(team_id) if team_id else self.default
        except KeyError:
            return self.default
