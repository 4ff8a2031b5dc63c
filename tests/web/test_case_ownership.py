"""Take and reassign from the case page: the same compare-and-set writes as Slack's buttons."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.loop import ownership
from bridge.runtime import Runtime, install
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from tests.connectors.test_outbox import _case

ROUTING = """
default_team: support
teams:
  - id: support
    name: Customer Support
    slack_channel: "#support"
    hours: "24/7"
    members:
      - {name: Ana Souza, slack_user_id: U01ANA, zendesk_agent_id: 9001, languages: [en]}
      - {name: Ben Okoro, slack_user_id: U01BEN, zendesk_agent_id: 9002, languages: [en]}
  - id: billing
    name: Billing Desk
    slack_channel: "#billing"
    hours: "24/7"
    members:
      - {name: Cleo Park, slack_user_id: U02CLEO, zendesk_agent_id: 9101, languages: [en]}
"""


def _runtime(settings: Settings, tmp_path: Path) -> tuple[Runtime, Flask]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = install(Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path)})))
    upgrade(rt.store)
    return rt, create_app(rt=rt)


def signed_in(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        token = str(session["csrf"])
    client.post("/login", data={"csrf_token": token, "password": "admin-test-token-0123456789"})
    with client.session_transaction() as session:
        return client, str(session["csrf"])


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> tuple[Runtime, Flask]:
    return _runtime(settings, tmp_path)


def case_row(rt: Runtime, case_id: str):  # type: ignore[no-untyped-def]
    with rt.store.session() as s:
        return repo.get_case(s, case_id)


def test_the_page_offers_take_and_reassign_with_names(env: tuple[Runtime, Flask]) -> None:
    rt, app = env
    client, _ = signed_in(app)
    case_id = _case(rt, client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/take"' in page and f'action="/cases/{case_id}/reassign"' in page
    assert ">Ben Okoro (Customer Support)</option>" in page and ">Cleo Park (Billing Desk)</option>" in page


def test_take_from_the_page_acknowledges_like_slack(env: tuple[Runtime, Flask]) -> None:
    rt, app = env
    client, csrf = signed_in(app)
    case_id = _case(rt, client)
    answer = client.post(f"/cases/{case_id}/take", data={"csrf_token": csrf, "member": "U01BEN"})
    assert answer.status_code == 302
    row = case_row(rt, case_id)
    assert row.owner == "U01BEN" and row.status == "acknowledged" and row.acknowledged_at is not None
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Ben Okoro owns the case now." in page
    assert "by Ben Okoro via the case page" in page and "admin (case page)" in page
    assert f'action="/cases/{case_id}/take"' not in page  # taken: no second Take button
    run_due(rt)
    with rt.store.session() as s:
        steps = {d.step.split("#")[0] for d in repo.deliveries_of(s, case_id)}
    assert {"slack.update", "zendesk.assign", "bot.callback"} <= steps  # the same follow-ups as a Slack click

    other, other_csrf = signed_in(app)
    again = other.post(f"/cases/{case_id}/take", data={"csrf_token": other_csrf, "member": "U01ANA"},
                       follow_redirects=True)
    assert "Not taken: Ben Okoro took it first." in again.get_data(as_text=True)
    assert case_row(rt, case_id).owner == "U01BEN"


def test_a_case_taken_in_slack_cannot_be_taken_on_the_page(env: tuple[Runtime, Flask]) -> None:
    rt, app = env
    client, csrf = signed_in(app)
    case_id = _case(rt, client)
    assert ownership.take(rt, case_id, "U01ANA", via="slack").ok
    page = client.post(f"/cases/{case_id}/take", data={"csrf_token": csrf, "member": "U01BEN"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Not taken: Ana Souza took it first." in page and case_row(rt, case_id).owner == "U01ANA"


def test_simultaneous_takes_on_the_page_make_exactly_one_owner(env: tuple[Runtime, Flask]) -> None:
    rt, app = env
    first, _ = signed_in(app)
    case_id = _case(rt, first)
    clients = [signed_in(app) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def press(client: FlaskClient, csrf: str, member: str) -> None:
        barrier.wait()
        codes.append(client.post(f"/cases/{case_id}/take", data={"csrf_token": csrf, "member": member}).status_code)

    threads = [threading.Thread(target=press, args=(c, t, "U01ANA" if i % 2 else "U01BEN"))
               for i, (c, t) in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [302] * len(clients)
    with rt.store.session() as s:
        assert [t.kind for t in repo.timeline_of(s, case_id)].count("case.acknowledged") == 1


def test_reassign_applies_only_if_the_owner_is_still_the_one_shown(env: tuple[Runtime, Flask]) -> None:
    rt, app = env
    client, csrf = signed_in(app)
    case_id = _case(rt, client)
    shown = case_row(rt, case_id).owner
    assert ownership.reassign(rt, case_id, "U02CLEO", by="U01ANA", reason="reassign").ok  # meanwhile, in Slack
    stale = client.post(f"/cases/{case_id}/reassign", data={"csrf_token": csrf, "to": "U01BEN",
                                                            "expected_owner": shown or ""}, follow_redirects=True)
    assert "the owner changed meanwhile (now Cleo Park)" in stale.get_data(as_text=True)
    assert case_row(rt, case_id).owner == "U02CLEO"
    fresh = client.post(f"/cases/{case_id}/reassign", data={"csrf_token": csrf, "to": "U01BEN",
                                                            "expected_owner": "U02CLEO"}, follow_redirects=True)
    assert "Reassigned to Ben Okoro." in fresh.get_data(as_text=True) and case_row(rt, case_id).owner == "U01BEN"
    with rt.store.session() as s:
        moves = [t for t in repo.timeline_of(s, case_id) if t.kind == "case.reassigned"]
    assert moves[-1].actor == "web:admin" and moves[-1].detail["to"] == "U01BEN"


def test_ownership_needs_a_login_and_the_forms_token(env: tuple[Runtime, Flask]) -> None:
    from bridge.config import keys

    rt, app = env
    client, csrf = signed_in(app)
    case_id = _case(rt, client)
    assert client.post(f"/cases/{case_id}/take", data={"member": "U01BEN"}).status_code == 400
    anonymous = app.test_client()
    link = keys.case_link(rt.settings, case_id, rt.clock())
    assert 'action="/cases/' not in anonymous.get(link).get_data(as_text=True)  # a signed link only reads
    assert anonymous.post(f"/cases/{case_id}/take", data={"member": "U01BEN"}).status_code == 302
    assert case_row(rt, case_id).acknowledged_at is None
