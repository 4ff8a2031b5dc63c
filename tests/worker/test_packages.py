"""One package per version of a case (bridge/worker/packages.py), the summary kept with the first
step, and routing that reads the load only when someone can be picked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.events import Decision, Event, RouteInfo, Summary, TriggerHit
from bridge.pipeline.package import build_package
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker import jobs, packages
from bridge.worker.summarizer import summarize
from tests.helpers import generic_event, post_generic

DECISION = Decision(escalate=True, at_message=1, triggers=[
    TriggerHit(trigger="customer_requested_human", message_index=1, evidence="a person, card 4111 1111 1111 1111")])


def _event(*texts: str) -> dict[str, Any]:
    messages = [{"id": str(i), "role": "customer", "text": text} for i, text in enumerate(texts, start=1)]
    return Event.from_json(generic_event(messages=messages)).to_json()


def test_a_package_is_what_build_package_makes_for_the_same_arguments() -> None:
    packages.clear()
    event, decision = _event("I want a person, my card 4111 1111 1111 1111 was charged twice"), DECISION.to_json()
    summary = Summary(issue="Charged twice.", next_step="Refund.")
    route = RouteInfo(team="support", team_name="Support", channel="#support", rule="default")
    for kwargs in ({}, {"summary": summary, "route": route, "previous_tickets": ["17", "18"]}):
        made = build_package("c-1", "generic", Event.from_json(event), DECISION, **kwargs)  # type: ignore[arg-type]
        reused = packages.package_for("c-1", "generic", event, decision, **kwargs)  # type: ignore[arg-type]
        assert reused.model_dump() == made.model_dump()
    assert "4111 1111 1111 1111" not in packages.package_for("c-1", "generic", event, decision).model_dump_json()


def test_the_same_version_is_built_once_and_a_changed_transcript_afresh() -> None:
    packages.clear()
    first, decision = _event("I want a person"), DECISION.to_json()
    base = packages.base_package("c-1", "generic", first, decision)
    assert packages.base_package("c-1", "generic", dict(first), dict(decision)) is base
    grown = _event("I want a person", "Also the export is broken")
    again = packages.base_package("c-1", "generic", grown, decision)
    assert again is not base
    assert [m.text for m in again.conversation.messages][-1] == "Also the export is broken"
    assert packages.base_package("c-2", "generic", first, decision) is not base  # another case


@pytest.fixture
def env(any_store_settings: Settings) -> tuple[Runtime, FlaskClient]:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def _steps(rt: Runtime, case_id: str) -> dict[str, int]:
    with rt.store.session() as s:
        return {d.step: d.id for d in repo.deliveries_of(s, case_id)}


def test_a_step_after_a_follow_up_gets_the_new_transcript_and_the_first_step_keeps_the_summary(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client = env
    used: list[Any] = []
    real = jobs.package_for
    monkeypatch.setattr(jobs, "package_for", lambda *a, **k: used.append(real(*a, **k)) or used[-1])
    messages = [{"id": "1", "role": "customer", "text": "Can I talk to a person please?"}]
    answer = post_generic(client, generic_event(messages=messages))
    assert jobs.process_event(answer["event"], rt) == "processed"
    # The ticket alone (a job would go on with the alert): the alert runs after the follow-up.
    assert jobs.deliver(_steps(rt, answer["case"])["zendesk.ticket"], rt, chain=1) == "done"
    with rt.store.session() as s:
        case = repo.get_case(s, answer["case"])
        assert case is not None and case.summary  # stored with the ticket's result, in its transaction
        expected = summarize(Event.from_json(case.event), Decision.model_validate(case.decision), rt.settings)
        assert Summary.model_validate(case.summary).model_dump() == expected.model_dump()
    later = [*messages, {"id": "2", "role": "customer", "text": "It is about invoice INV-2231."}]
    followed = post_generic(client, generic_event(type_="conversation.updated", messages=later))
    assert jobs.process_event(followed["event"], rt) == "processed"
    assert jobs.deliver(_steps(rt, answer["case"])["slack.alert"], rt) == "done"
    assert [m.text for m in used[0].conversation.messages] == ["Can I talk to a person please?"]
    assert [m.text for m in used[-1].conversation.messages][-1] == "It is about invoice INV-2231."


ROUTING = """
default_team: support
teams:
  - id: support
    name: Support
    slack_channel: "#support"
    hours: "24/7"
    members:
      - {name: Ana, slack_user_id: U0ANA, languages: [en]}
"""


@pytest.mark.parametrize("members", [False, True])
def test_the_load_is_read_under_the_routing_lock_only_when_someone_can_be_picked(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, members: bool
) -> None:
    if members:
        path = tmp_path / "routing.yaml"
        path.write_text(ROUTING)
        settings = settings.with_overrides(extra={"ROUTING_FILE": str(path)})
    rt = Runtime.build(settings)
    upgrade(rt.store)
    locked: list[str] = []
    real = repo.lock_routing
    monkeypatch.setattr(repo, "lock_routing", lambda s, team: locked.append(team) or real(s, team))
    answer = post_generic(create_app(rt=rt).test_client(), generic_event())
    assert jobs.process_event(answer["event"], rt) == "processed"
    with rt.store.session() as s:
        case = repo.get_case(s, answer["case"])
        assert case is not None and case.status == "escalated"
        assert case.owner == ("U0ANA" if members else None)
    assert locked == (["support"] if members else [])


def test_the_cache_keeps_the_latest_cases_up_to_its_size() -> None:
    packages.clear()
    event, decision = _event("I want a person"), DECISION.to_json()
    built = [packages.base_package(f"c-{n}", "generic", event, decision) for n in range(packages.SIZE + 1)]
    assert len(packages._cache) == packages.SIZE
    assert packages.base_package(f"c-{packages.SIZE}", "generic", event, decision) is built[-1]  # kept
    assert packages.base_package("c-0", "generic", event, decision) is not built[0]  # the oldest, dropped
    packages.clear()
