"""Merging what successive events of one conversation say into one picture of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bridge.events import Customer, Event, Evidence, Message

T = TypeVar("T")
# The schema's caps per evidence list: a long conversation keeps the newest items.
_CAPS = {"screenshots": 20, "files": 20, "console_logs": 1000, "network_requests": 200}


def message_key(message: Message) -> tuple[object, ...]:
    if message.id:
        return ("id", message.id)
    return ("text", message.role, message.text, message.sent_at)


def merge_messages(old: list[Message], new: list[Message]) -> list[Message]:
    """Union of both transcripts in order; a message seen twice is kept once (the newer copy)."""
    merged: dict[tuple[object, ...], Message] = {}
    for message in [*old, *new]:
        merged[message_key(message)] = message  # first position, newest copy
    ordered = list(merged.values())
    if all(m.sent_at is not None for m in ordered):
        ordered.sort(key=lambda m: m.sent_at)  # type: ignore[arg-type, return-value]
    return ordered


def _merge_customer(old: Customer | None, new: Customer | None) -> Customer | None:
    if old is None or new is None:
        return new or old
    data = old.model_dump(exclude_none=True)
    update = new.model_dump(exclude_none=True)
    attributes = {**data.get("attributes", {}), **update.pop("attributes", {})}
    data.update(update)
    data["attributes"] = attributes
    return Customer.model_validate(data, strict=False)


def _union(old: Sequence[T], new: Sequence[T], key: Callable[[T], Any], cap: int) -> list[T]:
    seen: dict[Any, T] = {}
    for item in [*old, *new]:
        seen.setdefault(key(item), item)
    return list(seen.values())[-cap:]


def _same(item: Any) -> str:
    return json.dumps(item.model_dump(mode="json", exclude_none=True), sort_keys=True)


def _file_key(item: Any) -> str:
    return str(item.url) if item.url else _same(item)


def merge_evidence(old: Evidence | None, new: Evidence | None) -> Evidence | None:
    """Evidence of both events: files, logs and requests added, never replaced; the newest page,
    device, replay and steps win. A screenshot sent after the escalation joins the earlier ones."""
    if old is None or new is None:
        return new or old
    update: dict[str, Any] = {
        name: _union(getattr(old, name), getattr(new, name),
                     _file_key if name in ("screenshots", "files") else _same, cap)
        for name, cap in _CAPS.items()
    }
    update.update(
        page_url=new.page_url or old.page_url,
        device=new.device or old.device,
        session_replay_url=new.session_replay_url or old.session_replay_url,
        steps_to_reproduce=new.steps_to_reproduce or old.steps_to_reproduce,
    )
    return old.model_copy(update=update)


def added_evidence(old: Evidence | None, merged: Evidence | None) -> Evidence | None:
    """What ``merged`` holds that ``old`` did not (files, console lines, requests), or None."""
    if merged is None:
        return None
    if old is None:
        old = Evidence()
    update: dict[str, Any] = {}
    for name in _CAPS:
        key = _file_key if name in ("screenshots", "files") else _same
        known = {key(item) for item in getattr(old, name)}
        update[name] = [item for item in getattr(merged, name) if key(item) not in known]
    if merged.session_replay_url and merged.session_replay_url != old.session_replay_url:
        update["session_replay_url"] = merged.session_replay_url
    if not any(update.values()):
        return None
    return Evidence(**update)


def flag_missing(before: Event, after: Event) -> Event:
    """``after`` flagged when ``before`` (a hand-off as it arrived, folded into the case) had no
    transcript at all: "fetched" when ``after`` has one now, "not_fetchable" when it still has none."""
    if before.type != "handoff.requested" or before.conversation.messages or after.conversation.transcript_missing:
        return after
    status = "fetched" if after.conversation.messages else "not_fetchable"
    return after.model_copy(update={"conversation": after.conversation.model_copy(
        update={"transcript_missing": status})})


def merge(previous: Event | None, event: Event) -> Event:
    """The conversation as it stands after ``event``; later facts win, nothing known is lost."""
    if previous is None:
        return event
    conversation = event.conversation.model_copy(
        update={"messages": merge_messages(previous.conversation.messages, event.conversation.messages),
                "transcript_missing": event.conversation.transcript_missing
                or previous.conversation.transcript_missing}
    )
    return event.model_copy(
        update={
            "conversation": conversation,
            "customer": _merge_customer(previous.customer, event.customer),
            "evidence": merge_evidence(previous.evidence, event.evidence),
            "handoff": event.handoff or previous.handoff,
            "bot": event.bot or previous.bot,
        }
    )
