"""Priority from what the engine found and who the customer is, with a reason a human can check.

Start from the most pressing trigger, then step up for the account's weight (enterprise plan, high
MRR, a premium SLA, a renewal within 30 days) and for churn signals. Every step is written into the
one-line reason ("high: product_bug (normal) +1 plan enterprise +1 MRR 12,000 USD ≥ 5,000"), so the
agent can disagree with a specific rule rather than with a black box. LLM output never feeds in.
"""

from __future__ import annotations

import re
from datetime import date

from bridge.events import Decision, Event, Priority

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


def prioritize(event: Event, decision: Decision) -> tuple[Priority, str]:
    triggers = decision.trigger_ids
    if triggers:
        lead = max(triggers, key=lambda t: LEVELS.index(BASE.get(t, "normal")))
        level = LEVELS.index(BASE.get(lead, "normal"))
        steps = [f"{lead} ({LEVELS[level]})"]
    else:
        level, steps = 1, ["no trigger (normal)"]

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
    if churn:
        level += 1
        where = f" at message {churn.message_index}" if churn.message_index else ""
        steps.append(f"+1 churn threat{where}")

    # Steps add up but saturate: a lone low_confidence miss on a free plan stays low, an angry
    # customer alone is high, and urgent takes a pressing trigger plus weight (account or churn).
    level = max(0, min(level, len(LEVELS) - 1))
    priority = LEVELS[level]
    return priority, f"{priority}: " + " ".join(steps)
