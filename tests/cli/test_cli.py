"""The `bridge` command: parse, db upgrade, dlq list, replay, doctor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge import create_app
from bridge.cli import main
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from connectors.outbox import OutboxConnector
from tests.helpers import SECRET, dumps, generic_event, signed_headers


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return {"BRIDGE_DATA_DIR": str(tmp_path / "var"), "GENERIC_WEBHOOK_SECRET": SECRET,
            "BRIDGE_RETRY_INTERVALS": "0"}


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_parse_prints_the_canonical_event(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(dumps(generic_event(event_id="evt-p")))
    result = run(cli_env, "parse", "--source", "generic", str(path))
    assert result.exit_code == 0
    event = json.loads(result.stdout)
    assert event["event_id"] == "evt-p" and event["conversation"]["messages"][0]["role"] == "customer"


@pytest.mark.parametrize(
    "content,reason",
    [(b"{not json", "invalid JSON"), (b'{"event_id": "x", "type": "handoff.requested"}', "conversation")],
)
def test_parse_rejects_with_exit_2_and_one_line(tmp_path: Path, cli_env: dict[str, str], content: bytes,
                                                reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = run(cli_env, "parse", "--source", "generic", str(path))
    assert result.exit_code == 2
    assert reason in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


def test_parse_unknown_source_is_exit_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "e.json"
    path.write_bytes(b"{}")
    result = run(cli_env, "parse", "--source", "nope", str(path))
    assert result.exit_code == 2 and "unknown source" in result.stderr


def test_db_upgrade_reports_the_revision(cli_env: dict[str, str]) -> None:
    from alembic.script import ScriptDirectory

    from bridge.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    result = run(cli_env, "db", "upgrade")
    assert result.exit_code == 0 and f"revision {head}" in result.stdout
    assert (Path(cli_env["BRIDGE_DATA_DIR"]) / "bridge.db").exists()


def test_dlq_list_and_replay(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env(cli_env)
    rt = Runtime.build(settings)
    upgrade(rt.store)
    real = OutboxConnector.send

    def broken(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        if step.name == "zendesk.ticket":
            raise TimeoutError("read timed out")
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", broken)
    body = dumps(generic_event())
    answer = create_app(rt=rt).test_client().post("/webhooks/generic", data=body, headers=signed_headers(body))
    case_id = answer.get_json()["case"]
    run_due(rt)
    listed = run(cli_env, "dlq", "list")
    assert listed.exit_code == 0
    assert "zendesk.ticket" in listed.stdout and case_id in listed.stdout and "read timed out" in listed.stdout
    as_json = json.loads(run(cli_env, "dlq", "list", "--json").stdout)
    assert [row["kind"] for row in as_json] == ["zendesk.ticket"]

    monkeypatch.undo()
    replayed = run(cli_env, "replay", as_json[0]["id"])
    assert replayed.exit_code == 0 and f"replayed {as_json[0]['id']}" in replayed.stdout
    assert run(cli_env, "dlq", "list").stdout.strip() == "no dead letters"
    assert json.loads(run(cli_env, "dlq", "list", "--json").stdout) == []
    assert (settings.outbox_dir / case_id / "zendesk.ticket.json").exists()
    again = run(cli_env, "replay", as_json[0]["id"])
    assert again.exit_code == 2 and "not a dead letter" in again.stderr


def test_replay_needs_exactly_one_target(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "replay").exit_code == 2
    assert run(cli_env, "replay", "hb-x", "--all-dead").exit_code == 2


def test_doctor_says_what_works(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "doctor")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok  store: sqlite reachable") for line in lines)
    assert any("zendesk: dry run to the outbox" in line for line in lines)
    assert any("webhook generic: 1 secret(s) configured" in line for line in lines)


def test_doctor_fails_on_unreachable_dependencies(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = run(env, "doctor")
    assert result.exit_code == 1
    assert "FAIL store: postgresql unreachable" in result.stdout and "FAIL redis: unreachable" in result.stdout


def test_bad_configuration_is_a_clear_error(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["doctor"], env={**cli_env, "GENERIC_WEBHOOK_SECRET": "  "})
    assert result.exit_code == 1 and "GENERIC_WEBHOOK_SECRET is set but empty" in result.output


def test_doctor_refuses_a_broken_triggers_file(tmp_path: Path, cli_env: dict[str, str]) -> None:
    broken = tmp_path / "triggers.yaml"
    broken.write_text("- just\n- a list\n")
    result = run({**cli_env, "BRIDGE_TRIGGERS_FILE": str(broken)}, "doctor")
    assert result.exit_code == 1
    assert "FAIL triggers:" in result.stdout and "mapping" in result.stdout


def test_package_command_is_registered(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(dumps(generic_event()))
    result = run(cli_env, "package", str(path), "--json")
    assert result.exit_code == 0
    package = json.loads(result.stdout)
    assert package["decision"]["escalate"] is True and package["opening_line"]


def test_dead_vendor_events_are_listed_and_replayed(cli_env: dict[str, str]) -> None:
    from datetime import UTC, datetime

    from bridge.store.models import VendorEventRow

    rt = Runtime.build(Settings.from_env(cli_env))
    upgrade(rt.store)
    now = datetime.now(UTC)
    with rt.store.session() as s:
        s.add(VendorEventRow(source="zendesk", delivery_id="inv-1", event_type="zen:event-type:ticket.status_changed",
                             body=b"{}", headers={}, received_at=now, state="dead", attempts=3,
                             last_error="ValueError: broken", next_attempt_at=now, updated_at=now))
        s.commit()
    listed = run(cli_env, "dlq", "list").stdout
    assert "ve-1  zendesk event" in listed and "broken" in listed and "ValueError" not in listed
    assert run(cli_env, "replay", "ve-1").exit_code == 0
    with rt.store.session() as s:
        assert s.get(VendorEventRow, 1).state != "dead"  # type: ignore[union-attr]
