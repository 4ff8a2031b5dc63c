"""`bridge route FILE` and `bridge route --replay`: the decision and why, and what a rule change would do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli.common import parse_since
from bridge.cli.route import route_command
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store.migrate import upgrade
from bridge.store.models import ESCALATED, RESOLVED, CaseRow
from tests.helpers import generic_event

ROUTING = """
default_team: support
teams:
  - id: support
    slack_channel: "#support"
    fallback_channel: "#support-late"
    timezone: Europe/Berlin
    hours: "mon-fri 09:00-17:00"
    members:
      - {name: Ana, slack_user_id: U0ANA, languages: [en, pt]}
      - {name: Ben, slack_user_id: U0BEN, languages: [en]}
  - id: vip
    slack_channel: "#vip"
    timezone: America/New_York
    members:
      - {name: Vic, slack_user_id: U0VIC}
rules:
  - name: enterprise
    when: {plans: [enterprise]}
    then: {team: vip, priority_floor: high}
"""
MONDAY = "2026-06-01T10:00:00+00:00"  # 12:00 in Berlin


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("DATABASE_URL", "REDIS_URL", "ROUTING_FILE", "SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "routing.yaml").write_text(ROUTING)
    return {"BRIDGE_DATA_DIR": str(tmp_path / "var"), "ROUTING_FILE": str(tmp_path / "routing.yaml")}


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(route_command, list(args), env=env, catch_exceptions=False)


def event_file(tmp_path: Path, plan: str = "pro", language: str | None = None) -> Path:
    event = generic_event()
    event["customer"]["plan"] = plan
    if language:
        event["conversation"]["language"] = language
    path = tmp_path / f"event-{plan}.json"
    path.write_text(json.dumps(event))
    return path


def test_route_prints_the_decision_and_why(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(env, str(event_file(tmp_path, language="pt-BR")), "--at", MONDAY)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "team:     support (support), rule 'default'" in out
    assert "owner:    Ana <@U0ANA>" in out
    assert "✗ enterprise: plan pro not in enterprise" in out
    assert "→ Ana: chosen, on shift (Mon 12:00 Europe/Berlin), speaks pt, 0 open cases" in out
    assert "✗ Ben: skipped, does not speak pt" in out
    assert "language pt" in out and "low_confidence" in out.split("facts:")[1].splitlines()[0]


def test_route_json_and_routing_override(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(env, str(event_file(tmp_path, plan="enterprise")), "--json", "--at", MONDAY)
    data = json.loads(result.output)
    assert (data["team"], data["rule"], data["owner"]["slack_user_id"]) == ("vip", "enterprise", "U0VIC")
    assert data["priority"] == "high" and data["escalation"]["ack_timeout_minutes"] == 15
    other = tmp_path / "other.yaml"
    other.write_text(ROUTING.replace("plans: [enterprise]", "plans: [gold]"))
    moved = json.loads(run(env, str(event_file(tmp_path, plan="enterprise")), "--json", "--at", MONDAY,
                           "--routing", str(other)).output)
    assert moved["team"] == "support"


def test_route_nobody_on_shift_and_default_routing(tmp_path: Path, env: dict[str, str]) -> None:
    saturday = run(env, str(event_file(tmp_path)), "--at", "2026-06-06T10:00:00+00:00")
    assert "NO ONE ON SHIFT: alert #support-late" in saturday.output
    assert "off shift (Sat 12:00 Europe/Berlin)" in saturday.output
    bare = {k: v for k, v in env.items() if k != "ROUTING_FILE"} | {"SLACK_CHANNEL": "#help"}
    out = run(bare, str(event_file(tmp_path)), "--at", MONDAY).output
    assert "built-in default" in out and "NO ONE ON SHIFT: alert #help" in out
    assert "the team has no members" in out


def test_invalid_routing_file_and_event_are_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    Path(env["ROUTING_FILE"]).write_text(ROUTING.replace("team: vip", "team: vips"))
    result = CliRunner().invoke(route_command, [str(event_file(tmp_path))], env=env)
    assert result.exit_code == 2
    assert "routing.yaml:20: rules[0].then.team: unknown team 'vips'" in result.stderr
    Path(env["ROUTING_FILE"]).write_text(ROUTING)
    bad = tmp_path / "bad.json"
    bad.write_text('{"event_id": "x"}')
    result = CliRunner().invoke(route_command, [str(bad)], env=env)
    assert result.exit_code == 2 and result.stderr.startswith("bad.json: ")
    assert run(env).exit_code == 2  # neither FILE nor --replay
    assert run(env, str(bad), "--replay").exit_code == 2


def test_parse_since() -> None:
    assert parse_since("30d") == timedelta(days=30) and parse_since("12h") == timedelta(hours=12)
    with pytest.raises(Exception, match="30d"):
        parse_since("month")


def add_case(rt: Runtime, case_id: str, at: datetime, team: str | None, owner: str | None, plan: str = "pro",
             resolved: datetime | None = None) -> None:
    event = generic_event(conversation_id=case_id)
    event["customer"]["plan"] = plan
    with rt.store.session() as session:
        session.add(CaseRow(id=case_id, platform="generic", conversation_id=case_id,
                            status=RESOLVED if resolved else ESCALATED, triggers=["customer_requested_human"],
                            decision=None, priority="normal", team=team, owner=owner, event=event, refs={},
                            created_at=at, updated_at=at, escalated_at=at, resolved_at=resolved))
        session.commit()


def test_replay_reroutes_stored_cases_and_shows_what_changes(tmp_path: Path, env: dict[str, str]) -> None:
    rt = Runtime.build(Settings(data_dir=tmp_path / "var"))
    upgrade(rt.store)
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    mon = datetime(2026, 6, 8, 10, 0, tzinfo=UTC)
    add_case(rt, "c-old", now - timedelta(days=40), "support", "U0ANA")  # outside the window
    add_case(rt, "c-1", mon, "support", "U0ANA")                        # unchanged
    add_case(rt, "c-2", mon + timedelta(minutes=5), "support", "U0ANA")  # Ana has c-1 open: Ben
    add_case(rt, "c-3", mon + timedelta(minutes=9), "support", "Ana", plan="enterprise")  # rule moves it
    add_case(rt, "c-4", datetime(2026, 6, 6, 10, 0, tzinfo=UTC), "support", "U0BEN")  # Saturday: nobody
    result = run(env, "--replay", "--since", "30d", "--at", now.isoformat())
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Replaying 4 escalated case(s)" in out and "c-old" not in out
    assert "c-1" not in out  # unchanged cases are listed only with --explain
    assert "~ c-2 · 2026-06-08 10:05 UTC · team support · owner U0ANA → Ben <@U0BEN>" in out
    assert "~ c-3" in out and "team support → vip" in out and "owner Ana → Vic <@U0VIC>" in out
    assert "~ c-4" in out and "owner U0BEN → no one on shift" in out
    assert "4 case(s): 3 would change (1 team, 3 owner), 1 unchanged" in out
    data = json.loads(run(env, "--replay", "--since", "30d", "--at", now.isoformat(), "--json").output)
    assert [(c["case"], c["changes"]) for c in data["cases"]] == [
        ("c-4", ["owner"]), ("c-1", []), ("c-2", ["owner"]), ("c-3", ["team", "owner"])]
    explained = run(env, "--replay", "--since", "30d", "--at", now.isoformat(), "--explain").output
    assert "= c-1" in explained and "    owner:    Ana <@U0ANA>" in explained


def test_replay_without_a_store_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(route_command, ["--replay"], env=env)
    assert result.exit_code == 2 and "cannot read cases from the store" in result.stderr
