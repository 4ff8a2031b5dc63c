"""Reading product evidence the way an engineer would: which requests explain the failure, whether
the evidence proves a product failure (so a bug is filed), the steps in the order they happened,
and the customer's earlier tickets.

A status code alone hides the decisive clues: a ``302`` whose ``Location`` carries
``error=sso_state_mismatch``, a status endpoint answering ``200 {"status": "operational"}`` with a
``last_sync_at`` three days old and 18,734 queued records, a sync answering ``200`` with
``"tombstoned": 1843``. Each request is kept with the reason it matters. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from bridge.events import Event, Evidence, NetworkRequest
from bridge.pipeline.window import window

STALE_AFTER = timedelta(hours=24)
BIG_QUEUE = 1000
_ERROR_PARAM = re.compile(r"(?i)[?&#](error|error_description|error_code|err|failure|reason)=([^&#\s\"']+)")
_TIMESTAMP_FIELD = re.compile(
    r"(?i)\"?([\w.-]*(?:last|updated|synced|sync_at|heartbeat|checked|processed)[\w.-]*)\"?\s*[:=]\s*\"?"
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_BAD_STATE = re.compile(
    r"(?i)\"?(?:status|state|health)\"?\s*[:=]\s*\"?(degraded|down|outage|failed|failing|error|stale|paused|stuck|"
    r"unhealthy|partial_outage|major_outage|timeout)\b"
)
_COUNT_FIELD = re.compile(
    r"(?i)\"?([\w.-]*(?:queue|queued|backlog|pending|lag|tombstoned|deleted|dropped|failed|errors?|rejected)"
    r"[\w.-]*)\"?\s*[:=]\s*(\d+)"
)
_EMPTY = re.compile(r"(?i)\"(?:items|results|data|records|shifts|rows)\"\s*:\s*\[\s*\]|\"(?:total|count)\"\s*:\s*0\b")
_ERROR_IN_BODY = re.compile(r"(?i)\"(?:error|errors|code|error_code)\"\s*:\s*(?!null|\[\]|\{\}|false|0\b)")


@dataclass(frozen=True)
class Telling:
    """A request that explains the failure, and why (for the bug, the ticket and the alert)."""

    request: NetworkRequest
    why: str
    failing: bool  # no answer or an error status (not a 2xx/3xx whose content tells the story)


def reference_time(event: Event) -> datetime | None:
    """The event's own clock: when the customer reported it (never the time the bridge runs)."""
    stamps = [m.sent_at for m in event.conversation.messages if m.sent_at]
    if event.occurred_at:
        stamps.append(event.occurred_at)
    return max(stamps) if stamps else None


def _parse(stamp: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} hours"


def _why(r: NetworkRequest, now: datetime | None) -> tuple[str, bool] | None:
    excerpt = r.response_excerpt or ""
    reasons: list[str] = []
    failing = r.status is None or r.status >= 400
    if r.status is None:
        reasons.append("no response")
    elif r.status >= 500:
        reasons.append(f"server error {r.status}")
    elif r.status >= 400:
        reasons.append(f"refused with {r.status}")
    if r.status is not None and 300 <= r.status < 400 or "location:" in excerpt.lower():
        target = excerpt.split(":", 1)[1].strip() if excerpt.lower().startswith("location:") else excerpt
        found = _ERROR_PARAM.findall(target) or _ERROR_PARAM.findall(r.url or "")
        if found:
            reasons.append("redirect carrying " + ", ".join(f"{k}={unquote(v)}" for k, v in found[:3]))
    elif r.status is not None and r.status < 300 and _ERROR_PARAM.search(r.url or ""):
        query = parse_qs(urlsplit(r.url or "").query)
        shown = [f"{k}={v[0]}" for k, v in query.items() if k.lower() in ("error", "error_description", "err")]
        if shown:
            reasons.append("page shown with " + ", ".join(shown[:2]))
    state = _BAD_STATE.search(excerpt)
    if state:
        reasons.append(f"reports {state.group(1)}")
    if now is not None:
        for name, stamp in _TIMESTAMP_FIELD.findall(excerpt):
            when = _parse(stamp)
            if when and "next" not in name.lower() and now - when > STALE_AFTER:
                reasons.append(f"{name} {stamp} is {_age(now - when)} old at the time of the report")
    for name, value in _COUNT_FIELD.findall(excerpt):
        count = int(value)
        low = name.lower()
        lost = any(word in low for word in ("tombstoned", "deleted", "dropped", "rejected")) and count > 0
        piling = any(word in low for word in ("queue", "backlog", "pending", "lag")) and count >= BIG_QUEUE
        if lost or piling:
            reasons.append(f"{name}: {count}")
    if r.status is not None and r.status < 300 and not failing:
        if _EMPTY.search(excerpt) and (r.method or "GET").upper() == "GET":
            reasons.append("returns nothing")
        elif _ERROR_IN_BODY.search(excerpt) and not reasons:
            reasons.append("answer carries an error")
    healthy = re.search(r"(?i)\"?(?:status|state|health)\"?\s*[:=]\s*\"?(operational|ok|healthy|running|up)\b", excerpt)
    if healthy and reasons and not failing:
        return f"says {healthy.group(1)}, but " + "; ".join(reasons), failing
    return ("; ".join(reasons), failing) if reasons else None


def telling_requests(evidence: Evidence | None, now: datetime | None = None) -> list[Telling]:
    """Every captured request that explains the failure, in the order captured."""
    if evidence is None:
        return []
    found = []
    for request in evidence.network_requests:
        why = _why(request, now)
        if why is not None:
            found.append(Telling(request, why[0], why[1]))
    return found


def failure_evidence(event: Event) -> list[str]:
    """Why the evidence proves a product failure (a bug to file), or nothing. An empty answer or a
    screenshot alone proves nothing; an error in the console, a failing or error-carrying request,
    an outage signal or reproduction steps captured by the bot do."""
    ev = event.evidence
    if ev is None:
        return []
    reasons = []
    errors = [c for c in ev.console_logs if (c.level or "").lower() in ("error", "fatal", "critical")]
    if errors:
        reasons.append(f"console error: {(errors[0].message or '')[:120]}")
    for told in telling_requests(ev, reference_time(event)):
        if told.why != "returns nothing":
            reasons.append(f"{(told.request.method or 'GET').upper()} {told.request.url} → "
                           f"{told.request.status or 'no response'}: {told.why}")
    if ev.steps_to_reproduce:
        reasons.append("the bot captured steps to reproduce")
    return reasons


# --- earlier tickets ------------------------------------------------------------------------------

_TICKET_REF = re.compile(
    r"(?i)\b(?:ticket|case|request|support request|caso|solicitud|anfrage|fall|vorgang|dossier|demande|chamado|"
    r"pedido de suporte|richiesta|pratica|melding)\s*(?:number|no\.?|nr\.?|n[º°o]\.?|id)?\s*[:#]?\s*#?(\d{3,10})\b"
    r"|チケット\s*[#＃]?\s*(\d{3,10})"
)
_TICKET_KEYS = re.compile(r"(?i)(?:previous|earlier|last|open|related|zendesk)_?tickets?(?:_ids?)?$")


def earlier_tickets(event: Event) -> list[str]:
    """Ticket numbers the customer (or the bot's profile) points to: "I opened ticket #48211"."""
    found: list[str] = []
    for message in event.conversation.messages:
        if message.role != "customer":
            continue
        for match in _TICKET_REF.finditer(window(message.text)):
            number = match.group(1) or match.group(2)
            if number and number not in found:
                found.append(number)
    attributes = event.customer.attributes if event.customer else {}
    for key, value in attributes.items():
        if _TICKET_KEYS.search(str(key)):
            for number in re.findall(r"\d{3,10}", str(value)):
                if number not in found:
                    found.append(number)
    return found[:10]


# --- steps, in the order they happened --------------------------------------------------------------

def _clock(stamp: str | datetime | None) -> str:
    if stamp is None:
        return ""
    when = stamp if isinstance(stamp, datetime) else _parse(str(stamp))
    return f"[{when.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC] " if when else f"[{stamp}] "


def session_steps(evidence: Evidence | None, now: datetime | None = None) -> list[str]:
    """What happened in the session, ordered: the page, every request as captured (the ones that
    explain the failure marked), then console warnings and errors by their timestamps (requests keep
    their captured order: the schema gives them no time)."""
    ev = evidence
    if ev is None:
        return []
    telling = {id(t.request): t for t in telling_requests(ev, now)}
    steps: list[str] = []
    if ev.page_url:
        steps.append(f"Open {ev.page_url}")
    for r in ev.network_requests[:30]:
        line = f"{(r.method or 'GET').upper()} {r.url or '?'} → {r.status or 'no response'}"
        if r.duration_ms is not None:
            line += f" in {r.duration_ms:.0f} ms"
        told = telling.get(id(r))
        if told:
            line += f"  ◀ {told.why}"
        if r.response_excerpt and (told or (r.status or 0) >= 300):
            line += f"\n   response: {' '.join(r.response_excerpt.split())[:300]}"
        steps.append(line)
    logged = [c for c in ev.console_logs if (c.level or "").lower() in ("warn", "warning", "error", "fatal",
                                                                         "critical")]
    latest = datetime.max.replace(tzinfo=UTC)
    timed = sorted((c for c in logged if c.at), key=lambda c: _parse(c.at or "") or latest)
    for c in [*timed, *(c for c in logged if not c.at)][:15]:
        steps.append(f"{_clock(c.at)}console {c.level}: {' '.join((c.message or '').split())[:300]}")
    return steps


def stamped(at: datetime | None) -> str:
    return _clock(at)
