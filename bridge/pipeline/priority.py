"""Priority from what the engine found and who the customer is, with a reason a human can check.

Start from the most pressing trigger, then step up for the account's weight (enterprise plan, high
MRR, a premium SLA, a renewal within 30 days) and for churn signals. Every step is written into the
one-line reason ("high: product_bug (normal) +1 plan enterprise +1 MRR 12,000 USD ≥ 5,000"), so the
agent can disagree with a specific rule rather than with a black box. LLM output never feeds in.

The platform's own signals count too. A customer message the platform scored at or below
``NEGATIVE_SENTIMENT`` weighs like the ``negative_sentiment`` trigger (it can lead, and a churn word in
it adds the churn step): "high: Dialogflow CX sentiment −0.9 at message 1 (high)". A priority the
platform attached to its hand-off is a floor, applied last: "high: product_bug (normal) ≥ high Bot
Framework handoff priority".
"""

from __future__ import annotations

import re
from datetime import date

from bridge.events import Decision, Event, Message, Priority

LEVELS: tuple[Priority, ...] = ("low", "normal", "high", "urgent")

BASE: dict[str, Priority] = {
    "negative_sentiment": "high",
    "billing_exception": "high",
    "product_bug": "normal",
    "customer_requested_human": "normal",
    "bot_handoff": "normal",
    "low_confidence": "low",
}
TOP_PLANS = ("enterprise", "business", "premium", "platinum", "vip", "scale")
TOP_SLAS = ("enterprise", "premium", "platinum", "gold", "24x7", "24/7", "priority", "1h", "1 hour")
HIGH_MRR = 1_000.0
VERY_HIGH_MRR = 5_000.0
RENEWAL_DAYS = 30
NEGATIVE_SENTIMENT = -0.6  # a platform sentiment at or below this weighs like negative_sentiment
PLATFORM_NAMES = {
    "dialogflow-cx": "Dialogflow CX",
    "amazon-lex-v2": "Amazon Lex V2",
    "rasa": "Rasa",
    "botframework": "Bot Framework",
    "chatwoot": "Chatwoot",
    "intercom": "Intercom",
    "sunshine-conversations": "Sunshine Conversations",
}
# Churn threats in the evidence the engine recorded (it saw the whole conversation, in any language).
_CHURN = re.compile(
    r"(?i)cancel|churn|switch(?:ing)? to|competitor|lawyer|legal|chargeback|"
    r"cancelar|kündig|résili|annuler|disdire|opzeggen|解約"
)


def _today(event: Event) -> date | None:
    """The event's own clock, so the function stays pure and replays give the same answer."""
    if event.occurred_at:
        return event.occurred_at.date()
    stamps = [m.sent_at for m in event.conversation.messages if m.sent_at]
    return max(stamps).date() if stamps else None


def _money(value: float, currency: str | None) -> str:
    return f"{value:,.0f} {currency or ''}".strip()


def _platform(event: Event) -> str:
    slug = event.bot.platform if event.bot and event.bot.platform else ""
    return PLATFORM_NAMES.get(slug, slug or "platform")


def _score(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".").replace("-", "−")


def _negative_message(event: Event) -> tuple[int, Message] | None:
    """The customer message the platform scored most negative, if at or below the line."""
    scored = [(index, m) for index, m in enumerate(event.conversation.messages, start=1)
              if m.role == "customer" and m.sentiment is not None and m.sentiment <= NEGATIVE_SENTIMENT]
    return min(scored, key=lambda pair: (pair[1].sentiment, -pair[0])) if scored else None


def prioritize(event: Event, decision: Decision) -> tuple[Priority, str]:
    triggers = decision.trigger_ids
    negative = _negative_message(event)
    if triggers:
        lead = max(triggers, key=lambda t: LEVELS.index(BASE.get(t, "normal")))
        level = LEVELS.index(BASE.get(lead, "normal"))
        steps = [f"{lead} ({LEVELS[level]})"]
    else:
        lead, level, steps = None, 1, ["no trigger (normal)"]
    if negative:
        # Weighs like the negative_sentiment trigger: it leads unless a trigger is more pressing, and
        # on a tie both are named.
        index, message = negative
        felt = LEVELS.index(BASE["negative_sentiment"])
        signal = f"{_platform(event)} sentiment {_score(message.sentiment or 0.0)} at message {index}"
        if felt > level or lead is None:
            level, steps = felt, [f"{signal} ({LEVELS[felt]})"]
        elif felt == level:
            steps = [f"{lead}, {signal} ({LEVELS[level]})"]

    customer = event.customer
    account = customer.account if customer else None
    plan = (customer.plan or "").lower() if customer else ""
    sla = (account.sla or "").lower() if account else ""
    if plan and any(p in plan for p in TOP_PLANS):
        level += 1
        steps.append(f"+1 plan {customer.plan}")  # type: ignore[union-attr]
    if account and account.mrr is not None:
        if account.mrr >= VERY_HIGH_MRR:
            level += 1
            steps.append(f"+1 MRR {_money(account.mrr, account.currency)} ≥ {VERY_HIGH_MRR:,.0f}")
        elif account.mrr >= HIGH_MRR and not any(p in plan for p in TOP_PLANS):
            level += 1
            steps.append(f"+1 MRR {_money(account.mrr, account.currency)} ≥ {HIGH_MRR:,.0f}")
    if sla and any(s in sla for s in TOP_SLAS):
        level += 1
        steps.append(f"+1 SLA {account.sla}")  # type: ignore[union-attr]
    today = _today(event)
    if account and account.renewal_date and today:
        days = (account.renewal_date - today).days
        if 0 <= days <= RENEWAL_DAYS:
            level += 1
            steps.append(f"+1 renewal in {days} days ({account.renewal_date.isoformat()})")
    churn = next(
        (h for h in decision.triggers if h.trigger == "negative_sentiment" and _CHURN.search(h.evidence)), None
    )
    if churn or (negative and _CHURN.search(negative[1].text)):
        level += 1
        at = churn.message_index if churn else negative[0] if negative else None
        steps.append(f"+1 churn threat at message {at}" if at else "+1 churn threat")

    # Steps add up but saturate: a lone low_confidence miss on a free plan stays low, an angry
    # customer alone is high, and urgent takes a pressing trigger plus weight (account or churn).
    level = max(0, min(level, len(LEVELS) - 1))
    floor = event.handoff.priority if event.handoff else None
    if floor:
        level = max(level, LEVELS.index(floor))
        steps.append(f"≥ {floor} {_platform(event)} handoff priority")
    priority = LEVELS[level]
    return priority, f"{priority}: " + " ".join(steps)
