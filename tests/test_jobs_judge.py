"""The worker with the LLM judge (BRIDGE_JUDGE=llm|both): asked outside the case's transaction, its
verdict applied only to the case and transcript it judged, and the local judge deciding when it fails."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bridge import create_app
from bridge.config import Settings
from bridge.events import Decision, Event
from bridge.pipeline import llm_judge, triggers
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.store.models import ESCALATED, OPEN, PROCESSED, CaseRow
from bridge.worker import jobs
from tests.helpers import generic_event, post_generic
from tests.openai_stub import Reply, Stub, running_stub

MESSAGES = [
    {"id": "m1", "role": "customer", "text": "The export has been broken for days and nobody cares!"},
    {"id": "m2", "role": "bot", "text": "Sorry, I could not find an answer.", "confidence": 0.2},
    {"id": "m3", "role": "customer", "text": "Can I talk to a person please?"},
]
ANGRY = {"id": "negative_sentiment", "message": 1, "quote": "nobody cares"}


@pytest.fixture
def stub() -> Iterator[Stub]:
    with running_stub() as state:
        yield state


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    llm_judge.CACHE.clear()
    yield
    llm_judge.CACHE.clear()


def runtime(settings: Settings, stub: Stub, **extra: str) -> tuple[Runtime, FlaskClient]:
    env = {"OPENAI_API_KEY": "sk-test-key-for-the-stub", "OPENAI_BASE_URL": stub.url, "OPENAI_MODEL": "stub-model",
           "OPENAI_TIMEOUT": "2", **extra}
    rt = Runtime.build(settings.with_overrides(extra={**settings.extra, **env}))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def case_of(rt: Runtime, case_id: str) -> CaseRow:
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None
        return case


def timeline(rt: Runtime, case_id: str) -> list[str]:
    with rt.store.session() as s:
        return [t.kind for t in repo.timeline_of(s, case_id)]


def free_case_event(rt: Runtime, case_id: str) -> dict[str, Any]:
    """The case's stored event as another connection sees it; raises if a transaction holds the row."""
    if rt.store.dialect == "sqlite":
        con = sqlite3.connect(make_url(rt.store.url).database or "", timeout=0.2)
        try:
            con.execute("BEGIN IMMEDIATE")  # 'database is locked' while another writer is in a transaction
            (event,) = con.execute("SELECT event FROM cases WHERE id = ?", (case_id,)).fetchone()
            con.rollback()
        finally:
            con.close()
        return json.loads(event)  # type: ignore[no-any-return]
    with rt.store.engine.connect() as conn:
        stmt = select(CaseRow.event).where(CaseRow.id == case_id).with_for_update(nowait=True)
        event = conn.execute(stmt).scalar_one()
        conn.rollback()
    return event  # type: ignore[no-any-return]


def test_the_llm_is_asked_outside_the_transaction_and_both_unions(any_store_settings: Settings, stub: Stub) -> None:
    rt, client = runtime(any_store_settings, stub, BRIDGE_JUDGE="both")
    answer = post_generic(client, generic_event(event_id="evt-j1", messages=MESSAGES))
    seen: list[dict[str, Any]] = []
    stub.replies.append(Reply(content=json.dumps({"triggers": [ANGRY], "at_message": 1}),
                              hook=lambda: seen.append(free_case_event(rt, answer["case"]))))
    assert jobs.process_event(answer["event"], rt) == "processed"
    assert stub.errors == [] and len(stub.requests) == 1
    # While the LLM thought, the case row was free and already held the folded transcript.
    assert len(seen[0]["conversation"]["messages"]) == 3
    case = case_of(rt, answer["case"])
    local = triggers.decide(Event.from_json(generic_event(messages=MESSAGES)))
    assert case.status == ESCALATED and case.decision is not None and case.decision["judge"] == "both"
    assert set(case.triggers) == {"negative_sentiment", *local.trigger_ids} - {"bot_handoff"}
    assert case.decision["at_message"] == 1
    assert {"trigger": "negative_sentiment", "message_index": 1, "evidence": "nobody cares"} in case.decision[
        "triggers"]
    assert timeline(rt, case.id) == ["case.opened", "case.escalated", "case.routed"]
    with rt.store.session() as s:
        assert repo.get_inbox(s, answer["event"]).state == PROCESSED  # type: ignore[union-attr]


@pytest.mark.parametrize("meanwhile", ["newer update folded", "taken by a human"])
def test_a_case_that_changed_during_the_call_is_not_escalated_by_this_job(settings: Settings, stub: Stub,
                                                                          meanwhile: str) -> None:
    rt, client = runtime(settings, stub, BRIDGE_JUDGE="llm")
    answer = post_generic(client, generic_event(event_id="evt-j2", messages=MESSAGES))

    def change() -> None:
        case = answer["case"]
        with rt.store.engine.begin() as conn:
            if meanwhile == "taken by a human":
                conn.execute(update(CaseRow).where(CaseRow.id == case).values(status="acknowledged"))
            else:
                event = free_case_event(rt, case)
                event["conversation"]["messages"].append({"id": "m4", "role": "customer", "text": "hello?"})
                conn.execute(update(CaseRow).where(CaseRow.id == case).values(event=event))

    stub.replies.append(Reply(content=json.dumps({"triggers": [ANGRY], "at_message": 1}), hook=change))
    assert jobs.process_event(answer["event"], rt) == "processed"
    assert stub.errors == []
    case = case_of(rt, answer["case"])
    assert case.escalated_at is None and case.decision is None
    assert case.status == (OPEN if meanwhile == "newer update folded" else "acknowledged")
    assert "case.escalated" not in timeline(rt, case.id)
    with rt.store.session() as s:
        assert repo.get_inbox(s, answer["event"]).state == PROCESSED  # type: ignore[union-attr]
        assert repo.deliveries_of(s, case.id) == []


def test_when_the_llm_fails_the_local_judge_escalates(settings: Settings, stub: Stub) -> None:
    rt, client = runtime(settings, stub, BRIDGE_JUDGE="llm")
    answer = post_generic(client, generic_event(event_id="evt-j3", messages=MESSAGES))
    stub.replies.append(Reply(content="not json"))
    jobs.process_event(answer["event"], rt)
    case = case_of(rt, answer["case"])
    local = triggers.decide(Event.from_json(generic_event(messages=MESSAGES)))
    assert case.status == ESCALATED and case.decision == local.to_json() and case.decision["judge"] == "local"
    assert len(stub.requests) == 1


def test_the_default_judge_is_local_and_never_asks(settings: Settings, stub: Stub) -> None:
    rt, client = runtime(settings, stub)  # a key, but BRIDGE_JUDGE unset
    answer = post_generic(client, generic_event(event_id="evt-j4", messages=MESSAGES))
    jobs.process_event(answer["event"], rt)
    assert case_of(rt, answer["case"]).status == ESCALATED and stub.requests == []


def test_an_uncertain_local_judge_asks_once_per_update(settings: Settings, stub: Stub,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triggers, "decide", lambda event, config=None: Decision(escalate=False, uncertain=True))
    rt, client = runtime(settings, stub, BRIDGE_JUDGE="llm")
    update_1 = generic_event(event_id="evt-u1", type_="conversation.updated", messages=MESSAGES[:2])
    stub.answer(triggers=[], at_message=None)
    answer = post_generic(client, update_1)
    jobs.process_event(answer["event"], rt)
    assert case_of(rt, answer["case"]).status == OPEN and len(stub.requests) == 1
    # The same update delivered again under another id: same transcript, no second call.
    again = post_generic(client, {**update_1, "event_id": "evt-u1-again"})
    jobs.process_event(again["event"], rt)
    assert len(stub.requests) == 1
    # The conversation grows: a new question, and the LLM's verdict escalates.
    stub.answer(triggers=[ANGRY], at_message=1)
    grown = post_generic(client, generic_event(event_id="evt-u2", type_="conversation.updated", messages=MESSAGES))
    jobs.process_event(grown["event"], rt)
    case = case_of(rt, answer["case"])
    assert len(stub.requests) == 2
    assert case.status == ESCALATED and case.triggers == ["negative_sentiment"]
    assert case.decision is not None and case.decision["judge"] == "llm"
