"""Where the customer is waiting for the human, and where the reply has to go.

A WhatsApp customer told "an agent will answer you here" and then answered by e-mail has been
failed twice. The package says which channel the conversation is on, links to the live
conversation, whether the bot told the customer to wait there (with its words), and so where the
first human reply belongs. Pure: derived from the event alone.
"""

from __future__ import annotations

import re

from bridge.events import Event, Waiting

LABELS = {
    "web_chat": "web chat", "webchat": "web chat", "web": "web chat", "chat": "chat", "livechat": "web chat",
    "in_app": "in-app chat", "inapp": "in-app chat", "mobile": "in-app chat", "email": "e-mail", "mail": "e-mail",
    "voice": "phone call (voice)", "phone": "phone call (voice)", "ivr": "phone call (voice)",
    "whatsapp": "WhatsApp", "sms": "SMS", "messenger": "Facebook Messenger", "facebook": "Facebook Messenger",
    "instagram": "Instagram", "telegram": "Telegram", "line": "LINE", "wechat": "WeChat", "viber": "Viber",
    "slack": "Slack", "teams": "Microsoft Teams", "apple_business_chat": "Apple Messages", "rcs": "RCS",
}
MESSAGING = {"whatsapp", "sms", "messenger", "facebook", "instagram", "telegram", "line", "wechat", "viber",
             "apple_business_chat", "rcs"}
LIVE_CHAT = {"web_chat", "webchat", "web", "chat", "livechat", "in_app", "inapp", "mobile", "slack", "teams"}

# The bot told the customer a person will answer in this same conversation.
_HERE = re.compile(
    r"(?i)\b(?:(?:reply|respond|answer|join|write|get back to you|be with you)\w*\s+(?:to you\s+)?(?:right\s+)?here"
    r"|here in (?:this|the) (?:chat|conversation)|in this (?:chat|conversation|thread)|(?:stay|wait) (?:here|on this)"
    r"|join (?:this|the|your) (?:chat|conversation)"
    r"|aqu[ií] mismo|en este chat|por este (?:medio|chat)|(?:responder[aá]|contestar[aá]|escribir[aá])\w* aqu[ií]"
    r"|espera aqu[ií]|hier im chat|in diesem chat|hier (?:antworten|melden)|ici m[eê]me|dans (?:ce|cette) "
    r"(?:chat|conversation)|vous r[ée]pondr[ao] ici|aqui mesmo|neste chat|responder[aá] aqui|qui in chat"
    r"|in questa chat|risponder[àa] qui|hier in de chat|in deze chat)\b"
    r"|このチャット|こちらのチャット|こちらで(?:ご)?(?:回答|返信|連絡)"
)
_EMAIL = re.compile(
    r"(?i)\b(?:by|via|per|over) e-?mail\b|\bper e-?mail\b|\bpor (?:correo|e-?mail)\b|\bpar (?:e-?mail|courriel)\b"
    r"|\bper posta elettronica\b|メールで"
)
_CALL = re.compile(
    r"(?i)\bcall (?:you|him|her) back\b|\bcall ?back\b|\brückruf|\brappeler?\b|\bllamar(?:le|te)\b|折り返し"
)


def _label(channel: str) -> str:
    return LABELS.get(channel.lower(), channel.replace("_", " "))


def where_customer_waits(event: Event) -> Waiting:
    conversation = event.conversation
    channel = (conversation.channel or "").strip()
    key = channel.lower()
    said_here = said_email = said_call = None
    for message in conversation.messages:
        if message.role not in ("bot", "system", "agent"):
            continue
        if _HERE.search(message.text):
            said_here = message.text
        if _EMAIL.search(message.text):
            said_email = message.text
        if _CALL.search(message.text):
            said_call = message.text
    if key in ("voice", "phone", "ivr") or (said_call and not said_here):
        reply = "phone"
    elif key in ("email", "mail"):
        reply = "email"
    elif said_here or key in MESSAGING:
        reply = key or "chat"
    elif said_email:
        reply = "email"
    elif key in LIVE_CHAT:
        reply = key
    else:
        reply = key or "unknown"
    quote = said_here or said_email or said_call
    return Waiting(
        channel=channel or None,
        label=_label(channel) if channel else "unknown channel",
        url=conversation.url,
        reply_via=reply,
        reply_label="a phone call" if reply == "phone" else ("e-mail" if reply == "email" else
                                                            (_label(reply) if reply != "unknown" else "the ticket")),
        told_to_wait_here=bool(said_here),
        told_reply_by_email=bool(said_email),
        bot_said=" ".join(quote.split())[:300] if quote else None,
    )


def waiting_text(waiting: Waiting) -> str:
    """For the ticket and the bug: where to answer, in one short paragraph."""
    lines = [f"Channel: {waiting.label}" + (f" ({waiting.channel})" if waiting.channel and
                                            waiting.channel != waiting.label else "")
             if waiting.channel else "Channel: not given by the bot platform"]
    if waiting.url:
        lines.append(f"Live conversation: {waiting.url}")
    if waiting.told_to_wait_here:
        lines.append(f"The bot told the customer a person would answer there: \u201c{waiting.bot_said}\u201d")
    elif waiting.bot_said:
        lines.append(f"The bot told the customer: \u201c{waiting.bot_said}\u201d")
    if waiting.reply_via == "phone":
        lines.append("Reply by calling the customer back (the number is in the customer section).")
    elif waiting.reply_via == "email":
        lines.append("Reply by e-mail on this ticket.")
    elif waiting.reply_via in MESSAGING:
        lines.append(f"Reply in {waiting.reply_label} (link above), not by e-mail: that is where the customer "
                     "is waiting.")
    elif waiting.reply_via != "unknown":
        lines.append(f"Reply in the {waiting.reply_label} (link above)" + (
            ": the customer was told to wait there; e-mail only if they have left." if waiting.told_to_wait_here
            else " if the customer is still there, otherwise by e-mail."))
    return "\n".join(lines)
