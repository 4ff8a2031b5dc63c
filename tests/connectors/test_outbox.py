"""The dry-run outbox as a person reads it: the ticket, the Slack alert and the bug rendered as text
(never JSON pasted into Markdown), with the case link, names instead of ids, and the same renderings
on the case page's Outbox tab."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from connectors.outbox import mrkdwn_to_markdown, render_markdown
from tests.helpers import dumps, generic_event, signed_headers

ROUTING = """
default_team: support
teams:
  - id: support
    name: Customer Support
    slack_channel: "#support"
    hours: "24/7"
    jira: {project: SUP}
    members:
      - {name: Ana Souza, slack_user_id: U01ANA, zendesk_agent_id: 9001, languages: [en]}
"""
BUG = {"console_logs": [{"level": "error", "message": "TypeError: total is undefined"}],
       "network_requests": [{"method": "POST", "url": "https://api.example.com/v1/pay", "status": 500}],
       "steps_to_reproduce": ["open the cart", "click Pay"]}


@pytest.fixture
def routed(settings: Settings, tmp_path: Path) -> tuple[Runtime, FlaskClient]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = install(Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path)})))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def _case(rt: Runtime, client: FlaskClient, **extra: object) -> str:
    messages = [{"id": "m1", "role": "customer", "text": "Checkout crashes with error 500 when I click Pay"},
                {"id": "m2", "role": "bot", "text": "Sorry, I could not find an answer.", "confidence": 0.2},
                {"id": "m3", "role": "customer", "text": "Can I talk to a person please?"}]
    body = dumps(generic_event(messages=messages, evidence=BUG, **extra))
    answer = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert answer.status_code == 202
    run_due(rt)
    return str(answer.get_json()["case"])


def _md(rt: Runtime, case_id: str, step: str) -> str:
    return (rt.settings.outbox_dir / case_id / f"{step}.md").read_text()


def test_the_ticket_reads_like_zendesk(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    md = _md(rt, case_id, "zendesk.ticket")
    request = json.loads((rt.settings.outbox_dir / case_id / "zendesk.ticket.json").read_text())["request"]
    assert md.startswith("# Zendesk ticket: dry run\n")
    assert f"[{case_id}](http://127.0.0.1:8000/cases/{case_id})" in md
    assert f"| Subject | {request['subject']} |" in md
    assert "| Requester | Ana Lima <ana@example.com> |" in md
    assert "| Assignee | Ana Souza |" in md  # the routing's name, not the agent id 9001
    assert "## Internal note (agents only)" in md
    note = md.split("## Internal note (agents only)", 1)[1]
    assert request["comment"]["body"].split("\n")[0] in note and "\\n" not in note  # real lines, not escapes
    assert "```json" not in md and '"body":' not in md


def test_the_slack_alert_reads_like_slack_with_its_buttons(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    md = _md(rt, case_id, "slack.alert")
    assert md.startswith("# Slack alert: dry run\n") and f"/cases/{case_id})" in md
    assert '"type"' not in md and "```json" not in md and "blocks" not in md
    assert "| Posted in | #support |" in md
    assert "> **Owner**: @Ana Souza" in md and "U01ANA" not in md  # a mention shows the name, as Slack does
    buttons = next(line for line in md.splitlines() if "Take case" in line)
    assert "**[ Take case ]**" in buttons and "**[ Reassign (pick a person) ▾ ]**" in buttons
    assert "**[ Not mine ]**" in buttons


def test_the_bug_reads_like_jira(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    md = _md(rt, case_id, "jira.bug")
    assert md.startswith("# Jira bug: dry run\n") and f"/cases/{case_id})" in md
    assert "| Project | SUP |" in md and "| Issue type | Bug |" in md
    assert "## Description (Jira wiki markup)" in md and "TypeError: total is undefined" in md
    assert "zendesk.ticket (dry run: the file of that name beside this one)" in md
    link = _md(rt, case_id, "zendesk.link")
    assert "Engineering bug filed" in link and "## Internal note (agents only)" in link


def test_markdown_renderings_are_deterministic_and_escape_nothing_into_markup() -> None:
    request = {"channel": "#support", "text": "x", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Issue*\nI typed &lt;script&gt; and `code`"}},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Case page"},
                                          "url": "https://bridge.example.com/cases/c-1"}]}]}
    once = render_markdown("slack.alert", request, "c-1", "https://bridge.example.com/cases/c-1")
    assert once == render_markdown("slack.alert", request, "c-1", "https://bridge.example.com/cases/c-1")
    assert "> **Issue**  \n> I typed &lt;script&gt; and `code`" in once
    assert "[Case page](https://bridge.example.com/cases/c-1)" in once
    assert mrkdwn_to_markdown("<https://x.example/a|open> <!here> _it_ snake_case_word") == \
        "[open](https://x.example/a) @here *it* snake_case_word"


def test_the_case_page_has_an_outbox_tab_showing_the_same(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    case_id = _case(rt, client)
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    client.post("/login", data={"csrf_token": token, "password": "admin-test-token-0123456789"})
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Outbox (" in page and f"/cases/{case_id}?tab=outbox" in page
    outbox = client.get(f"/cases/{case_id}?tab=outbox").get_data(as_text=True)
    for title in ("Zendesk ticket", "Slack alert", "Jira bug"):
        assert f"<h2>{title} <span class=\"chip\">dry run</span></h2>" in outbox
    assert "Internal note (agents only)" in outbox and '<span class="sbutton">Take case</span>' in outbox
    assert "<b>Owner</b>: @Ana Souza" in outbox and "U01ANA" not in re.sub(r"<[^>]+>", " ", outbox)  # text only
    assert "Transcript" not in outbox.split('id="outbox"')[0].split("casetabs")[1]  # the package tab is not shown


def test_the_outbox_tab_keeps_a_signed_links_signature(routed: tuple[Runtime, FlaskClient]) -> None:
    from bridge.config import keys

    rt, client = routed
    case_id = _case(rt, client)
    link = keys.case_link(rt.settings, case_id, rt.clock())
    page = client.get(link).get_data(as_text=True)
    tab = re.search(r'href="([^"]*tab=outbox[^"]*)"', page)
    assert tab and "sig=" in tab.group(1)
    assert client.get(tab.group(1).replace("&amp;", "&")).status_code == 200
