"""Routing at escalation: exactly one named owner, the same across the case, Zendesk and Slack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bridge import create_app
from bridge.cli import main
from bridge.config import Settings
from bridge.pipeline.route_config import RoutingError
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from tests.helpers import SECRET, generic_event, post_generic

ROUTING = """
default_team: support
teams:
  - id: support
    name: Support
    zendesk_group_id: 111
    slack_channel: "#support"
    hours: "24/7"
    members:
      - {name: Ana, slack_user_id: U0ANA, zendesk_agent_id: 901, languages: [en, pt]}
      - {name: Ben, slack_user_id: U0BEN, zendesk_agent_id: 902, languages: [en]}
  - id: billing
    name: Billing desk
    zendesk_group_id: 222
    jira: {project: FIN}
    slack_channel: "#billing"
    hours: "24/7"
    members:
      - {name: Cleo, slack_user_id: U0CLEO, zendesk_agent_id: 903, jira_account_id: acc-cleo, languages: [en]}
rules:
  - name: money
    when: {triggers: [billing_exception]}
    then: {team: billing, file_jira: true}
"""


@pytest.fixture
def routed(settings: Settings, tmp_path: Path) -> tuple[Runtime, FlaskClient]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path)}))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def _outbox(rt: Runtime, case_id: str, step: str) -> dict[str, Any]:
    return json.loads((rt.settings.outbox_dir / case_id / f"{step}.json").read_text())["request"]  # type: ignore[no-any-return]


def test_one_owner_named_in_the_case_the_ticket_and_the_alert(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    answer = post_generic(client, generic_event(), status=(202,))
    run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, answer["case"])
        assert case is not None and case.team == "support" and case.owner in ("U0ANA", "U0BEN")
        kinds = [t.kind for t in repo.timeline_of(s, case.id)]
        routed_entry = next(t for t in repo.timeline_of(s, case.id) if t.kind == "case.routed")
    assert "case.routed" in kinds and routed_entry.detail["owner"]["slack_user_id"] == case.owner
    ticket = _outbox(rt, case.id, "zendesk.ticket")
    agent = {"U0ANA": 901, "U0BEN": 902}[case.owner]
    assert ticket["group_id"] == 111 and ticket["assignee_id"] == agent
    alert = _outbox(rt, case.id, "slack.alert")
    assert alert["channel"] == "#support" and f"<@{case.owner}>" in json.dumps(alert["blocks"])


def _escalate_in_turn(rt: Runtime, client: FlaskClient, prefix: str, n: int) -> list[str | None]:
    """Escalate ``n`` conversations one after another; the owner each was routed to."""
    owners = []
    for i in range(n):
        answer = post_generic(client, generic_event(conversation_id=f"{prefix}-{i}"), status=(202,))
        run_due(rt)
        with rt.store.session() as s:
            owners.append(repo.get_case(s, answer["case"]).owner)  # type: ignore[union-attr]
    return owners


def test_least_loaded_then_round_robin(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    owners = _escalate_in_turn(rt, client, "conv-rr", 3)
    assert owners[0] != owners[1] and set(owners[:2]) == {"U0ANA", "U0BEN"}


def test_the_turn_is_read_per_team_from_its_latest_escalation(routed: tuple[Runtime, FlaskClient]) -> None:
    """Round robin continues after each team's latest owner: read per team (one index step), not by
    grouping every owned case of the store on each escalation."""
    rt, client = routed
    owners = _escalate_in_turn(rt, client, "conv-turn", 3)
    money = generic_event(conversation_id="conv-turn-money")
    money["handoff"] = {"requested_by": "bot", "reason": "customer disputes a duplicate charge, wants a refund"}
    post_generic(client, money, status=(202,))
    run_due(rt)
    with rt.store.session() as s:
        per_team = repo.last_assigned(s, ["support", "billing", "nobody-here"])
        assert per_team == {"support": owners[-1], "billing": "U0CLEO"}
        assert per_team == repo.last_assigned(s)  # the same answer as the grouped query
        assert repo.last_assigned(s, ["billing"]) == {"billing": "U0CLEO"}


def test_a_rule_routes_money_to_billing_and_files_jira(routed: tuple[Runtime, FlaskClient]) -> None:
    rt, client = routed
    event = generic_event(conversation_id="conv-money")
    event["handoff"] = {"requested_by": "bot", "reason": "customer disputes a duplicate charge, wants a refund"}
    answer = post_generic(client, event, status=(202,))
    run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, answer["case"])
        steps = {d.step: d.status for d in repo.deliveries_of(s, answer["case"])}
    assert case is not None and "billing_exception" in case.triggers
    assert case.team == "billing" and case.owner == "U0CLEO"
    assert steps == {"zendesk.ticket": "done", "slack.alert": "done", "slack.dm": "done", "jira.bug": "done",
                     "zendesk.link": "done", "slack.update#bug": "done",
                     "slack.page#1": "pending"}  # the page waits for the ack timeout
    assert _outbox(rt, answer["case"], "jira.bug")["project"] == {"key": "FIN"}


def test_no_routing_file_means_a_visible_no_one_on_shift(client: FlaskClient, rt: Runtime) -> None:
    answer = post_generic(client, generic_event(), status=(202,))
    run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, answer["case"])
    assert case is not None and case.team == "support" and case.owner is None
    alert = _outbox(rt, answer["case"], "slack.alert")
    assert "No one on shift" in json.dumps(alert["blocks"])


def test_invalid_routing_is_refused_at_start(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING.replace("then: {team: billing", "then: {team: nowhere"))
    with pytest.raises(RoutingError) as excinfo:
        create_app(rt=Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path)})))
    assert f"{path}:" in str(excinfo.value) and "nowhere" in str(excinfo.value)
    env = {"BRIDGE_DATA_DIR": str(tmp_path / "var"), "GENERIC_WEBHOOK_SECRET": SECRET, "ROUTING_FILE": str(path)}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1 and "invalid ROUTING_FILE" in result.output


def test_a_broken_edit_while_running_keeps_the_last_good_routing(routed: tuple[Runtime, FlaskClient]) -> None:
    import os

    rt, client = routed
    path = Path(rt.settings.get("ROUTING_FILE"))
    assert rt.routing().team("billing").id == "billing"
    path.write_text("teams: [oops")
    os.utime(path, (1, 1))  # a different mtime, so the file is read again
    assert rt.routing().team("billing").id == "billing"


def test_links_to_the_ticket_and_the_case_page_reach_the_alert(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    extra = {"ROUTING_FILE": str(path), "BRIDGE_PUBLIC_URL": "https://bridge.example.com",
             "ZENDESK_SUBDOMAIN": "acme"}
    rt = Runtime.build(settings.with_overrides(extra=extra))
    upgrade(rt.store)
    answer = post_generic(create_app(rt=rt).test_client(), generic_event(), status=(202,))
    run_due(rt)
    alert = _outbox(rt, answer["case"], "slack.alert")
    buttons = next(b for b in alert["blocks"] if b["type"] == "actions")["elements"]
    case_button = next(b for b in buttons if b["action_id"] == "open_case")
    assert case_button["url"].startswith(f"https://bridge.example.com/cases/{answer['case']}?sig=")
    ticket = _outbox(rt, answer["case"], "zendesk.ticket")
    assert "Case page (package, timeline, owner): https://bridge.example.com/cases/" in ticket["comment"]["body"]


def test_two_escalations_at_the_same_instant_get_different_owners(
    any_store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers escalating into one team at once: each must see the other's owner. The load read
    is slowed so that, without the routing lock, both would read "nobody holds a case" and pick the
    same person (they did on PostgreSQL)."""
    import threading
    import time

    from bridge.worker import jobs

    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = Runtime.build(any_store_settings.with_overrides(extra={"ROUTING_FILE": str(path)}))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    keys = [post_generic(client, generic_event(conversation_id=f"conv-race-{i}"), status=(202,))["event"]
            for i in range(2)]

    counts = repo.open_case_counts

    def slow_counts(session: Any) -> dict[str, int]:
        seen = counts(session)
        time.sleep(0.5)  # the window in which the other worker routes
        return seen

    monkeypatch.setattr(repo, "open_case_counts", slow_counts)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def work(key: str) -> None:
        start.wait()
        outcomes.append(jobs.process_event(key, rt))

    threads = [threading.Thread(target=work, args=(key,)) for key in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes == ["processed", "processed"]
    with rt.store.session() as s:
        owners = [repo.get_case(s, repo.get_inbox(s, key).case_id).owner for key in keys]  # type: ignore[union-attr]
    assert sorted(owners) == ["U0ANA", "U0BEN"]  # type: ignore[type-var]
