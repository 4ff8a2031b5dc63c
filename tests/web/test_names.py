"""Names, not ids, wherever a person reads: the case list (with its subject column), the case page's
header and timeline; the routing's names first, then Slack's users.info (cached), then a neutral phrase."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.config.people import People
from bridge.loop import ownership
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from connectors.names import people_for
from tests.connectors.slack_stub import slack_stub
from tests.connectors.test_outbox import ROUTING, _case


@pytest.fixture
def routed(settings: Settings, tmp_path: Path) -> tuple[Runtime, FlaskClient]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = install(Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path)})))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    client.post("/login", data={"csrf_token": token, "password": "admin-test-token-0123456789"})
    return rt, client


def text_of(html: str) -> str:
    """What a person reads: the page without tags and attributes."""
    return re.sub(r"<[^>]+>", " ", html)


def test_the_case_list_names_owners_and_shows_the_subject(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    ownership.take(rt, case_id, "U01ANA")
    page = client.get("/cases").get_data(as_text=True)
    assert "<th>Subject</th>" in page
    row = page.split(f'href="/cases/{case_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Ana Souza" in row and "U01ANA" not in text_of(row)
    assert re.search(r'<td class="subject"><a [^>]*>[^<]*\w[^<]*</a></td>', row)
    assert "Ana Lima" in row  # the customer by name


def test_the_case_page_and_timeline_say_names(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    ownership.take(rt, case_id, "U01ANA")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    readable = text_of(page)
    assert "U01ANA" not in readable and "9001" not in readable
    assert "Acknowledged" in page and "by Ana Souza via Slack" in page
    assert "Ana Souza (Slack)" in page  # the actor column
    head = page.split('class="range"', 1)[1].split("</p>", 1)[0]
    priority = re.search(r'class="prio p-(\w+)">(\w+) priority</span>', head)
    assert priority and not re.search(rf"\b{priority.group(1)}:", text_of(head))  # no "normal: … (normal)" stutter


def test_someone_outside_the_roster(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    ownership.take(rt, case_id, "U09ZED")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "U09ZED" not in text_of(page) and "someone outside the roster" in page


def test_slack_users_info_names_them_once_and_is_cached(settings: Settings) -> None:
    with slack_stub() as (stub, url):
        stub.users["U09ZED"] = "Zed Okafor"
        configured = settings.with_overrides(extra={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": url})
        assert people_for(configured).slack_name("U09ZED") == "Zed Okafor"
        assert people_for(configured).slack_name("U09ZED") == "Zed Okafor"
        assert stub.methods().count("users.info") == 1  # the second page read the cache
        assert people_for(configured).slack_name("U0NOBODY") == "someone outside the roster"
    assert people_for(settings).slack_name("U09ZED") == "Zed Okafor"  # cached in the data dir for a day


def test_actors_and_customers_in_words() -> None:
    people = People(slack={"U01ANA": "Ana Souza"}, zendesk={"9001": "Ana Souza"})
    assert people.actor("slack:U01ANA") == "Ana Souza (Slack)"
    assert people.actor("zendesk:9001") == "Ana Souza (Zendesk)"
    assert people.actor("connector:zendesk") == "Zendesk"
    assert people.actor("bot:intercom") == "the bot (intercom)"
    assert people.mentions("*Owner*\n<@U01ANA> ✅ taken") == "*Owner*\n@Ana Souza ✅ taken"
    from bridge.config.people import customer_name

    assert customer_name({}) == "the customer" and customer_name({"email": "a@example.com"}) == "a@example.com"


def test_the_dashboards_owner_breakdown_names_people(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    ownership.take(rt, case_id, "U01ANA")
    page = client.get("/dashboard?days=30&breakdown=owner").get_data(as_text=True)
    assert "Breakdown by owner" in page and "Ana Souza" in page
    assert "U01ANA" not in text_of(page)
