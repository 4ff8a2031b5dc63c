"""Each conversation judged once into ``CaseFacts``, then linked across cases.

Judging reads one case's row, its report-relevant timeline and its KB suggestion (pure data out;
kept in ``case_facts`` until the case changes, see ``bridge.metrics.cache``). Linking (duplicates,
repeat contacts) spans a customer's cases, so ``gather_span`` links a span's cases with the neighbours
its windows reach, every time.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bridge.events import Event
from bridge.metrics import cache
from bridge.pipeline.completeness import assess
from bridge.store.models import KB_DONE, CaseRow, KbSuggestionRow, TimelineRow

if TYPE_CHECKING:  # the session is only handed on to store functions
    from bridge.store.db import Session

WINDOW = timedelta(days=7)  # reopen and repeat-contact windows
DUPLICATE_WINDOW = timedelta(minutes=30)
TIMELINE_KINDS = ("agent.replied", "ticket.solved", "ticket.reopened", "csat.rated")
_WORD = re.compile(r"[^\W\d_]{4,}", re.U)
_STOP = frozenset((
    "this", "that", "with", "have", "from", "your", "what", "when", "will", "would", "could", "should",
    "there", "their", "about", "please", "thanks", "thank", "hello", "just", "does", "doesn", "dont",
    "cannot", "need", "want", "into", "them", "they", "were", "been",
))


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3× as much, once per case
class CaseFacts:
    """One conversation, judged once. Times in seconds; None when the clock never stopped."""

    id: str
    platform: str
    created_at: datetime
    customer: tuple[str | None, str | None]  # (email lower-cased, platform:customer id)
    proactive: bool = False
    duplicate: bool = False
    escalated: bool = False
    triggers: tuple[str, ...] = ()
    team: str | None = None
    owner: str | None = None
    band: str | None = None
    time_to_ack: float | None = None
    time_to_useful: float | None = None
    solves: tuple[datetime, ...] = ()
    reopened: bool = False  # reopened within 7 days of a solve
    csat: str | None = None
    repeat: bool = False
    reasked: bool = False
    kb_suggested: bool = False
    kb_done: bool = False
    topics: frozenset[str] = field(default_factory=frozenset)
    fingerprint: str | None = None
    words: frozenset[str] = field(default_factory=frozenset)

    @property
    def counted(self) -> bool:
        return not (self.proactive or self.duplicate)

    @property
    def solved(self) -> bool:
        return bool(self.solves)

    @property
    def cohort(self) -> str | None:
        if not self.escalated:
            return None
        if self.reasked or self.reopened or self.repeat:
            return "ai_delayed_customer"
        return "human_fixed_it" if self.solved else "open"

    def value(self, dimension: str) -> tuple[str, ...]:
        if dimension == "trigger":
            return self.triggers
        got = getattr(self, _ATTRIBUTE[dimension]) if dimension in _ATTRIBUTE else None
        return (got,) if got else ()


_ATTRIBUTE = {"platform": "platform", "team": "team", "owner": "owner", "completeness_band": "band"}


# --- judging one case ---------------------------------------------------------------------------

def band(score: int) -> str:
    """Completeness band of a handoff package score (0-100)."""
    return "high" if score >= 80 else "medium" if score >= 50 else "low"


def _slug(text: str | None) -> str | None:
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return slug or None


def topics_of(case: CaseRow, event: Event) -> frozenset[str]:
    """Topic keys: the bot's handoff topic, message intents and the summary's suggested topic."""
    found = {_slug(event.handoff.topic) if event.handoff else None,
             _slug((case.summary or {}).get("suggested_topic"))}
    found |= {_slug(m.intent) for m in event.conversation.messages if m.intent}
    return frozenset(t for t in found if t)


_IDS = re.compile(r"\b[0-9a-f]{8,}\b|\b\d+\b", re.I)


def fingerprint_of(event: Event) -> str | None:
    """Bug fingerprint: first error console line + first failing request (method, path), ids removed."""
    ev = event.evidence
    if ev is None:
        return None
    errors = [c.message for c in ev.console_logs if (c.level or "").lower() in ("error", "fatal") and c.message]
    error = errors[0] if errors else ""
    failing = next((r for r in ev.network_requests if (r.status or 0) >= 400 and r.url), None)
    path = re.sub(r"^[a-z]+://[^/]+", "", failing.url or "").split("?")[0] if failing else ""
    method = (failing.method or "").upper() if failing else ""
    parts = [_IDS.sub("#", error.strip().lower())[:200], f"{method} {_IDS.sub('#', path)}"]
    if not any(p.strip() for p in parts):
        return None
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def words_of(event: Event) -> frozenset[str]:
    texts = " ".join(m.text for m in event.conversation.messages if m.role == "customer")[:2000].lower()
    return frozenset(w for w in _WORD.findall(texts) if w not in _STOP)


def same_issue(a: CaseFacts, b: CaseFacts) -> bool:
    """Same topic key, same bug fingerprint, or (when neither side has either) customer wording with a
    Jaccard similarity of at least 0.3."""
    if a.topics & b.topics or (a.fingerprint and a.fingerprint == b.fingerprint):
        return True
    if (a.topics or a.fingerprint) and (b.topics or b.fingerprint):
        return False
    if not a.words or not b.words:
        return False
    return len(a.words & b.words) / len(a.words | b.words) >= 0.3


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def judge(case: CaseRow, timeline: Sequence[TimelineRow], kb: KbSuggestionRow | None) -> CaseFacts:
    event = Event.from_json(case.event)
    proactive = not any(m.role == "customer" for m in event.conversation.messages)
    solves = tuple(sorted(t.at for t in timeline if t.kind == "ticket.solved"))
    reopens = [t.at for t in timeline if t.kind == "ticket.reopened"]
    ratings = sorted((t for t in timeline if t.kind == "csat.rated"), key=lambda t: (t.at, t.id))
    score = ratings[-1].detail.get("score") if ratings else None
    escalated = case.escalated_at is not None
    return CaseFacts(
        id=case.id, platform=case.platform, created_at=case.created_at,
        customer=((case.customer_email or "").strip().lower() or None,
                  f"{case.platform}:{case.customer_id}" if case.customer_id else None),
        proactive=proactive,
        escalated=escalated,
        triggers=tuple(case.triggers or ()) if escalated else (),
        team=case.team if escalated else None,
        owner=case.owner if escalated else None,
        band=band(assess(event, list(case.triggers or [])).score) if escalated else None,
        time_to_ack=_seconds(case.escalated_at, case.acknowledged_at),
        time_to_useful=_seconds(case.escalated_at, case.first_response_at),
        solves=solves,
        reopened=any(s <= r <= s + WINDOW for r in reopens for s in solves),
        csat=score if score in ("good", "bad") else None,
        reasked=any(t.kind == "agent.replied" and t.detail.get("reasked") for t in timeline),
        kb_suggested=kb is not None,
        kb_done=kb is not None and kb.status == KB_DONE,
        topics=topics_of(case, event),
        fingerprint=fingerprint_of(event),
        words=words_of(event),
    )


def _link(facts: list[CaseFacts]) -> list[CaseFacts]:
    """Mark duplicates and repeat contacts.

    Duplicate: of conversations by the same customer that started within 30 minutes of each other,
    one counts — the first that escalated, or the first if none did; the others are duplicates.
    Repeat contact: the same customer starts another conversation (any platform, duplicates
    included) within 7 days after a solve of this case's ticket, about the same issue.
    """
    # Per customer key, that customer's conversations by start time: each question below looks
    # only at the ones inside its time window (a customer with thousands of conversations would
    # otherwise cost thousands squared comparisons).
    by_customer: dict[str, list[int]] = {}
    for i, f in enumerate(facts):
        for key in f.customer:
            if key:
                by_customer.setdefault(key, []).append(i)
    starts: dict[str, list[datetime]] = {}
    for key, members in by_customer.items():
        members.sort(key=lambda j: facts[j].created_at)
        starts[key] = [facts[j].created_at for j in members]

    def within(key: str, low: datetime, high: datetime) -> list[int]:
        """That customer's conversations started in [low, high]."""
        times = starts[key]
        return by_customer[key][bisect_left(times, low):bisect_right(times, high)]

    def rank(c: CaseFacts) -> tuple[bool, datetime, str]:
        return (not c.escalated, c.created_at, c.id)

    out = list(facts)
    for i, f in enumerate(facts):
        keys = [key for key in f.customer if key]
        if not (f.duplicate or f.repeat) and all(len(by_customer[key]) == 1 for key in keys):
            continue  # the customer's only conversation: nothing to link it to
        near = {j for key in keys
                for j in within(key, f.created_at - DUPLICATE_WINDOW, f.created_at + DUPLICATE_WINDOW)}
        duplicate = any(j != i and rank(facts[j]) < rank(f) for j in near)
        later = {j for s in f.solves for key in keys for j in within(key, s, s + WINDOW)
                 if facts[j].created_at > s}
        repeat = any(j != i and same_issue(f, facts[j]) for j in later)
        if (duplicate, repeat) != (f.duplicate, f.repeat):
            out[i] = replace(f, duplicate=duplicate, repeat=repeat)
    return out


_TICK = timedelta(microseconds=1)


def gather_span(session: Session, first: datetime, last: datetime) -> list[CaseFacts]:
    """Linked facts of the conversations started in [first, last). Read are only the neighbours
    their linking looks at: 30 minutes either side, and the 7 days after each of their solves."""
    reach = last + DUPLICATE_WINDOW
    upper = reach + _TICK  # ``_link``'s windows include both ends
    facts = cache.facts_since(session, first - DUPLICATE_WINDOW, TIMELINE_KINDS, judge, CaseFacts, upper)
    latest = max((s for f in facts if first <= f.created_at < last for s in f.solves), default=None)
    if latest is not None and latest + WINDOW > reach:
        facts += cache.facts_since(session, upper, TIMELINE_KINDS, judge, CaseFacts, latest + WINDOW + _TICK)
    return [f for f in _link(facts) if first <= f.created_at < last]

