"""Slack interactivity: Take case / Reassign / Not mine, exactly one owner, re-escalation on time."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

from bridge import create_app
from bridge.config import Settings
from bridge.queue import DELIVER
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from tests.connectors.slack_stub import slack_stub
from tests.helpers import HeldCommit, dumps, generic_event, signed_headers

SIGNING = "slack-signing-secret"
ROUTING = """
default_team: support
teams:
  - id: support
    slack_channel: C0SUPPORT
    zendesk_group_id: 111
    hours: "24/7"
    escalation: {ack_timeout_minutes: 1, levels: [next_member, lead, channel], channel_mention: here}
    members:
      - {name: Ana, slack_user_id: U0ANA, zendesk_agent_id: 901}
      - {name: Ben, slack_user_id: U0BEN, zendesk_agent_id: 902}
      - {name: Lia, slack_user_id: U0LIA, zendesk_agent_id: 903, lead: true}
"""


def _runtime(settings: Settings, tmp_path: Path, **extra: str) -> tuple[Runtime, FlaskClient]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path), "SLACK_SIGNING_SECRET": SIGNING,
                                                      **extra}))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> tuple[Runtime, FlaskClient]:
    return _runtime(settings, tmp_path)


def escalate(rt: Runtime, client: FlaskClient, conversation: str = "conv-1") -> str:
    body = dumps(generic_event(conversation_id=conversation))
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    return str(case_id)


def action_body(case_id: str, user: str, action: str = "take_case", **extra: Any) -> bytes:
    act = {"action_id": action, "block_id": f"case:{case_id}", **extra}
    if action != "reassign":
        act["value"] = case_id
    payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": "C0SUPPORT"}, "actions": [act]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def click(client: FlaskClient, body: bytes, ts: int | None = None, secret: str = SIGNING) -> Any:
    stamp = str(int(time.time()) if ts is None else ts)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return client.post("/slack/actions", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature})


def case_of(rt: Runtime, case_id: str) -> Any:
    with rt.store.session() as s:
        return repo.get_case(s, case_id)


def steps(rt: Runtime, case_id: str) -> dict[str, str]:
    with rt.store.session() as s:
        return {d.step: d.status for d in repo.deliveries_of(s, case_id)}


def instance(rt: Runtime, case_id: str, step: str) -> str:
    """The one instance of a repeatable step (``slack.update#<n>``) a single change created."""
    [name] = [name for name in steps(rt, case_id) if name.startswith(f"{step}#")]
    return name


def kinds(rt: Runtime, case_id: str) -> list[str]:
    with rt.store.session() as s:
        return [t.kind for t in repo.timeline_of(s, case_id)]


@pytest.mark.parametrize("case", ["forged", "stale", "future", "garbage_ts", "missing"])
def test_unsigned_or_badly_signed_actions_are_401_and_change_nothing(env: tuple[Runtime, FlaskClient],
                                                                     case: str) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    body = action_body(case_id, "U0BEN")
    if case == "forged":
        response = click(client, body, secret="not-the-secret")
    elif case == "stale":
        response = click(client, body, ts=int(time.time()) - 360)
    elif case == "future":
        response = click(client, body, ts=int(time.time()) + 360)
    elif case == "garbage_ts":
        response = client.post("/slack/actions", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "abc",
            "X-Slack-Signature": "v0=00"})
    else:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        response = client.post("/slack/actions", data=body, headers=form)
    assert response.status_code == 401
    assert case_of(rt, case_id).acknowledged_at is None


def test_malformed_payload_is_400(env: tuple[Runtime, FlaskClient]) -> None:
    _, client = env
    assert click(client, b"payload=%7Bnot-json").status_code == 400


@pytest.mark.parametrize("payload,status", [
    ("[" * 5000 + "]" * 5000, 400),  # RecursionError in json.loads: a 500 before (issue 20, item 5)
    ('{"type": "block_actions", "a": 1e999}', 400),
    ('{"type": "block_actions", "a": 1, "a": 2}', 400),
    ('{"type": "block_actions", "user": {"id": "U0BEN"}, "actions": true}', 422),
    ('{"type": "block_actions", "user": {"id": "U0BEN"}, "actions": ["take_case"]}', 422),
])
def test_hostile_payloads_are_refused_and_change_nothing(env: tuple[Runtime, FlaskClient], payload: str,
                                                         status: int) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    before = kinds(rt, case_id), case_of(rt, case_id).owner
    response = click(client, urlencode({"payload": payload}).encode())
    assert response.status_code == status and response.get_json()["error"]["message"]
    assert (kinds(rt, case_id), case_of(rt, case_id).owner) == before
    assert case_of(rt, case_id).acknowledged_at is None


@pytest.mark.parametrize("field,value", [("channel", 7), ("user", "U0BEN"), ("channel", ["C0SUPPORT"]),
                                         ("value", "²"), ("action_id", ["take_case"]), ("block_id", {"a": 1})])
def test_fields_of_the_wrong_type_are_ignored_not_a_500(env: tuple[Runtime, FlaskClient], field: str,
                                                        value: Any) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    payload = json.loads(parse_qs(action_body(case_id, "U0BEN", "approve_update").decode())["payload"][0])
    if field in ("channel", "user"):
        payload[field] = value
    else:
        payload["actions"][0][field] = value
    before = kinds(rt, case_id)
    response = click(client, urlencode({"payload": json.dumps(payload)}).encode())
    assert response.status_code == 200
    assert kinds(rt, case_id) == before and case_of(rt, case_id).acknowledged_at is None


def test_take_case_acknowledges_and_updates_everything(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    assert click(client, action_body(case_id, "U0BEN")).status_code == 200
    case = case_of(rt, case_id)
    assert case.status == "acknowledged" and case.owner == "U0BEN" and case.acknowledged_at is not None
    assert case.route["acknowledged"] is True and case.route["zendesk_agent_id"] == 902
    run_due(rt)
    done = steps(rt, case_id)
    assert done[instance(rt, case_id, "slack.update")] == "done"
    assert done[instance(rt, case_id, "zendesk.assign")] == "done"
    assign_file = rt.settings.outbox_dir / case_id / f"{instance(rt, case_id, 'zendesk.assign')}.json"
    assign = json.loads(assign_file.read_text())["request"]
    assert assign["assignee_id"] == 902 and "took the case" in assign["comment"]["body"]
    callback_file = rt.settings.outbox_dir / case_id / f"{instance(rt, case_id, 'bot.callback')}.json"
    callback = json.loads(callback_file.read_text())["request"]
    assert callback["type"] == "handoff.accepted" and callback["owner"]["name"] == "Ben"
    assert callback["message"].startswith("Ben from our support team")
    assert "case.acknowledged" in kinds(rt, case_id)


def test_someone_outside_the_roster_takes_the_case_by_name_and_the_promise_is_shown(
        env: tuple[Runtime, FlaskClient]) -> None:
    """Issue 16, point 6: named by name (never a Slack id) to the customer, the Zendesk assignee left as
    it is instead of cleared, and the reply time the customer was promised shown to the owner."""
    rt, client = env
    case_id = escalate(rt, client)
    payload = {"type": "block_actions", "user": {"id": "U0MARTA", "username": "marta.keller", "name": "marta.keller"},
               "channel": {"id": "C0SUPPORT"},
               "actions": [{"action_id": "take_case", "block_id": f"case:{case_id}", "value": case_id}]}
    assert click(client, urlencode({"payload": json.dumps(payload)}).encode()).status_code == 200
    run_due(rt)
    outbox = rt.settings.outbox_dir / case_id
    callback = json.loads((outbox / f"{instance(rt, case_id, 'bot.callback')}.json").read_text())["request"]
    assert "U0MARTA" not in json.dumps(callback)
    assign = json.loads((outbox / f"{instance(rt, case_id, 'zendesk.assign')}.json").read_text())["request"]
    assert "assignee_id" not in assign  # left as it is, not set to null
    note = assign["comment"]["body"]
    assert note.startswith("marta.keller took the case") and "not on the routing roster" in note
    promised = re.search(r"the customer was told: (within \d+ hours?)", note)
    assert "Reply due by" in note and promised, note  # the hours follow the case's priority
    update = json.loads((outbox / f"{instance(rt, case_id, 'slack.update')}.json").read_text())["request"]
    assert "reply due by" in json.dumps(update) and promised.group(1) in json.dumps(update)


def test_a_double_click_makes_exactly_one_owner(any_store_settings: Settings, tmp_path: Path) -> None:
    rt, client = _runtime(any_store_settings, tmp_path)
    case_id = escalate(rt, client)
    app = create_app(rt=rt)
    barrier = threading.Barrier(10)
    codes: list[int] = []

    def press(user: str) -> None:
        barrier.wait()
        codes.append(click(app.test_client(), action_body(case_id, user)).status_code)

    threads = [threading.Thread(target=press, args=("U0ANA" if i % 2 else "U0BEN",)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 10, codes
    winner = case_of(rt, case_id).owner
    assert winner in ("U0ANA", "U0BEN")
    assert kinds(rt, case_id).count("case.acknowledged") == 1
    loser_notes = [s for s in steps(rt, case_id) if s.startswith("slack.ephemeral#")]
    assert len(loser_notes) == 5  # each click of the other person is answered, none lost
    run_due(rt)
    for name in loser_notes:
        note = json.loads((rt.settings.outbox_dir / case_id / f"{name}.json").read_text())["request"]
        assert note["user"] != winner and f"already taken by <@{winner}>" in note["text"]


class RecordingQueue:
    """The in-process queue's contract, remembering what was enqueued (with RQ, a delivery that is
    not enqueued waits for the sweeper)."""

    kind = "in-process"

    def __init__(self) -> None:
        self.jobs: list[tuple[str, str | int]] = []

    def enqueue(self, job: str, arg: str | int, at: Any = None, attempt: int = 0, urgent: bool = True) -> None:
        self.jobs.append((job, arg))

    def ping(self) -> None:
        return None


def test_the_losing_click_is_answered_at_once_not_by_the_sweeper(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    assert click(client, action_body(case_id, "U0ANA")).status_code == 200
    rt.queue = RecordingQueue()
    assert click(client, action_body(case_id, "U0BEN")).status_code == 200
    with rt.store.session() as s:
        told = [d for d in repo.deliveries_of(s, case_id) if d.step.startswith("slack.ephemeral#")]
    assert len(told) == 1 and told[0].payload["user"] == "U0BEN"
    assert (DELIVER, told[0].id) in rt.queue.jobs, rt.queue.jobs


def test_clicks_share_the_commit_of_concurrent_webhooks(any_store_settings: Settings, tmp_path: Path) -> None:
    """Take-case clicks take the webhooks' group-commit path: queued behind a commit in flight, two
    clicks on one case and a webhook share the next commit; one click wins, and each request is
    answered only once what it wrote is committed (read from another engine right after the answer)."""
    rt, client = _runtime(any_store_settings, tmp_path)
    case_id = escalate(rt, client)
    app = create_app(rt=rt)
    other = create_engine(rt.store.url)
    commits: list[int] = []
    event.listen(rt.store.engine, "commit", lambda _conn: commits.append(1))
    answers: dict[str, Any] = {}

    def owner_committed() -> str | None:
        with other.connect() as conn:
            return conn.execute(text("SELECT owner FROM cases WHERE id = :c AND acknowledged_at IS NOT NULL"),
                                {"c": case_id}).scalar()

    def press(user: str) -> None:
        answers[user] = (click(app.test_client(), action_body(case_id, user)).status_code, owner_committed())

    def webhook() -> None:
        body = dumps(generic_event(conversation_id="conv-2"))
        answer = app.test_client().post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()
        with other.connect() as conn:
            answers["webhook"] = conn.execute(text("SELECT count(*) FROM inbox WHERE key = :k"),
                                              {"k": answer["event"]}).scalar()

    threads = [threading.Thread(target=press, args=(user,)) for user in ("U0ANA", "U0BEN")]
    threads.append(threading.Thread(target=webhook))
    with HeldCommit(rt.store.group) as held:
        for thread in threads:
            thread.start()
        held.queued(3)
    for thread in threads:
        thread.join(30)
    other.dispose()
    assert len(commits) == 2  # the held commit, then both clicks and the webhook together
    assert answers["webhook"] == 1
    winner = case_of(rt, case_id).owner
    assert winner in ("U0ANA", "U0BEN")
    assert answers["U0ANA"] == answers["U0BEN"] == (200, winner)
    assert kinds(rt, case_id).count("case.acknowledged") == 1
    assert len([s for s in steps(rt, case_id) if s.startswith("slack.ephemeral#")]) == 1  # the loser is told


def test_reassign_and_not_mine_move_the_case(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    first = case_of(rt, case_id).owner
    assert click(client, action_body(case_id, first, "reassign", selected_user="U0LIA")).status_code == 200
    assert case_of(rt, case_id).owner == "U0LIA"
    assert click(client, action_body(case_id, "U0LIA", "not_mine")).status_code == 200
    after = case_of(rt, case_id).owner
    assert after not in ("U0LIA", None)
    reasons = [t.detail["reason"] for t in repo.timeline_of(rt.store.session().__enter__(), case_id)
               if t.kind == "case.reassigned"]
    assert reasons == ["reassign", "not_mine"]
    run_due(rt)
    planned = {name: status for name, status in steps(rt, case_id).items() if not name.startswith("slack.page")}
    assert "zendesk.ticket" in planned and set(planned.values()) == {"done"}, planned


def test_untaken_cases_page_the_next_level_on_time_and_stop_when_taken(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = escalate(rt, client)
    owner = case_of(rt, case_id).owner
    assert steps(rt, case_id)["slack.page#1"] == "pending"
    assert run_due(rt) == 0  # not before the ack timeout
    start = rt.clock()
    rt.clock = lambda: start + timedelta(seconds=61)
    run_due(rt)
    with rt.store.session() as s:
        pages = [t.detail for t in repo.timeline_of(s, case_id) if t.kind == "case.paged"]
    assert len(pages) == 1 and pages[0]["level"] == 1 and pages[0]["who"] not in ([owner], [])
    assert steps(rt, case_id)["slack.page#2"] == "pending"
    click(client, action_body(case_id, owner))  # taken before the next level is due
    rt.clock = lambda: start + timedelta(seconds=122)
    run_due(rt)
    assert steps(rt, case_id)["slack.page#2"] == "done"
    with rt.store.session() as s:
        page2 = next(d for d in repo.deliveries_of(s, case_id) if d.step == "slack.page#2")
        assert page2.external_id == "skipped: no longer needed"
    assert kinds(rt, case_id).count("case.paged") == 1


SPANISH = """
default_team: support
teams:
  - id: support
    slack_channel: C0SUPPORT
    hours: "24/7"
    escalation: {ack_timeout_minutes: 1, levels: [next_member, lead, channel]}
    members:
      - {name: Ana, slack_user_id: U0ANA, languages: [en, es]}
      - {name: Ben, slack_user_id: U0BEN, languages: [en]}
      - {name: Lia, slack_user_id: U0LIA, languages: [en, es]}
"""


def test_a_page_for_a_spanish_customer_goes_to_someone_who_speaks_spanish(settings: Settings, tmp_path: Path) -> None:
    """Issue 16, point 10: an es-MX conversation is Spanish to the roster (nobody lists "es-MX")."""
    path = tmp_path / "routing.yaml"
    path.write_text(SPANISH)
    rt = Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path), "SLACK_SIGNING_SECRET": SIGNING,
                                                      "BRIDGE_PUBLIC_URL": "https://bridge.example.com"}))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    event = generic_event(conversation_id="wa-1", messages=[
        {"id": "1", "role": "customer", "text": "Quiero hablar con una persona, me cobraron dos veces"}])
    event["conversation"]["language"] = "es-MX"
    body = dumps(event)
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    owner = case_of(rt, case_id).owner
    assert owner in ("U0ANA", "U0LIA")
    start = rt.clock()
    rt.clock = lambda: start + timedelta(seconds=61)
    run_due(rt)
    with rt.store.session() as s:
        [page] = [t.detail for t in repo.timeline_of(s, case_id) if t.kind == "case.paged"]
    assert page["who"] == [({"U0ANA", "U0LIA"} - {owner}).pop()]
    request = json.loads((rt.settings.outbox_dir / case_id / "slack.page#1.json").read_text())["request"]
    assert "Spanish (es-MX)" in request["text"] and "does not list it" not in request["text"]
    assert "https://bridge.example.com/cases/" in request["text"] and "Reply due by" in request["text"]


def test_live_slack_posts_once_dms_the_owner_and_updates_in_place(settings: Settings, tmp_path: Path) -> None:
    with slack_stub() as (stub, url):
        rt, client = _runtime(settings, tmp_path, SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=url)
        case_id = escalate(rt, client)
        owner = case_of(rt, case_id).owner
        posts = [args for method, args in stub.calls if method == "chat.postMessage"]
        assert [p["channel"] for p in posts] == ["C0SUPPORT", owner]
        click(client, action_body(case_id, owner))
        run_due(rt)
        updates = [args for method, args in stub.calls if method == "chat.update"]
        assert len(updates) == 1 and updates[0]["channel"] == "C0SUPPORT"
        assert updates[0]["ts"] == case_of(rt, case_id).refs["slack.alert"].split(":")[1]
        assert "taken" in json.dumps(updates[0]["blocks"])
        assert stub.methods().count("chat.postMessage") == 2  # nothing re-posted
