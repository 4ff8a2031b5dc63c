"""Issue 20, Slack allow-list: only whom the routing file names may take, reassign or approve from Slack;
a refused click changes nothing, is answered privately and is on the case's timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.pipeline.permissions import allows
from bridge.pipeline.route_config import RoutingError
from bridge.pipeline.routing_file import load_routing
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from tests.web.test_slack_actions import ROUTING, SIGNING, action_body, case_of, click, escalate, kinds

PERMISSIONS = """
slack_permissions:
  take: [roster, U0OUTSIDER]
  reassign: [leads]
  approve: [team:support]
"""


def _env(settings: Settings, tmp_path: Path, extra: str = PERMISSIONS) -> tuple[Runtime, FlaskClient]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING + extra)
    rt = Runtime.build(settings.with_overrides(extra={"ROUTING_FILE": str(path), "SLACK_SIGNING_SECRET": SIGNING}))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def test_someone_not_listed_cannot_take_and_is_told_privately(settings: Settings, tmp_path: Path) -> None:
    rt, client = _env(settings, tmp_path)
    case_id = escalate(rt, client)
    assert click(client, action_body(case_id, "U0STRANGER")).status_code == 200
    case = case_of(rt, case_id)
    assert case.acknowledged_at is None and case.owner != "U0STRANGER"
    assert "action.denied" in kinds(rt, case_id)
    with rt.store.session() as s:
        denied = [t for t in repo.timeline_of(s, case_id) if t.kind == "action.denied"]
        answers = [d for d in repo.deliveries_of(s, case_id) if d.step.startswith("slack.ephemeral#")]
    assert denied[0].actor == "slack:U0STRANGER" and denied[0].detail == {"action": "take", "user": "U0STRANGER"}
    assert answers and answers[0].payload["user"] == "U0STRANGER" and "not allow" in answers[0].payload["text"]
    run_due(rt)
    written = json.loads((rt.settings.outbox_dir / case_id / f"{answers[0].step}.json").read_text())
    assert "routing file does not allow you to take" in json.dumps(written)


def test_listed_users_and_groups_may_act(settings: Settings, tmp_path: Path) -> None:
    rt, client = _env(settings, tmp_path)
    case_id = escalate(rt, client)
    click(client, action_body(case_id, "U0OUTSIDER"))  # listed by id although on no team
    assert case_of(rt, case_id).owner == "U0OUTSIDER"
    other = escalate(rt, client, "conv-2")
    click(client, action_body(other, "U0BEN", "not_mine"))  # a member, but reassigning is for leads
    assert "action.denied" in kinds(rt, other)
    click(client, action_body(other, "U0LIA", "reassign", selected_user="U0BEN"))
    assert case_of(rt, other).owner == "U0BEN"


def test_an_approval_needs_permission_too(settings: Settings, tmp_path: Path) -> None:
    rt, client = _env(settings, tmp_path)
    case_id = escalate(rt, client)
    click(client, action_body(case_id, "U0OUTSIDER", "approve_update", value="1"))
    with rt.store.session() as s:
        denied = [t.detail for t in repo.timeline_of(s, case_id) if t.kind == "action.denied"]
    assert denied == [{"action": "approve", "user": "U0OUTSIDER"}]


def test_without_a_list_everyone_may_act_as_before(settings: Settings, tmp_path: Path) -> None:
    rt, client = _env(settings, tmp_path, extra="")
    case_id = escalate(rt, client)
    click(client, action_body(case_id, "U0STRANGER"))
    assert case_of(rt, case_id).owner == "U0STRANGER" and "action.denied" not in kinds(rt, case_id)


def test_entries_are_checked_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING + "slack_permissions:\n  take: ['@support-leads']\n")
    with pytest.raises(RoutingError, match="slack_permissions"):
        load_routing(path)


@pytest.mark.parametrize("entry,user,allowed", [
    ("U0ANA", "U0ANA", True), ("roster", "U0BEN", True), ("roster", "U0X", False), ("leads", "U0LIA", True),
    ("leads", "U0ANA", False), ("team:support", "U0ANA", True), ("team:gone", "U0ANA", False),
])
def test_entries(tmp_path: Path, entry: str, user: str, allowed: bool) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING + f"slack_permissions:\n  take: ['{entry}']\n")
    assert allows(load_routing(path), "take", user) is allowed
