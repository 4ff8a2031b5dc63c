"""Canonical, frozen types shared by every part of the bridge.

The models mirror the published generic schema, ``handoff-event.v1.schema.json`` (the tests keep a
copy in ``tests/fixtures/``), field for field, so one set of classes is both the validator of
``POST /webhooks/generic`` and the type every adapter produces.
Validation is strict (no string-to-number coercion) so that the models accept and reject the same
documents as the JSON Schema; ``tests/test_events_schema.py`` holds them to that.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetPydanticSchema
from pydantic_core import core_schema

TRIGGERS: tuple[str, ...] = (
    "customer_requested_human",
    "low_confidence",
    "product_bug",
    "negative_sentiment",
    "billing_exception",
    "bot_handoff",
)
TriggerId = Literal[
    "customer_requested_human",
    "low_confidence",
    "product_bug",
    "negative_sentiment",
    "billing_exception",
    "bot_handoff",
]
EventType = Literal["conversation.updated", "handoff.requested", "conversation.closed"]
Role = Literal["customer", "bot", "agent", "system"]
FileKind = Literal["screenshot", "console_log", "network_log", "video", "document", "other"]

# RFC 3339 date-time, as JSON Schema's "date-time" format requires (a "T" or space, seconds, an offset).
# ASCII digits only: the parser refuses any other anyway, and Rust's Unicode ``\d`` is a larger automaton.
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


DATETIME_MESSAGE = "must be an RFC 3339 date-time with offset, e.g. 2026-11-28T10:00:00Z"


def _datetime_schema(_source: Any, _handler: Any) -> core_schema.CoreSchema:
    """A date-time checked and parsed inside pydantic-core: a ``datetime`` as it is, or a string that
    matches ``RFC3339`` (Rust's regex), then parsed by pydantic's own date-time parser.

    It was a Python validator (the pattern, then ``datetime.fromisoformat``), called once per message:
    on a 50 KB transcript (282 messages) 460 of the 1,140 µs the event's validation took (issue 19: a
    request's cost grows with its body). The strings accepted and the values they give are the same
    (tests/test_events_schema.py holds this to that validator on edge cases); the offset is pydantic's
    ``TzInfo`` rather than ``datetime.timezone``: equal, and interchangeable for every use here."""
    return core_schema.union_schema(
        [
            core_schema.datetime_schema(strict=True),
            core_schema.chain_schema([
                core_schema.str_schema(pattern=RFC3339, strict=True),
                core_schema.datetime_schema(strict=False),
            ]),
        ],
        mode="left_to_right",
        custom_error_type="rfc3339_datetime",
        custom_error_message=DATETIME_MESSAGE,
    )


def _date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date, e.g. 2026-11-28")
    return date.fromisoformat(value)


def _integer(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


DateTime = Annotated[datetime, GetPydanticSchema(_datetime_schema)]
Date = Annotated[date, BeforeValidator(_date)]
Integer = Annotated[int, BeforeValidator(_integer)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class File(Model):
    kind: FileKind | None = None
    url: str | None = Field(None, max_length=2000)
    name: str | None = Field(None, max_length=255)
    content_type: str | None = Field(None, max_length=100)
    size_bytes: Integer | None = Field(None, ge=0)


class Source(Model):
    title: str | None = None
    url: str | None = None


class Message(Model):
    id: str | None = Field(None, max_length=200)
    role: Role
    text: str = Field(max_length=100_000)
    sent_at: DateTime | None = None
    confidence: float | None = Field(None, ge=0, le=1)
    intent: str | None = Field(None, max_length=200)
    sources: list[Source] = Field(default_factory=list, max_length=50)
    attachments: list[File] = Field(default_factory=list, max_length=50)
    # Not in the v1 wire schema (which allows extra fields): the platform's own sentiment score of
    # a customer message, -1 (negative) … 1, where the platform sends one (Dialogflow CX, Lex V2).
    sentiment: float | None = Field(None, ge=-1, le=1)


class Conversation(Model):
    id: str = Field(min_length=1, max_length=200)
    channel: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=20)
    url: str | None = Field(None, max_length=2000)
    messages: list[Message] = Field(max_length=5000)
    # Not in the wire schema: set by adapters when the webhook carried only part of the
    # transcript and the worker must fetch the rest from the platform's API.
    partial: bool = False
    # Not in the wire schema: set by the worker when a hand-off arrived with no transcript at all:
    # "fetched" (the platform's API gave it) or "not_fetchable" (no API, or it failed).
    transcript_missing: Literal["fetched", "not_fetchable"] | None = None


class Account(Model):
    id: str | None = None
    name: str | None = None
    # No infinity (what JSON's 1e999 reads as): the webhook's fast path counts on every float field of
    # the event refusing it (bridge/adapters/generic.py; tests/test_events_schema.py checks each one).
    mrr: float | None = Field(None, allow_inf_nan=False)
    currency: str | None = None
    sla: str | None = None
    renewal_date: Date | None = None


class Customer(Model):
    id: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    name: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=50)
    locale: str | None = Field(None, max_length=20)
    plan: str | None = Field(None, max_length=100)
    account: Account | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Handoff(Model):
    requested_by: Literal["customer", "bot"] | None = None
    reason: str | None = Field(None, max_length=2000)
    topic: str | None = Field(None, max_length=200)
    # Not in the v1 wire schema: the urgency the platform attached to its hand-off (Bot Framework's
    # handoff context priority), mapped onto the package's urgent|high|normal|low.
    priority: Literal["urgent", "high", "normal", "low"] | None = None


class Bot(Model):
    name: str | None = Field(None, max_length=200)
    platform: str | None = Field(None, max_length=100)


class ConsoleLog(Model):
    level: str | None = None
    message: str | None = None
    at: str | None = None
    source: str | None = None


class NetworkRequest(Model):
    method: str | None = None
    url: str | None = None
    status: Integer | None = None
    duration_ms: float | None = Field(None, allow_inf_nan=False)
    response_excerpt: str | None = None


class Device(Model):
    os: str | None = None
    browser: str | None = None
    app_version: str | None = None
    viewport: str | None = None
    locale: str | None = None
    network: str | None = None


class Evidence(Model):
    page_url: str | None = Field(None, max_length=2000)
    screenshots: list[File] = Field(default_factory=list, max_length=20)
    console_logs: list[ConsoleLog] = Field(default_factory=list, max_length=1000)
    network_requests: list[NetworkRequest] = Field(default_factory=list, max_length=200)
    device: Device | None = None
    session_replay_url: str | None = Field(None, max_length=2000)
    files: list[File] = Field(default_factory=list, max_length=20)
    steps_to_reproduce: list[str] = Field(default_factory=list, max_length=50)


class Event(Model):
    """One bot event in the bridge's own vocabulary (the generic schema, version 1)."""

    schema_version: Literal[1] | None = None
    event_id: str = Field(min_length=1, max_length=200)
    type: EventType
    occurred_at: DateTime | None = None
    bot: Bot | None = None
    conversation: Conversation
    customer: Customer | None = None
    handoff: Handoff | None = None
    evidence: Evidence | None = None

    @classmethod
    def from_json(cls, data: Any) -> Event:
        return cls.model_validate(data)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if not self.conversation.partial:
            data["conversation"].pop("partial", None)
        return data

    def to_json_text(self) -> str:
        """``to_json`` as JSON text, serialized in one pass by pydantic-core (the inbox row's copy:
        no dict is built first and then dumped again)."""
        drop = None if self.conversation.partial else {"conversation": {"partial"}}
        return self.model_dump_json(exclude_none=True, exclude=drop)


class TriggerHit(Model):
    """Why one trigger fired: the message that made it fire and what in it did."""

    trigger: TriggerId
    message_index: int | None = None  # 1-based index into the transcript
    evidence: str = ""
    score: float | None = None


class Decision(Model):
    """The trigger engine's verdict on a conversation."""

    escalate: bool
    triggers: list[TriggerHit] = Field(default_factory=list)
    at_message: int | None = None
    # Set by the local judge when its verdict was close to a threshold somewhere in the conversation:
    # where an LLM judge is configured, it is asked only then (or when the bot hands off).
    uncertain: bool = False
    # Which judge decided: "local", "llm" or "both" (the LLM confirmed or amended the local verdict).
    judge: str = "local"

    @property
    def trigger_ids(self) -> list[str]:
        seen: list[str] = []
        for hit in self.triggers:
            if hit.trigger not in seen:
                seen.append(hit.trigger)
        return seen


Priority = Literal["urgent", "high", "normal", "low"]


class Attempt(Model):
    """One answer the bot gave before the handoff, with the articles it cited."""

    message_index: int  # 1-based index into the transcript
    text: str
    confidence: float | None = None
    sources: list[Source] = Field(default_factory=list)


class Summary(Model):
    """The handoff summary. ``source`` says who wrote it; its text is data, never an instruction."""

    issue: str = ""
    tried: str = ""
    customer_state: str = ""
    suggested_topic: str = ""
    next_step: str = ""
    key_facts: list[str] = Field(default_factory=list)
    # Verbatim customer sentences carrying scale, deadlines, waiting or churn (bridge.pipeline.urgency),
    # and the bot's own reason for handing off: deterministic, whichever wrote the rest.
    urgency: list[str] = Field(default_factory=list)
    bot_reason: str = ""
    source: Literal["llm", "extractive"] = "extractive"
    model: str | None = None
    note: str | None = None  # why the LLM summary is not used, when it is not
    redacted: dict[str, int] = Field(default_factory=dict)  # kind -> count removed before the LLM call


class Completeness(Model):
    """The per-trigger checklist: what the human has, what is missing, and how to ask for it."""

    score: int = 100  # 0-100
    present: list[str] = Field(default_factory=list)  # item labels
    missing: list[str] = Field(default_factory=list)  # item ids
    missing_labels: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)  # in the conversation's language
    language: str = "en"


class RouteInfo(Model):
    """Who owns the case and where it lives, as routing decided it (see bridge.pipeline.route)."""

    team: str
    team_name: str = ""
    channel: str = ""
    rule: str = "default"
    owner_name: str | None = None
    owner_slack_id: str | None = None
    zendesk_group_id: int | None = None
    zendesk_agent_id: int | None = None
    jira_project: str | None = None
    jira_components: list[str] = Field(default_factory=list)
    jira_account_id: str | None = None
    no_one_on_shift: bool = False
    owner_outside_roster: bool = False  # took the case but is on no team's roster (no Zendesk id known)
    file_jira: bool = False
    acknowledged: bool = False  # the owner took the case


class Waiting(Model):
    """Where the customer waits for the human and where the reply goes (bridge.pipeline.waiting)."""

    channel: str | None = None  # as the platform named it: whatsapp, web_chat, email, voice, …
    label: str = "unknown channel"
    url: str | None = None  # the live conversation in the bot platform
    reply_via: str = "unknown"  # phone | email | the channel
    reply_label: str = "the ticket"
    told_to_wait_here: bool = False  # the bot said a person would answer in this conversation
    told_reply_by_email: bool = False
    bot_said: str | None = None  # the bot's words about it


class Flag(Model):
    """Something the human must check before answering (bridge.pipeline.flags)."""

    kind: Literal["unverified_answer", "privacy_legal"]
    text: str
    message_index: int | None = None


class Package(Model):
    """Everything the human gets, before it is rendered for Zendesk, Jira or Slack."""

    case_id: str
    platform: str
    event_type: EventType
    bot: Bot | None = None
    conversation: Conversation
    customer: Customer | None = None
    handoff: Handoff | None = None
    evidence: Evidence | None = None
    decision: Decision
    route: RouteInfo | None = None
    language: str = "en"
    transcript_partial: bool = False  # the platform API could not give the whole transcript
    transcript_missing: Literal["fetched", "not_fetchable"] | None = None  # the hand-off came without one
    priority: Priority = "normal"
    priority_reason: str = ""
    summary: Summary = Field(default_factory=Summary)
    attempts: list[Attempt] = Field(default_factory=list)
    completeness: Completeness = Field(default_factory=Completeness)
    opening_line: str = ""
    topic: str = ""  # what the customer says the problem is, in their words: the subject and the headline
    waiting: Waiting = Field(default_factory=Waiting)
    flags: list[Flag] = Field(default_factory=list)
    bug_evidence: list[str] = Field(default_factory=list)  # why the evidence proves a product failure
    earlier_tickets: list[str] = Field(default_factory=list)  # ticket numbers the customer points to
    previous_tickets: list[str] = Field(default_factory=list)  # tickets of this customer's earlier cases
