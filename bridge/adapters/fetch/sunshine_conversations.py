"""Sunshine Conversations transcript fetcher (worker side).

``GET /v2/apps/{appId}/conversations/{conversationId}/messages`` (most recent page first, older pages
through ``page[before]=<meta.beforeCursor>`` while ``meta.hasMore``), then ``GET /v2/apps/{appId}/users/
{userId}`` when the customer's email is missing. Basic auth with an API key
(``SUNSHINE_CONVERSATIONS_KEY_ID`` / ``SUNSHINE_CONVERSATIONS_KEY_SECRET``); base
``SUNSHINE_CONVERSATIONS_API_URL`` (default ``https://api.smooch.io``; ``https://<subdomain>.zendesk.com/sc``
for Zendesk-hosted apps); app id from the webhook, else ``SUNSHINE_CONVERSATIONS_APP_ID``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from bridge.adapters import vendor_api as v
from bridge.adapters.shapes.sunshine_conversations import customer_of, sc_message
from bridge.config import Settings, api_url_env_name
from bridge.events import Customer, Event, Message
from bridge.pipeline.transcript import merge_messages

log = logging.getLogger("bridge.adapters.sunshine")
SLUG = "sunshine-conversations"
DEFAULT_API_URL = "https://api.smooch.io"
MAX_PAGES = 100  # 100 messages a page: the 5000-message transcript cap and then some


def messages_path(app_id: str, conversation_id: str) -> str:
    return f"/v2/apps/{quote(app_id, safe='')}/conversations/{quote(conversation_id, safe='')}/messages"


def user_path(app_id: str, user_id: str) -> str:
    return f"/v2/apps/{quote(app_id, safe='')}/users/{quote(user_id, safe='')}"


def _all_messages(http: Any, url: str, auth: tuple[str, str]) -> list[dict[str, Any]]:
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        answer = v.get_json(http, url, params=params, auth=auth)
        page = answer.get("messages") if isinstance(answer, dict) else None
        if not isinstance(page, list):
            raise v.FetchFailed("the list-messages answer has no messages list")
        pages.append([m for m in page if isinstance(m, dict)])
        cursor = v.opt_str(v.dig(answer, "meta", "beforeCursor"))
        if v.dig(answer, "meta", "hasMore") is not True or not cursor or params.get("page[before]") == cursor:
            break
        params = {"page[before]": cursor}
    return [m for page in reversed(pages) for m in page]  # oldest page first


def complete(event: Event, settings: Settings) -> Event:
    customer = event.customer or Customer()
    app_id = v.opt_str(customer.attributes.get("sunshine_app_id")) or settings.platforms.sunshine_app_id
    key_id = settings.platforms.sunshine_key_id
    key_secret = settings.platforms.sunshine_key_secret
    try:
        if not (app_id and key_id and key_secret):
            raise v.FetchFailed("SUNSHINE_CONVERSATIONS_KEY_ID/_KEY_SECRET or the app id is missing")
        base = v.base_url(api_url_env_name(SLUG), settings.api_url(SLUG), DEFAULT_API_URL)
        http, auth = v.session(), (key_id, key_secret)
        raw = _all_messages(http, base + messages_path(app_id, event.conversation.id), auth)
        author = next((m.get("author") for m in raw if v.dig(m, "author", "type") == "user"), None)
        found = customer_of(author, app_id) or {}
        user_id = customer.id or found.get("id")
        email = customer.email or found.get("email")
        if user_id and not email:
            user = v.dig(v.get_json(http, base + user_path(app_id, user_id), auth=auth), "user")
            email = customer_of({"userId": user_id, "user": user}, app_id, {}) or {}
            email = email.get("email")
    except v.FetchFailed as exc:
        log.warning("bridge.fetch.failed", extra={"platform": SLUG, "reason": str(exc)})
        return v.mark_partial(event, str(exc))
    fetched = [Message.model_validate(m) for m in map(sc_message, raw) if m]
    customer = customer.model_copy(update={
        "id": customer.id or found.get("id"),
        "name": customer.name or found.get("name"),
        "email": email,
    })
    messages = v.trim_transcript(merge_messages(fetched, event.conversation.messages))
    conversation = event.conversation.model_copy(update={"messages": messages, "partial": False})
    return event.model_copy(update={"conversation": conversation, "customer": customer})
