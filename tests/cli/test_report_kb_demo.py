"""bridge seed-demo, report and kb: a seeded month through the real pipeline shows every metric."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli.demo import seed_demo
from bridge.cli.kb import kb_group
from bridge.cli.report import report


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("ZENDESK_SUBDOMAIN", "SLACK_BOT_TOKEN", "JIRA_URL", "REDIS_URL", "DATABASE_URL", "ROUTING_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return {"BRIDGE_DATA_DIR": str(tmp_path / "var")}


def test_seed_demo_then_report_shows_every_metric(env: dict[str, str]) -> None:
    runner = CliRunner()
    seeded = runner.invoke(seed_demo, ["--days", "20", "--cases", "45", "--seed", "3"], env=env)
    assert seeded.exit_code == 0, seeded.output
    counts = json.loads(seeded.stdout.strip().splitlines()[-1])
    assert counts["escalated"] > 10 and counts["proactive"] >= 1

    out = runner.invoke(report, ["--since", "30d", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    totals = {v["metric"]: v["value"] for v in data["totals"]}
    for metric in ("conversations", "escalations", "escalation_rate", "time_to_ack_median_s",
                   "time_to_first_useful_response_median_s", "time_to_first_useful_response_p90_s", "csat",
                   "csat_baseline", "reopen_rate", "repeat_contact_rate", "kb_suggestions"):
        assert totals[metric] is not None, metric
    assert 0 < totals["escalation_rate"] < 1
    assert sum(data["cohorts"].values()) == totals["escalations"]

    table = runner.invoke(report, ["--since", "30d"], env=env)
    assert "escalation_rate" in table.stdout and "by trigger:" in table.stdout
    rows = list(csv.DictReader(io.StringIO(runner.invoke(report, ["--since", "30d", "--csv"], env=env).stdout)))
    assert {"dimension", "key", "metric", "value"} <= set(rows[0])
    assert any(r["dimension"] == "trigger" for r in rows)


def test_kb_list_and_done(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(seed_demo, ["--days", "10", "--cases", "30", "--seed", "11"], env=env).exit_code == 0
    listed = runner.invoke(kb_group, ["list", "--status", "suggested", "--json"], env=env)
    suggestions = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    if not suggestions:
        pytest.skip("this seed drafted no open suggestion")
    ident = str(suggestions[0]["id"])
    done = runner.invoke(kb_group, ["done", ident, "--by", "U01ANA"], env=env)
    assert done.exit_code == 0 and "marked done" in done.stdout
    again = runner.invoke(kb_group, ["done", ident], env=env)
    assert again.exit_code == 2


def test_seed_demo_refuses_live_vendors(env: dict[str, str]) -> None:
    result = CliRunner().invoke(seed_demo, ["--cases", "1"], env=env | {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.exit_code != 0 and "dry-run" in result.output


def test_seed_demo_is_quiet_uses_several_platforms_and_the_example_routing(env: dict[str, str], tmp_path: Path) -> None:
    import re
    import shutil

    from click.testing import CliRunner

    from bridge.cli import main

    (tmp_path / "examples").mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "routing.yaml", tmp_path / "examples")
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed-demo", "--days", "14", "--cases", "40", "--seed", "5"], env=env)
    assert seeded.exit_code == 0, seeded.output
    logged = [line for line in seeded.stderr.splitlines() if line.startswith("{")]
    assert all('"bridge.db.migrated"' in line for line in logged), logged  # no line per event
    assert "ROUTING_FILE=examples/routing.yaml" in seeded.stderr
    assert re.search(r"40 conversations over 14 days in [\d.]+ s: \d+ escalated \(", seeded.stderr)
    from sqlalchemy import select

    from bridge.config import Settings
    from bridge.runtime import Runtime
    from bridge.store.models import CaseRow

    rt = Runtime.build(Settings.from_env(env))
    with rt.store.session() as s:
        platforms = set(s.scalars(select(CaseRow.platform).where(CaseRow.escalated_at.is_not(None))))
    assert {"generic", "rasa"} <= platforms or {"generic", "dialogflow-cx"} <= platforms, platforms
    # With the routing file the demo named, a replay agrees with what the demo stored.
    replay = runner.invoke(main, ["route", "--replay", "--since", "30d"],
                           env=env | {"ROUTING_FILE": "examples/routing.yaml"})
    total, changed = map(int, re.search(r"(\d+) case\(s\): (\d+) would change", replay.stdout).groups())
    assert total > 10 and changed <= total // 4, replay.stdout


def test_seed_reports_progress_per_conversation(env: dict[str, str]) -> None:
    from bridge.cli.demo import seed
    from bridge.config import Settings
    from bridge.runtime import Runtime, install
    from bridge.store.migrate import upgrade

    settings = Settings.from_env(env)
    secrets = {"generic": ("whsec_ZGVtby1zZWVkLXNlY3JldC1mb3ItcmVjb3ZlcnktYnJpZGdl",),
               "zendesk": ("demo-zendesk-signing-secret",), "jira": ("demo-jira-shared-secret",),
               "rasa": ("demo-rasa-action-endpoint-token",), "dialogflow-cx": ("demo-dialogflow-cx-webhook-token",)}
    rt = install(Runtime.build(settings.with_overrides(webhook_secrets=secrets)))
    upgrade(rt.store)
    seen: list[int] = []
    seed(rt, days=5, cases=12, seed_value=2, progress=seen.append)
    assert seen == list(range(1, 13))
