"""Merging what successive events of one conversation say into one picture of it."""

from __future__ import annotations

from bridge.events import Customer, Event, Message


def _message_key(message: Message) -> tuple[object, ...]:
    if message.id:
        return ("id", message.id)
    return ("text", message.role, message.text, message.sent_at)


def merge_messages(old: list[Message], new: list[Message]) -> list[Message]:
    """Union of both transcripts in order; a message seen twice is kept once (the newer copy)."""
    merged: dict[tuple[object, ...], Message] = {}
    for message in [*old, *new]:
        merged[_message_key(message)] = message  # first position, newest copy
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


def merge(previous: Event | None, event: Event) -> Event:
    """The conversation as it stands after ``event``; later facts win, nothing known is lost."""
    if previous is None:
        return event
    conversation = event.conversation.model_copy(
        update={"messages": merge_messages(previous.conversation.messages, event.conversation.messages)}
    )
    return event.model_copy(
        update={
            "conversation": conversation,
            "customer": _merge_customer(previous.customer, event.customer),
            "evidence": event.evidence or previous.evidence,
            "handoff": event.handoff or previous.handoff,
            "bot": event.bot or previous.bot,
        }
    )
