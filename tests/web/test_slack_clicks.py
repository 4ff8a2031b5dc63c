"""Take case from Slack in SQLAlchemy Core (issue 19, item 5): the same writes as the ORM version,
statements that name the models' columns, one commit that never reads the stored conversation, and
a signature check that answers as slack-sdk's."""

from __future__ import annotations

import hashlib
import hmac
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import click_rows, repo
from bridge.web import slack_take
from bridge.web.slack_actions import verify_request
from tests.web.test_slack_actions import _runtime, action_body, case_of, click, escalate

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_531_420_618


def test_the_core_tables_name_the_models_columns() -> None:
    """Each column the click writes or reads is a column of the model, of the same kind of type, and
    the inserts cover every column the tables require."""
    from bridge.store.models import CaseRow, DeliveryRow, TimelineRow

    for core, model in ((click_rows.CASES, CaseRow), (click_rows.TIMELINE, TimelineRow),
                        (click_rows.DELIVERIES, DeliveryRow)):
        table = model.__table__
        for col in core.columns:
            assert col.name in table.c, (table.name, col.name)
            assert col.name == "id" or type(col.type).__name__ == type(table.c[col.name].type).__name__, col.name
    for core, model in ((click_rows.TIMELINE, TimelineRow), (click_rows.DELIVERIES, DeliveryRow)):
        required = {c.name for c in model.__table__.columns if not c.nullable and not c.primary_key}
        assert required <= {c.name for c in core.columns}, required - {c.name for c in core.columns}


def test_the_steps_wait_for_what_the_registry_says() -> None:
    import connectors

    assert {step: connectors.STEPS[step].after for step in slack_take.AFTER} == slack_take.AFTER
    assert set(slack_take.ON_TAKE) <= set(slack_take.AFTER)


def _sign(body: bytes, ts: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


@pytest.mark.parametrize("body,ts,signature,secrets,now,valid", [
    (BODY, str(NOW), _sign(BODY, str(NOW)), [SECRET], NOW, True),
    (BODY, str(NOW), _sign(BODY, str(NOW)), ["old-secret", SECRET], NOW, True),  # rotation
    (BODY, str(NOW), _sign(BODY, str(NOW), "other"), [SECRET], NOW, False),  # forged
    (BODY, str(NOW), _sign(BODY, str(NOW)), [SECRET], NOW + 300, True),  # the window's edge
    (BODY, str(NOW), _sign(BODY, str(NOW)), [SECRET], NOW + 301, False),  # stale
    (BODY, str(NOW), _sign(BODY, str(NOW)), [SECRET], NOW - 301, False),  # from the future
    (BODY, "abc", _sign(BODY, "abc"), [SECRET], NOW, False),  # not a number
    (BODY, "", "", [SECRET], NOW, False),  # missing
    (b"\xff\xfe payload", str(NOW), _sign(b"\xff\xfe payload", str(NOW)), [SECRET], NOW, False),  # not UTF-8
    (BODY, str(NOW), _sign(BODY, str(NOW)).upper(), [SECRET], NOW, False),  # Slack sends lower-case hex
    (BODY, str(NOW), _sign(BODY, str(NOW)).replace("v0=", "v1="), [SECRET], NOW, False),
    (BODY, str(NOW), "v0=é" + "0" * 62, [SECRET], NOW, False),  # not ASCII
    (BODY + b"&x=1", str(NOW), _sign(BODY, str(NOW)), [SECRET], NOW, False),  # body changed
])
def test_the_signature_check_answers_as_slack_sdk(body: bytes, ts: str, signature: str, secrets: list[str],
                                                  now: float, valid: bool) -> None:
    """The view checks Slack's v0 signature without slack-sdk; its answer is the SDK's, case by case."""
    from connectors.slack import verify_request as with_sdk

    assert verify_request(body, ts, signature, secrets, now) is valid
    assert with_sdk(body, ts, signature, secrets, now) is valid


def _deliveries(rt: Runtime, case_id: str) -> list[tuple[str, str | None, str, Any]]:
    with rt.store.session() as s:
        return sorted((d.step.split("#", 1)[0], d.after, d.status, d.payload) for d in repo.deliveries_of(s, case_id)
                      if "#" in d.step and not d.step.startswith("slack.page"))


def _last_timeline(rt: Runtime, case_id: str) -> tuple[str, str, dict[str, Any]]:
    with rt.store.session() as s:
        last = repo.timeline_of(s, case_id)[-1]
        return last.kind, last.actor, last.detail


def test_a_take_writes_what_the_orm_take_writes(any_store_settings: Settings, tmp_path: Path) -> None:
    """Two cases alike, one taken by the Core path and one by ``bridge.loop.ownership.take``; then each
    lost by someone else: the same route, timeline, steps and answers."""
    from bridge.loop import ownership

    rt, client = _runtime(any_store_settings, tmp_path)
    core, orm = escalate(rt, client, "conv-core"), escalate(rt, client, "conv-orm")
    won = slack_take.take(rt, core, "U0BEN", "C0SUPPORT", "ben")
    expected = ownership.take(rt, orm, "U0BEN", via="slack", channel="C0SUPPORT", name="ben")
    assert (won.ok, won.owner, won.message) == (expected.ok, expected.owner, expected.message) == (True, "U0BEN",
                                                                                                   "taken")
    lost = slack_take.take(rt, core, "U0ANA", "C0SUPPORT")
    expected = ownership.take(rt, orm, "U0ANA", via="slack", channel="C0SUPPORT")
    assert (lost.ok, lost.owner, lost.message) == (expected.ok, expected.owner, expected.message)
    assert lost.message == "already taken by <@U0BEN>"
    again = slack_take.take(rt, core, "U0BEN", "C0SUPPORT")
    assert (again.ok, again.message) == (True, "you already have this case")
    a, b = case_of(rt, core), case_of(rt, orm)
    assert (a.status, a.owner, a.route) == (b.status, b.owner, b.route)
    assert a.route["owner_name"] == "Ben" and a.route["acknowledged"] is True and a.route["zendesk_agent_id"] == 902
    assert a.acknowledged_at is not None
    assert _last_timeline(rt, core) == _last_timeline(rt, orm)
    assert _deliveries(rt, core) == _deliveries(rt, orm)
    assert [d[0] for d in _deliveries(rt, core)] == ["bot.callback", "slack.ephemeral", "slack.update",
                                                     "zendesk.assign"]
    assert slack_take.take(rt, "c-nobody", "U0BEN", "C0SUPPORT").message == "no such case"


def test_a_click_commits_once_and_never_reads_the_conversation(any_store_settings: Settings,
                                                               tmp_path: Path) -> None:
    """A winning and a losing click: one transaction and one commit each, no statement that loads
    the case's stored conversation (the ORM version read the whole row to learn three columns)."""
    rt, client = _runtime(any_store_settings, tmp_path)
    case_id = escalate(rt, client)
    mine = threading.get_ident()
    statements: list[str] = []
    commits: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == mine:
            statements.append(statement)

    event.listen(rt.store.engine, "before_cursor_execute", seen)
    event.listen(rt.store.engine, "commit", lambda _conn: commits.append(threading.get_ident()))
    for user in ("U0BEN", "U0ANA"):
        statements.clear()
        commits.clear()
        assert click(client, action_body(case_id, user)).status_code == 200
        assert commits.count(mine) == 1, (user, len(commits))
        assert statements and not [s for s in statements if "cases.event" in s or "FROM deliveries" in s], statements
    assert case_of(rt, case_id).owner == "U0BEN"


def test_with_rq_a_clicks_steps_wait_for_the_dispatcher_who_enqueues_each_once(rq_settings: Settings,
                                                                              tmp_path: Path) -> None:
    """With RQ the click only writes its steps (the web process never talks to Redis); the
    dispatcher's pass turns them pending and hands each to RQ once, in one round trip: the winner's
    three and the loser's private answer. A second pass hands over nothing."""
    from bridge.queue import DELIVER, job_id
    from bridge.worker import handover

    rt, client = _runtime(rq_settings, tmp_path)
    case_id = escalate(rt, client)
    for user in ("U0BEN", "U0ANA"):
        assert click(client, action_body(case_id, user)).status_code == 200
    with rt.store.session() as s:
        created = {d.step.split("#")[0]: (d.id, d.status) for d in repo.deliveries_of(s, case_id)
                   if "#" in d.step and not d.step.startswith("slack.page")}
    assert sorted(created) == ["bot.callback", "slack.ephemeral", "slack.update", "zendesk.assign"]
    assert {status for _, status in created.values()} == {click_rows.HANDOVER}
    jobs = {step: job_id(rt.queue.name, DELIVER, delivery_id) for step, (delivery_id, _) in created.items()}
    assert not set(jobs.values()) & set(rt.queue.urgent.job_ids)  # answered without an enqueue
    assert handover.dispatch(rt) == 4
    assert handover.dispatch(rt) == 0
    queued = rt.queue.urgent.job_ids
    for step, job in jobs.items():
        assert queued.count(job) == 1, (step, queued)
    assert {status for status in _statuses(rt, case_id).values()} <= {"pending", "done"}


def _statuses(rt: Runtime, case_id: str) -> dict[str, str]:
    with rt.store.session() as s:
        return {d.step: d.status for d in repo.deliveries_of(s, case_id)}
