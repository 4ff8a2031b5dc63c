"""Intercom transcript fetcher (worker side): ``GET /conversations/{id}`` and, for a missing email,
``GET /contacts/{id}`` (API 2.14, bearer ``INTERCOM_ACCESS_TOKEN``, base ``INTERCOM_API_URL``)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from bridge.adapters import vendor_api as v
from bridge.adapters.shapes.intercom import API_VERSION, DEFAULT_API_URL, transcript
from bridge.config import Settings, api_url_env_name
from bridge.events import Customer, Event, Message
from bridge.pipeline.transcript import merge_messages

log = logging.getLogger("bridge.adapters.intercom")


def conversation_path(conversation_id: str) -> str:
    return f"/conversations/{quote(conversation_id, safe='')}"


def contact_path(contact_id: str) -> str:
    return f"/contacts/{quote(contact_id, safe='')}"


def complete(event: Event, settings: Settings) -> Event:
    token = settings.platforms.intercom_access_token
    try:
        if not token:
            raise v.FetchFailed("INTERCOM_ACCESS_TOKEN is not set")
        base = v.base_url(api_url_env_name("intercom"), settings.api_url("intercom"), DEFAULT_API_URL)
        headers = {"Authorization": f"Bearer {token}", "Intercom-Version": API_VERSION}
        http = v.session()
        item = v.get_json(http, base + conversation_path(event.conversation.id),
                          params={"display_as": "plaintext"}, headers=headers)
        if not isinstance(item, dict) or item.get("type") not in (None, "conversation"):
            raise v.FetchFailed("the conversation answer is not a conversation")
        fetched = [m for m in map(_message, transcript(item)) if m]
        customer = event.customer or Customer()
        if not customer.email and customer.id:
            contact = v.get_json(http, base + contact_path(customer.id), headers=headers)
            email = v.opt_str(v.dig(contact, "email"))
            name = customer.name or v.opt_str(v.dig(contact, "name"))
            customer = customer.model_copy(update={"email": email, "name": name})
    except v.FetchFailed as exc:
        log.warning("bridge.fetch.failed", extra={"platform": "intercom", "reason": str(exc)})
        return v.mark_partial(event, str(exc), event.conversation.url)
    messages = v.trim_transcript(merge_messages(fetched, event.conversation.messages))
    conversation = event.conversation.model_copy(update={"messages": messages, "partial": False})
    return event.model_copy(update={"conversation": conversation, "customer": customer})


def _message(data: dict) -> Message:
    return Message.model_validate(data)
