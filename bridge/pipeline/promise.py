"""The reply time the customer is promised, said correctly in their language and shown to the owner.

When a person takes the case the bot tells the customer "Ana will reply within 1 hour"; the owner
sees the same promise, as a clock time, in Slack and on the ticket, so it is kept. The time comes
from the customer's SLA when it names one (``premium-1h``, ``gold-30m``), else from the priority.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bridge.events import Package

# Minutes to a first reply by priority, unless the customer's SLA names a tighter one.
REPLY_MINUTES = {"urgent": 15, "high": 60, "normal": 240, "low": 1440}
# (singular, plural) per unit; Japanese has no plural and no space.
UNITS = {
    "en": (("minute", "minutes"), ("hour", "hours")),
    "es": (("minuto", "minutos"), ("hora", "horas")),
    "de": (("Minute", "Minuten"), ("Stunde", "Stunden")),
    "fr": (("minute", "minutes"), ("heure", "heures")),
    "pt": (("minuto", "minutos"), ("hora", "horas")),
    "it": (("minuto", "minuti"), ("ora", "ore")),
    "nl": (("minuut", "minuten"), ("uur", "uur")),
    "ja": (("分", "分"), ("時間", "時間")),
}


def reply_minutes(package: Package) -> int:
    """From an SLA named like ``premium-1h`` or ``gold-30m`` when present, else from the priority."""
    default = REPLY_MINUTES.get(package.priority, 240)
    account = package.customer.account if package.customer else None
    match = re.search(r"(\d+)\s*(h|m)\b", account.sla or "") if account else None
    if match:
        minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
        return min(default, minutes) if minutes > 0 else default
    return default


def within(minutes: int, language: str = "en") -> str:
    """``1 hour``, ``2 hours``, ``1 hora``, ``30 Minuten``, ``1時間``: the number and its unit, agreed."""
    minute, hour = UNITS.get(language, UNITS["en"])
    count, (one, many) = (minutes // 60, hour) if minutes >= 60 and minutes % 60 == 0 else (minutes, minute)
    unit = one if count == 1 else many
    return f"{count}{unit}" if language == "ja" else f"{count} {unit}"


def due_at(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)


def _when(at: datetime, since: datetime | None) -> str:
    stamp = at.strftime("%H:%M UTC")
    return stamp if since is None or at.date() == since.date() else at.strftime("%a %d %b %H:%M UTC")


def owner_line(package: Package, refs: dict[str, object]) -> str | None:
    """For the owner: "reply due by 10:47 UTC (the customer was told: within 1 hour)", or, before
    anyone took the case, the target from the escalation time. None when the times are unknown."""
    minutes = reply_minutes(package)
    taken = _parse(refs.get("case.acknowledged_at"))
    escalated = _parse(refs.get("case.escalated_at"))
    if taken is not None and package.route and package.route.acknowledged:
        return (f"reply due by {_when(due_at(taken, minutes), taken)} "
                f"(the customer was told: within {within(minutes)})")
    if escalated is not None:
        return f"reply due by {_when(due_at(escalated, minutes), escalated)} (target: within {within(minutes)})"
    return None


def _parse(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
