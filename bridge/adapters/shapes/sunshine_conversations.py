"""Sunshine Conversations' message and user JSON in canonical form: the webhook and the
list-messages / get-user API answers share the shapes, so the adapter and the fetcher both read
them from here."""

from __future__ import annotations

from typing import Any

from bridge.adapters import vendor_api as v


def content_text(content: Any) -> tuple[str, list[dict[str, Any]]]:
    """Text and attachments of a message ``content`` (text, image, file, and the structured types)."""
    if not isinstance(content, dict):
        return "", []
    kind = content.get("type")
    text = v.opt_str(content.get("text")) or ""
    attachments = []
    if kind in ("image", "file"):
        att = v.attachment(content.get("mediaUrl"), content.get("altText"), content.get("mediaType"),
                           content.get("mediaSize"))
        if att:
            attachments.append(att)
    elif not text and kind in ("carousel", "list", "form", "formResponse", "location", "template"):
        text = f"[{kind}]"
    if not text and kind == "formResponse":
        text = "; ".join(str(f.get("text") or "") for f in v.items(content.get("fields")) if isinstance(f, dict))
    return text, attachments


def sc_message(item: Any) -> dict[str, Any] | None:
    """A message (webhook or list-messages shape) as a turn."""
    if not isinstance(item, dict):
        return None
    author = item.get("author") if isinstance(item.get("author"), dict) else {}
    text, attachments = content_text(item.get("content"))
    if not text and not attachments:
        return None
    if author.get("type") == "user":
        role = "customer"
    elif "AI" in v.items(author.get("subtypes")) or v.dig(item, "source", "type") in ("api:conversations", None):
        role = "bot"
    else:
        role = "agent" if str(v.dig(item, "source", "type") or "").startswith("zd:") else "bot"
    return v.message(role, text, id=item.get("id"), sent_at=item.get("received"), attachments=attachments)


def customer_of(author: Any, app_id: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    user = v.dig(author, "user") if isinstance(v.dig(author, "user"), dict) else {}
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    metadata = user.get("metadata") if isinstance(user.get("metadata"), dict) else {}
    name = " ".join(filter(None, [v.opt_str(profile.get("givenName")), v.opt_str(profile.get("surname"))]))
    email = v.opt_str(profile.get("email")) or next(
        (v.opt_str(i.get("value")) for i in v.items(user.get("identities")) if v.dig(i, "type") == "email"), None)
    account = v.opt_str(metadata.get("accountId")) or v.opt_str(metadata.get("account_id"))
    attributes = v.drop_empty({
        **{k: val for k, val in (extra or {}).items() if isinstance(val, str | int | float | bool)},
        "external_id": v.opt_str(user.get("externalId")),
        "sunshine_app_id": app_id,
    })
    data = v.drop_empty({
        "id": v.opt_str(v.dig(author, "userId")) or v.opt_str(user.get("id")),
        "email": email,
        "name": v.opt_str(v.dig(author, "displayName")) or name or None,
        "locale": v.opt_str(profile.get("locale")),
        "plan": v.opt_str(metadata.get("plan")),
        "account": {"id": account} if account else None,
        "attributes": attributes,
    })
    return data or None
