"""Slack Block Kit builders (pure): the alert that makes one named person own the case, the DM to
that person, the in-place update when ownership or the bug changes, and re-escalation pages.

Customer, bot and LLM text is escaped (``& < >``) so ``<!channel>``, ``<@U123>`` and masked links
``<https://evil|Reset>`` render as text; ``link_names`` is never set and unfurls are off. Slack
caps a section's text at 3,000 characters and a message at 50 blocks; long sections are split
and the transcript, last in the message, gives way first (the full one is in the ticket).
"""

from __future__ import annotations

import re
from typing import Any

from bridge.events import Package
from bridge.pipeline.promise import owner_line
from bridge.pipeline.render import clean, followup_heading, followup_lines
from bridge.pipeline.sanitize import channel_safe_url, for_channel
from bridge.pipeline.urgency import rank
from bridge.pipeline.waiting import MESSAGING

SECTION_LIMIT = 3_000
MAX_BLOCKS = 50
TEXT_LIMIT = 3_000


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})>")
ROUTING_MENTIONS = ("<!here>", "<!channel>")


def escape(text: str) -> str:
    """Slack mrkdwn control characters; customer text is never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a Slack user id; anything else (a web login name, a forged value) as plain text."""
    user_id = user_id or ""
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else escape(user_id)


def escape_keeping_mentions(text: str) -> str:
    """Text the bridge wrote around a user mention ("already taken by <@U1>"): the mention stays."""
    parts = _MENTION.split(text)
    return "".join(mention(part) if i % 2 else escape(part) for i, part in enumerate(parts))


def link(url: str | None, label: str) -> str | None:
    """A Slack link ``<url|label>``, or None. Slack reads ``|`` and ``>`` inside the angle brackets as the
    end of the URL, so a URL carrying them (or whitespace) could smuggle its own label or a ``<!channel>``:
    ``&<>`` are escaped as Slack documents, and ``|`` is percent-encoded."""
    if not url or not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return None
    safe = escape(url[:3000]).replace("|", "%7C")
    return f"<{safe}|{escape(label)}>"


def _chunks(text: str, size: int) -> list[str]:
    """Split on line boundaries where possible; escaping happens before, so sizes are final."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > size:
            if current:
                out.append(current)
                current = ""
            cut = size
            amp = line.rfind("&", size - 5, size)  # never split an "&amp;" / "&lt;" entity
            if amp != -1 and ";" not in line[amp:size]:
                cut = amp
            out.append(line[:cut])
            line = line[cut:]
        if current and len(current) + 1 + len(line) > size:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out or [""]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _who(package: Package) -> str:
    customer = package.customer
    who = (customer.name or customer.email or customer.id) if customer else None
    return clean(who or "A customer")


def _owner(package: Package, refs: dict[str, Any] | None = None) -> str:
    """The one named owner as a real mention (ids come from the routing file, never from the customer),
    and once taken, the reply time the customer was promised."""
    route = package.route
    if route is None:
        return "_not routed_"
    if route.owner_slack_id:
        state = " ✅ taken" if route.acknowledged else ""
        return f"{mention(route.owner_slack_id)}{state} ({escape(route.team_name or route.team)})"
    return f"*No one on shift* in {escape(route.team_name or route.team)}: first to take it owns it"


def _live(package: Package, refs: dict[str, Any]) -> str | None:
    """'Live — join now' when the customer is still there and someone is on shift to join."""
    if not refs.get("live") or package.route is None or package.route.no_one_on_shift:
        return None
    url = link(channel_safe_url(package.conversation.url, package.customer), "open it")
    return f"🟢 *Live — join now*: the customer is still in the conversation{f' ({url})' if url else ''}"


def _buttons(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    value = package.case_id
    elements: list[dict[str, Any]] = []
    if not (package.route and package.route.acknowledged):
        elements.append({"type": "button", "action_id": "take_case", "style": "primary", "value": value,
                         "text": {"type": "plain_text", "text": "Take case"}})
    elements += [
        {"type": "users_select", "action_id": "reassign", "placeholder": {"type": "plain_text", "text": "Reassign"}},
        {"type": "button", "action_id": "not_mine", "value": value, "text": {"type": "plain_text", "text": "Not mine"}},
    ]
    links = (("Zendesk ticket", "zendesk.ticket.url"), ("Jira bug", "jira.bug.url"), ("Case page", "case.url"))
    for label, key in links:
        url = refs.get(key)
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            elements.append({"type": "button", "action_id": f"open_{key.split('.')[0]}", "url": url[:3000],
                             "text": {"type": "plain_text", "text": label}})
    return {"type": "actions", "block_id": f"case:{value}", "elements": elements[:25]}


LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French", "pt": "Portuguese",
                  "it": "Italian", "nl": "Dutch", "ja": "Japanese"}
WHY = {
    "customer_requested_human": "asked for a person",
    "low_confidence": "the bot was unsure",
    "product_bug": "looks like a product bug",
    "negative_sentiment": "the customer is upset",
    "billing_exception": "a billing decision is needed",
    "bot_handoff": "the bot handed off",
}


def _safe(package: Package, text: str | None, cap: int = 300) -> str:
    """Customer, bot or LLM text for a channel: no contact details, no markup, capped."""
    text = " ".join(for_channel(clean(text or ""), package.customer).split())
    return escape(text if len(text) <= cap else text[: cap - 1] + "…")


def _language(package: Package) -> str:
    tag = package.conversation.language or (package.customer.locale if package.customer else None)
    name = LANGUAGE_NAMES.get(package.language, package.language)
    return f"{name} ({escape(tag)})" if tag and tag != package.language else name


def _customer_line(package: Package) -> str:
    """Who and how much they matter: name, account, plan, MRR, SLA, renewal. Never e-mail or phone."""
    customer = package.customer
    who = _safe(package, _who(package), 120)
    if customer is None:
        return f"*{who}*"
    account = customer.account
    parts = [f"*{who}*"]
    if account and account.name:
        parts.append(_safe(package, account.name, 120))
    if customer.plan:
        parts.append(f"plan {_safe(package, customer.plan, 60)}")
    if account and account.mrr is not None:
        parts.append(f"MRR {account.mrr:,.0f} {_safe(package, account.currency or '', 10)}".rstrip())
    if account and account.sla:
        parts.append(f"SLA {_safe(package, account.sla, 60)}")
    if account and account.renewal_date:
        parts.append(f"renews {account.renewal_date.isoformat()}")
    return " · ".join(parts)


def _waiting(package: Package) -> str:
    waiting = package.waiting
    text = escape(waiting.label)
    if waiting.reply_via == "phone":
        text += " — call back"
    elif waiting.reply_via in MESSAGING:
        text += (" — told to wait there;" if waiting.told_to_wait_here else " —") + \
            f" reply in {escape(waiting.reply_label)}, not by e-mail"
    elif waiting.reply_via not in ("unknown", "email") and waiting.told_to_wait_here:
        text += f" — told to wait there; reply in the {escape(waiting.reply_label)}"
    elif waiting.reply_via == "email":
        text += " — reply by e-mail"
    return text


def _why(package: Package) -> str:
    reasons = [WHY.get(t, t) for t in package.decision.trigger_ids]
    if package.bug_evidence and "product_bug" not in package.decision.trigger_ids:
        reasons.append("the evidence shows a product failure")
    return escape(", ".join(reasons) or "handoff")


def build_alert(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """The channel post: what a lead needs in ten seconds (topic, who and how much they matter, owner,
    priority, reply due, where the customer waits, language, why, what makes it urgent) and nothing
    that belongs in the ticket: no transcript, no e-mail, no phone. The case link has the rest."""
    topic = " ".join(clean(package.topic or "Customer needs a human").split())
    due = owner_line(package, refs)
    summary = package.summary
    who = for_channel(_who(package), package.customer)  # a customer without a name is not their e-mail here
    headline = f"[{package.priority}] {for_channel(topic, package.customer)} — {who}"
    blocks: list[dict[str, Any]] = [
        # plain_text headers cannot carry mentions or links at all.
        {"type": "header", "text": {"type": "plain_text", "text": for_channel(topic, package.customer)[:150]}},
        _section(_customer_line(package)),
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Owner*\n{_owner(package, refs)}"},
            {"type": "mrkdwn",
             "text": f"*Priority*\n{escape(package.priority)} — "
                     f"{_safe(package, package.priority_reason.removeprefix(package.priority + ': '), 200)}"},
            {"type": "mrkdwn", "text": f"*Reply due*\n{escape(due) if due else '_see the SLA_'}"},
            {"type": "mrkdwn", "text": f"*Customer waits in*\n{_waiting(package)}"},
            {"type": "mrkdwn", "text": f"*Language*\n{_language(package)}"},
            {"type": "mrkdwn", "text": f"*Why*\n{_why(package)}"},
        ]},
    ]
    for flag in package.flags:
        blocks.append(_section(f"⚠️ {_safe(package, flag.text, 600)}"))
    urgent = rank(summary.urgency)[:4]
    if urgent:
        blocks.append(_section("*What makes it urgent* (customer's words)\n"
                               + "\n".join(f"• {_safe(package, fact, 220)}" for fact in urgent)))
    facts = [_safe(package, fact, 80) for fact in summary.key_facts[:8]]
    details = []
    if facts:
        details.append("*Key facts*: " + " · ".join(f for f in facts if f))
    if summary.bot_reason:
        details.append(f"*Bot's reason*: {_safe(package, summary.bot_reason, 400)}")
    last = next((m.text for m in reversed(package.conversation.messages) if m.role == "customer"), None)
    if last:
        details.append(f"*Last from the customer*\n>{_safe(package, last, 300)}")
    if details:
        blocks.append(_section("\n".join(details)[:SECTION_LIMIT]))
    live = _live(package, refs)
    if live:
        blocks.append(_section(live))
    blocks.append(_buttons(package, refs))
    ticket = refs.get("zendesk.ticket")
    footer_text = (f"Case {package.case_id}" + (f" · Ticket: {ticket}" if ticket else "")
                   + " · transcript, evidence and contact details: case page and ticket")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(footer_text[:1000])}]})
    text = headline + (f" · {due}" if due else "")
    return {
        "channel": package.route.channel if package.route else None,
        "text": escape(text)[:TEXT_LIMIT],
        "blocks": blocks[:MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": "bridge_case", "event_payload": {"case_id": package.case_id}},
    }


def build_dm(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """The alert, straight to the owner (posting to a user id opens the DM), with the opening line."""
    alert = build_alert(package, refs)
    owner = package.route.owner_slack_id if package.route else None
    opening = _section(f"*Suggested opening line* ({escape(package.language)})\n>"
                       + _safe(package, package.opening_line, 1000))
    blocks = [*alert["blocks"][:-2], opening, *alert["blocks"][-2:]]
    return {**alert, "blocks": blocks[:MAX_BLOCKS], "channel": owner,
            "metadata": {"event_type": "bridge_case_dm", "event_payload": {"case_id": package.case_id}}}


def _message_ref(refs: dict[str, Any]) -> tuple[str | None, str | None]:
    """``refs["slack.alert"]`` is ``<channel>:<ts>`` for a live post."""
    channel, _, ts = str(refs.get("slack.alert") or "").partition(":")
    return (channel, ts) if ts and not channel.startswith("dry-run") else (None, None)


def build_update(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """The alert as it stands now (owner, acknowledgement, bug link), to replace the posted one."""
    channel, ts = _message_ref(refs)
    alert = build_alert(package, refs)
    return {**alert, "channel": channel or alert["channel"], "ts": ts}


def build_page(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """A re-escalation page that stands on its own: who is waiting, for what, how long, in which
    language (and whether the person paged speaks it), when the reply is due, and the case link.
    ``refs["page"]`` (who, level, channel) is decided when the step runs."""
    page = refs.get("page") or {}
    channel, ts = _message_ref(refs)
    # From routing: <@U…>, <!here> or <!channel>, never customer text; anything else is shown as text.
    raw = str(page.get("mention") or "")
    who_paged = raw if raw in ROUTING_MENTIONS else escape_keeping_mentions(raw)
    minutes = page.get("waited_minutes")
    who = _safe(package, _who(package), 120)
    account = package.customer.account.name if package.customer and package.customer.account else None
    topic = _safe(package, package.topic, 160)
    waited = f" for {minutes} min" if minutes else ""
    lines = [f"{who_paged} {who}" + (f" ({_safe(package, account, 80)})" if account else "")
             + f" has been waiting{waited} and nobody has taken the case: “{topic}”"]
    lines.append(f"*{escape(package.priority)}* · {_why(package)}"
                 + (f" · waits in {_waiting(package)}" if package.waiting.channel else ""))
    language = _language(package)
    if page.get("speaks") is False:
        lines.append(f"The customer writes in *{language}*; the person paged does not list it: find someone who "
                     "does, or reply with a translation.")
    else:
        lines.append(f"The customer writes in *{language}*.")
    due = owner_line(package, refs)
    if due:
        lines.append(f"{escape(due[:1].upper() + due[1:])}.")
    case_url = link(refs.get("case.url") if isinstance(refs.get("case.url"), str) else None, "Open the case")
    if case_url:
        lines.append(case_url)
    text = "\n".join(lines)
    return {
        "channel": channel or page.get("channel") or (package.route.channel if package.route else None),
        "thread_ts": ts,
        "dm": page.get("member"),
        "broadcast": bool(page.get("final")),
        "level": page.get("level"),
        "text": text[:TEXT_LIMIT],
        "blocks": [_section(text[:SECTION_LIMIT]), _buttons(package, refs)],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def build_ephemeral(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """A private answer to the person who clicked (e.g. "already taken by @X")."""
    note = refs.get("ephemeral") or {}
    text = escape_keeping_mentions(for_channel(str(note.get("text", "")), package.customer))
    return {"channel": note.get("channel"), "user": note.get("user"), "text": text[:TEXT_LIMIT]}


def build_thread(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """A reply in the alert's thread; a drafted customer update comes with an Approve button."""
    note = refs.get("note") or {}
    channel, ts = _message_ref(refs)
    said = escape(for_channel(str(note.get("text", "")), package.customer))
    blocks: list[dict[str, Any]] = [_section(said[:SECTION_LIMIT])]
    if note.get("draft") and note.get("draft_id"):
        draft = escape(for_channel(str(note["draft"]), package.customer))
        blocks.append(_section(("*Draft update for the customer* (sent only when approved):\n>"
                                + draft.replace("\n", "\n>"))[:SECTION_LIMIT]))
        blocks.append({"type": "actions", "block_id": f"case:{package.case_id}", "elements": [
            {"type": "button", "action_id": "approve_update", "style": "primary", "value": str(note["draft_id"]),
             "text": {"type": "plain_text", "text": "Approve update"}}]})
    return {"channel": channel or (package.route.channel if package.route else None), "thread_ts": ts,
            "text": said[:TEXT_LIMIT], "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


def build_followup(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """What the customer added, in the alert's thread; the owner is named while nobody has answered."""
    followup = refs.get("followup") or {}
    unanswered = bool(refs.get("unanswered", True))
    channel, ts = _message_ref(refs)
    owner = package.route.owner_slack_id if package.route else None
    named = f"{mention(owner)} " if owner and unanswered else ""  # ids from routing, never customer text
    heading = followup_heading(followup, unanswered=unanswered, taken=bool(refs.get("taken", False)))
    who = _who(package)
    lines = [for_channel(line, package.customer) for line in followup_lines(followup)]
    quote = "\n".join(">" + line for line in escape("\n".join(lines)).split("\n")) if lines else ""
    text = f"{named}💬 *{_safe(package, who, 120)}* — {escape(heading)}\n{quote}".strip()
    return {"channel": channel or (package.route.channel if package.route else None), "thread_ts": ts,
            "text": text[:TEXT_LIMIT], "blocks": [_section(part) for part in _chunks(text, SECTION_LIMIT)][:10],
            "unfurl_links": False, "unfurl_media": False}
