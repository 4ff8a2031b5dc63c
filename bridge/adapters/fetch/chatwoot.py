"""Chatwoot transcript fetcher (worker side): ``GET /api/v1/accounts/{account}/conversations/{id}/messages``.

Header ``api_access_token: CHATWOOT_API_TOKEN``; base ``CHATWOOT_API_URL`` (default app.chatwoot.com);
account from the webhook, else ``CHATWOOT_ACCOUNT_ID``. The endpoint answers the latest page of
messages and ``before=<oldest id>`` pages back; ``meta.contact`` carries the email when the webhook did not.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from bridge.adapters import vendor_api as v
from bridge.adapters.shapes.chatwoot import chat_message
from bridge.config import Settings, api_url_env_name
from bridge.events import Customer, Event, Message
from bridge.pipeline.transcript import merge_messages

log = logging.getLogger("bridge.adapters.chatwoot")
DEFAULT_API_URL = "https://app.chatwoot.com"
MAX_PAGES = 250


def messages_path(account_id: str, conversation_id: str) -> str:
    return f"/api/v1/accounts/{quote(account_id, safe='')}/conversations/{quote(conversation_id, safe='')}/messages"


def _pages(http: Any, url: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    collected: dict[str, dict[str, Any]] = {}
    meta: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for _ in range(MAX_PAGES):
        answer = v.get_json(http, url, params=params, headers=headers)
        page = answer.get("payload") if isinstance(answer, dict) else None
        if not isinstance(page, list):
            raise v.FetchFailed("the messages answer has no payload list")
        meta = meta or (answer.get("meta") if isinstance(answer.get("meta"), dict) else {})
        fresh = [m for m in page if isinstance(m, dict) and str(m.get("id")) not in collected]
        if not fresh:
            break
        collected.update({str(m.get("id")): m for m in fresh})
        ids = [m["id"] for m in fresh if isinstance(m.get("id"), int) and not isinstance(m.get("id"), bool)]
        if not ids:
            break
        params = {"before": min(ids)}
    return list(collected.values()), meta


def complete(event: Event, settings: Settings) -> Event:
    customer = event.customer or Customer()
    account = v.opt_str(customer.attributes.get("chatwoot_account_id")) or settings.platforms.chatwoot_account_id
    token = settings.platforms.chatwoot_api_token
    url = None
    try:
        base = v.base_url(api_url_env_name("chatwoot"), settings.api_url("chatwoot"), DEFAULT_API_URL)
        if account:
            url = f"{base}/app/accounts/{account}/conversations/{event.conversation.id}"
        if not token or not account:
            raise v.FetchFailed("CHATWOOT_API_TOKEN or the account id is missing")
        raw, meta = _pages(v.session(), base + messages_path(account, event.conversation.id),
                           {"api_access_token": token})
    except v.FetchFailed as exc:
        log.warning("bridge.fetch.failed", extra={"platform": "chatwoot", "reason": str(exc)})
        return v.mark_partial(event, str(exc), url)
    fetched = [Message.model_validate(m) for m in map(chat_message, raw) if m]
    fetched.sort(key=lambda m: (m.sent_at is None, m.sent_at))
    contact = meta.get("contact") if isinstance(meta.get("contact"), dict) else {}
    if not customer.email and v.opt_str(contact.get("email")):
        customer = customer.model_copy(update={"email": v.opt_str(contact.get("email")),
                                               "name": customer.name or v.opt_str(contact.get("name")),
                                               "id": customer.id or v.opt_str(contact.get("id"))})
    messages = v.trim_transcript(merge_messages(fetched, event.conversation.messages))
    conversation = event.conversation.model_copy(update={"messages": messages, "partial": False, "url": url})
    return event.model_copy(update={"conversation": conversation, "customer": customer})
