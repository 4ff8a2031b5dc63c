"""What a first-time user meets: the login link, `bridge doctor`, `bridge secret`, quiet commands,
`.env` for every process, `.env.example` and the Procfile the README shows."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bridge.cli import main
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.web import auth
from tests.helpers import SECRET, dumps, generic_event, signed_headers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("DATABASE_URL", "REDIS_URL", "BRIDGE_ADMIN_TOKEN", "BRIDGE_USERS", "ROUTING_FILE",
                 "BRIDGE_PUBLIC_URL", "BRIDGE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return {"BRIDGE_DATA_DIR": str(tmp_path / "var"), "GENERIC_WEBHOOK_SECRET": SECRET}


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


# --- first login ---------------------------------------------------------------------------------

def open_settings(settings: Settings) -> Settings:
    return settings.with_overrides(admin_token="")


def test_a_login_link_works_once_then_never_again(settings: Settings) -> None:
    from bridge.runtime import utcnow

    s = open_settings(settings)
    now = utcnow()
    token = auth.issue_login_token(s, now)
    assert not list((s.data_dir / "login-links").glob(f"*{token}*"))  # only its hash is kept
    assert auth.redeem_login_token(s, token, now)
    assert not auth.redeem_login_token(s, token, now)
    late = auth.issue_login_token(s, now)
    assert not auth.redeem_login_token(s, late, now + timedelta(hours=25))
    configured = auth.issue_login_token(s, now)
    assert not auth.redeem_login_token(s.with_overrides(admin_token="admin-token-0123456789-abcdef"), configured, now)


def test_the_link_signs_in_to_the_dashboard(settings: Settings) -> None:
    from bridge import create_app
    from bridge.runtime import install
    from bridge.store.migrate import upgrade

    rt = install(Runtime.build(open_settings(settings)))
    upgrade(rt.store)
    client: FlaskClient = create_app(rt=rt).test_client()
    login_page = client.get("/login").get_data(as_text=True)
    assert "bridge login-link" in login_page and 'type="password"' not in login_page
    link = auth.login_link(rt.settings, rt.clock())
    assert link.startswith("http://127.0.0.1:8000/login/link/")
    path = link.removeprefix("http://127.0.0.1:8000")
    first = client.get(path)
    assert first.status_code == 302 and first.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    other = create_app(rt=rt).test_client()
    again = other.get(path)
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    assert other.get("/dashboard").status_code == 302
    # Once a login is configured, the link sessions end.
    rt.settings = rt.settings.with_overrides(admin_token="now-configured-token-0123456789")
    assert client.get("/dashboard").status_code == 302


def test_login_link_command_and_its_refusal_when_a_login_exists(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "login-link")
    assert result.exit_code == 0 and re.fullmatch(r"http://127\.0\.0\.1:8000/login/link/[\w-]+\n", result.stdout)
    public = run({**cli_env, "BRIDGE_PUBLIC_URL": "https://bridge.example.com/"}, "login-link")
    assert public.stdout.startswith("https://bridge.example.com/login/link/")
    refused = run({**cli_env, "BRIDGE_ADMIN_TOKEN": "admin-token-0123456789-abcdef"}, "login-link")
    assert refused.exit_code == 1 and "a login is configured" in refused.stderr


def test_user_hash_says_how_to_quote_the_dollar_signs() -> None:
    from bridge.cli.users import user_hash

    result = CliRunner().invoke(user_hash, ["ana", "--password", "s3cret-pass"])
    assert "$" in result.stdout
    assert f"BRIDGE_USERS='{result.stdout.strip()}'" in result.stderr


# --- doctor, secret, quiet commands --------------------------------------------------------------

def test_doctor_reports_login_routing_public_url_and_secret_key(cli_env: dict[str, str], tmp_path: Path) -> None:
    lines = run(cli_env, "doctor").stdout.splitlines()
    assert any(line.startswith("ok  login: no login configured: `bridge serve` prints a one-time login link")
               for line in lines)
    assert any(line.startswith("ok  routing: ROUTING_FILE unset") for line in lines)
    assert any(line.startswith("ok  public url: BRIDGE_PUBLIC_URL unset") for line in lines)
    assert any(line.startswith("ok  secret key: BRIDGE_SECRET_KEY unset") for line in lines)

    routing = tmp_path / "routing.yaml"
    routing.write_text((ROOT / "examples" / "routing.yaml").read_text())
    configured = run({**cli_env, "ROUTING_FILE": str(routing), "BRIDGE_ADMIN_TOKEN": "admin-token-0123456789-abcdef",
                      "BRIDGE_PUBLIC_URL": "https://bridge.example.com"}, "doctor").stdout
    assert re.search(r"ok  routing: ROUTING_FILE \S+routing.yaml: \d+ team\(s\), \d+ member\(s\)", configured)
    assert "ok  login: dashboard sign-in with the admin token" in configured
    assert "ok  public url: case links point at https://bridge.example.com/cases/" in configured

    routing.write_text("teams: [{id: x, members: [{name: A}]}]\nbogus: 1\n")
    broken = run({**cli_env, "ROUTING_FILE": str(routing)}, "doctor")
    assert broken.exit_code == 1 and "FAIL routing: ROUTING_FILE" in broken.stdout


def test_doctor_fails_without_a_shared_secret_key_when_web_and_worker_run_apart(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    result = run(env, "doctor")
    assert result.exit_code == 1
    assert "FAIL secret key: BRIDGE_SECRET_KEY unset while web and worker run apart" in result.stdout
    assert "WARN login: no login configured" in result.stdout
    assert "Error" not in result.stdout  # the store's reason in words, no exception class
    shared = run({**env, "BRIDGE_SECRET_KEY": "k" * 40}, "doctor").stdout
    assert "ok  secret key: BRIDGE_SECRET_KEY set" in shared


def test_secret_prints_a_fresh_standard_webhooks_secret(cli_env: dict[str, str]) -> None:
    first, second = run(cli_env, "secret").stdout.strip(), run(cli_env, "secret").stdout.strip()
    assert first != second and first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert "GENERIC_WEBHOOK_SECRET" in run(cli_env, "secret").stderr
    plain = run(cli_env, "secret", "--plain").stdout.strip()
    assert re.fullmatch(r"[\w-]{40,}", plain)


def test_commands_are_quiet_unless_they_migrate(cli_env: dict[str, str]) -> None:
    first = run(cli_env, "dlq", "list")
    assert "alembic" not in first.stderr
    assert "bridge.db.migrated" in first.stderr  # an empty store was migrated: said once
    second = run(cli_env, "dlq", "list")
    assert second.stderr == "" and second.stdout == "no dead letters\n"
    assert run(cli_env, "dlq", "list", "--json").stdout.strip() == "[]"


def test_triage_of_a_handshake_says_so_without_a_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "create-remote-user.json"
    path.write_text(json.dumps({"type": "createRemoteUser", "payload": {"name": "Priya", "email": "p@example.com"}}))
    for command in (("triage", "--source", "botpress"), ("parse", "--source", "botpress")):
        result = CliRunner().invoke(main, [*command, str(path)], env=cli_env)
        assert result.exit_code == 2 and "verification handshake" in result.stderr
        assert "Traceback" not in result.output and "bridge.adapters" not in result.output


def test_metrics_labels_stay_bounded(client: FlaskClient, rt: Runtime) -> None:
    from datetime import UTC, datetime

    from bridge.store.models import DeliveryRow
    from bridge.worker.runner import run_due

    body = dumps(generic_event())
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    now = datetime.now(UTC)
    with rt.store.session() as s:
        for n in (108, 110, 111):
            s.add(DeliveryRow(case_id=case_id, step=f"slack.thread#{n}", after=None, status="done", attempts=1,
                              next_attempt_at=now, created_at=now, updated_at=now, dry_run=True))
        s.commit()
    text = client.get("/metrics").get_data(as_text=True)
    assert "#" not in "".join(line for line in text.splitlines() if line.startswith("bridge_deliveries{"))
    assert 'bridge_deliveries{status="done",step="slack.thread"} 3.0' in text


# --- one configuration for every process -------------------------------------------------------------

def test_wsgi_reads_dotenv_like_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "from-dotenv"
    (tmp_path / ".env").write_text(f"BRIDGE_DATA_DIR={data}\nBRIDGE_ADMIN_TOKEN=from-dotenv-token-0123456789\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DATABASE_URL", "REDIS_URL"))}
    env["PYTHONPATH"] = str(ROOT)
    code = (f"import runpy; m = runpy.run_path({str(ROOT / 'wsgi.py')!r}); s = m['runtime'].settings; "
            "print(s.data_dir, s.admin_token)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "from-dotenv"), "from-dotenv-token-0123456789"]


def _readme_table_names() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_env_example_lists_every_variable_with_its_default() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$", example, re.M))
    missing = sorted(_readme_table_names() - set(listed))
    assert not missing, f".env.example lacks {missing}"
    assert listed["BRIDGE_DATA_DIR"] == "./var" and listed["PORT"] == "8000"
    # Nothing is set by copying it: every line is a comment, so the defaults stay defaults.
    assert all(not line.strip() or line.startswith("#") for line in example.splitlines())


def test_settings_read_only_documented_names() -> None:
    """Every BRIDGE_* name the code reads is in the README's table (and so in .env.example)."""
    documented = _readme_table_names()
    read: set[str] = set()
    for path in [*(ROOT / "bridge").rglob("*.py"), *(ROOT / "connectors").rglob("*.py")]:
        read |= set(re.findall(r"[\"'](BRIDGE_[A-Z0-9_]+)[\"']", path.read_text()))
    assert not read - documented - {"BRIDGE_SHARED_DIR"}, sorted(read - documented)


def test_readme_procfile_block_is_the_procfile() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("The `Procfile` runs the same code at scale:", 1)[1].split("```", 2)[1]
    assert block.strip("\n").removeprefix("\n") == (ROOT / "Procfile").read_text().strip("\n")
    assert "--bind ${BRIDGE_HOST:-0.0.0.0}:${PORT:-8000}" in (ROOT / "Procfile").read_text()
