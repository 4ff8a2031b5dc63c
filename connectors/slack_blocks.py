"""Slack Block Kit builders (pure): the alert that makes one named person own the case, the DM to
that person, the in-place update when ownership or the bug changes, and re-escalation pages.

Customer, bot and LLM text is escaped (``& < >``) so ``<!channel>``, ``<@U123>`` and masked links
``<https://evil|Reset>`` render as text; ``link_names`` is never set and unfurls are off. Slack
caps a section's text at 3,000 characters and a message at 50 blocks; long sections are split
and the transcript, last in the message, gives way first (the full one is in the ticket).
"""

from __future__ import annotations

from typing import Any

from bridge.events import Package
from bridge.pipeline.promise import owner_line
from bridge.pipeline.render import clean, followup_heading, followup_lines, sections

SECTION_LIMIT = 3_000
MAX_BLOCKS = 50
TEXT_LIMIT = 3_000


def escape(text: str) -> str:
    """Slack mrkdwn control characters; customer text is never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
        promise = owner_line(package, refs or {}) if route.acknowledged else None
        return (f"<@{route.owner_slack_id}>{state} ({escape(route.team_name or route.team)})"
                + (f"\n{escape(promise)}" if promise else ""))
    return f"*No one on shift* in {escape(route.team_name or route.team)}: first to take it owns it"


def _live(package: Package, refs: dict[str, Any]) -> str | None:
    """'Live — join now' when the customer is still there and someone is on shift to join."""
    if not refs.get("live") or package.route is None or package.route.no_one_on_shift:
        return None
    url = package.conversation.url
    return f"🟢 *Live — join now*: the customer is still in the conversation{f' (<{url}|open it>)' if url else ''}"


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


def build_alert(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    triggers = ", ".join(package.decision.trigger_ids) or "handoff"
    who = _who(package)
    conversation = clean(package.conversation.id)[:200]
    text = f"[{package.priority}] {who} needs a human ({triggers}), {package.platform} conversation"
    blocks: list[dict[str, Any]] = [
        # plain_text headers cannot carry mentions or links at all.
        {"type": "header", "text": {"type": "plain_text", "text": f"{who} needs a human"[:150]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Owner*\n{_owner(package, refs)}"},
            {"type": "mrkdwn", "text": f"*Priority*\n{escape(package.priority)}"},
            {"type": "mrkdwn", "text": f"*Triggers*\n{escape(triggers)}"},
            {"type": "mrkdwn", "text": f"*Completeness*\n{package.completeness.score}/100"},
            {"type": "mrkdwn", "text": f"*Conversation*\n{escape(f'{package.platform} {conversation}')}"},
        ]},
    ]
    live = _live(package, refs)
    if live:
        blocks.append(_section(live))
    blocks.append(_buttons(package, refs))
    ticket = refs.get("zendesk.ticket")
    footer_text = f"Case {package.case_id}" + (f" · Ticket: {ticket}" if ticket else "")
    footer = {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(footer_text[:1000])}]}
    body_blocks: list[dict[str, Any]] = []
    for title, body in sections(package):
        header = f"*{escape(title)}*\n"
        chunks = _chunks(escape(body), SECTION_LIMIT - len(header))
        body_blocks += [_section((header if i == 0 else "") + chunk) for i, chunk in enumerate(chunks)]
    room = MAX_BLOCKS - len(blocks) - 2  # keep space for the "more" note and the footer
    if len(body_blocks) > room:
        body_blocks = [*body_blocks[:room], _section("_… more in the ticket (Slack message size limit)._")]
    blocks += [*body_blocks, footer]
    return {
        "channel": package.route.channel if package.route else None,
        "text": escape(text)[:TEXT_LIMIT],
        "blocks": blocks[:MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": "bridge_case", "event_payload": {"case_id": package.case_id}},
    }


def build_dm(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """The same alert, straight to the owner (posting to a user id opens the DM)."""
    alert = build_alert(package, refs)
    owner = package.route.owner_slack_id if package.route else None
    return {**alert, "channel": owner, "metadata": {"event_type": "bridge_case_dm",
                                                   "event_payload": {"case_id": package.case_id}}}


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
    """A re-escalation page; ``refs["page"]`` (who, level, channel) is decided when the step runs."""
    page = refs.get("page") or {}
    channel, ts = _message_ref(refs)
    mention = page.get("mention", "")  # from routing: <@U…>, <!here> or <!channel>, never customer text
    minutes = page.get("waited_minutes")
    text = (f"{mention} nobody has taken this case yet"
            + (f" after {minutes} min" if minutes else "")
            + f" ({escape(package.priority)}, {escape(', '.join(package.decision.trigger_ids) or 'handoff')}).")
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
    return {"channel": note.get("channel"), "user": note.get("user"), "text": str(note.get("text", ""))[:TEXT_LIMIT]}


def build_thread(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """A reply in the alert's thread; a drafted customer update comes with an Approve button."""
    note = refs.get("note") or {}
    channel, ts = _message_ref(refs)
    blocks: list[dict[str, Any]] = [_section(escape(str(note.get("text", "")))[:SECTION_LIMIT])]
    if note.get("draft") and note.get("draft_id"):
        blocks.append(_section(("*Draft update for the customer* (sent only when approved):\n>"
                                + escape(str(note["draft"])).replace("\n", "\n>"))[:SECTION_LIMIT]))
        blocks.append({"type": "actions", "block_id": f"case:{package.case_id}", "elements": [
            {"type": "button", "action_id": "approve_update", "style": "primary", "value": str(note["draft_id"]),
             "text": {"type": "plain_text", "text": "Approve update"}}]})
    return {"channel": channel or (package.route.channel if package.route else None), "thread_ts": ts,
            "text": escape(str(note.get("text", "")))[:TEXT_LIMIT], "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


def build_followup(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """What the customer added, in the alert's thread; the owner is named while nobody has answered."""
    followup = refs.get("followup") or {}
    unanswered = bool(refs.get("unanswered", True))
    channel, ts = _message_ref(refs)
    owner = package.route.owner_slack_id if package.route else None
    mention = f"<@{owner}> " if owner and unanswered else ""  # ids from routing, never customer text
    heading = followup_heading(followup, unanswered=unanswered, taken=bool(refs.get("taken", False)))
    who = _who(package)
    lines = followup_lines(followup)
    quote = "\n".join(">" + line for line in escape("\n".join(lines)).split("\n")) if lines else ""
    text = f"{mention}💬 *{escape(who)}* — {escape(heading)}\n{quote}".strip()
    return {"channel": channel or (package.route.channel if package.route else None), "thread_ts": ts,
            "text": text[:TEXT_LIMIT], "blocks": [_section(part) for part in _chunks(text, SECTION_LIMIT)][:10],
            "unfurl_links": False, "unfurl_media": False}
