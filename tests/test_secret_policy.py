"""Issue 20, item 3: no start with a guessable or malformed secret; the admin API takes only a bearer token."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bridge import create_app
from bridge.cli import main
from bridge.cli.serve import new_whsec
from bridge.config import ConfigError, Settings
from bridge.config.keys import secret_key
from bridge.config.secret_policy import problems
from bridge.signing import SignatureError, verify_standard_webhook
from tests.helpers import SECRET

WEAK_WHSEC = {
    "whsec_": "too short",  # an empty key: anyone can sign
    "whsec_AA": "too short",
    "whsec_=": "not a valid secret",
    "whsec_not*base64!": "not a valid secret",
    "whsec_" + "A" * 32: "placeholder",  # 24 zero bytes
}


@pytest.mark.parametrize("value,reason", sorted(WEAK_WHSEC.items()))
def test_the_app_refuses_a_weak_or_malformed_generic_secret(tmp_path: Path, value: str, reason: str) -> None:
    settings = Settings(data_dir=tmp_path, webhook_secrets={"generic": (SECRET, value)})
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "GENERIC_WEBHOOK_SECRET (value 2 of 2)" in message and reason in message
    assert value not in message.replace("whsec_ ", "")  # the value itself is never printed


@pytest.mark.parametrize("token", ["a", "admin", "x" * 30, "short-token-1234"])
def test_the_app_refuses_a_short_admin_token(tmp_path: Path, token: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_ADMIN_TOKEN is too weak"):
        create_app(Settings(data_dir=tmp_path, admin_token=token))


@pytest.mark.parametrize("slug,value", [("intercom", "abc"), ("chatwoot", "0123456789abcde")])
def test_platform_secrets_need_sixteen_characters(tmp_path: Path, slug: str, value: str) -> None:
    found = dict(problems(Settings(data_dir=tmp_path, webhook_secrets={slug: (value,)})))
    assert "at least 16 characters" in found[f"{slug.upper()}_WEBHOOK_SECRET"]


def test_slack_and_bot_callback_secrets_are_checked_too(tmp_path: Path) -> None:
    found = dict(problems(Settings(data_dir=tmp_path, extra={"SLACK_SIGNING_SECRET": "x1",
                                                             "BOT_CALLBACK_SECRET": "whsec_AA"})))
    assert set(found) == {"SLACK_SIGNING_SECRET", "BOT_CALLBACK_SECRET"}


def test_what_the_bridge_makes_itself_passes(tmp_path: Path) -> None:
    """`bridge secret`, `bridge secret --plain` and the quick start's defaults are strong."""
    plain = CliRunner().invoke(main, ["secret", "--plain"]).stdout.strip()
    settings = Settings(data_dir=tmp_path, webhook_secrets={"generic": (new_whsec(),), "ada": (new_whsec(),),
                                                            "botframework": ("app-id",)},
                        admin_token=plain, extra={"BOT_CALLBACK_SECRET": new_whsec()})
    assert list(problems(settings)) == []
    assert len(secret_key(settings)) >= 32
    create_app(settings)


def test_serve_and_doctor_refuse_naming_the_variable(tmp_path: Path) -> None:
    env = {"BRIDGE_DATA_DIR": str(tmp_path / "var"), "GENERIC_WEBHOOK_SECRET": "whsec_AA", "BRIDGE_ADMIN_TOKEN": "a"}
    served = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
    assert served.exit_code == 1
    assert "GENERIC_WEBHOOK_SECRET is too short" in served.output and "BRIDGE_ADMIN_TOKEN is too weak" in served.output
    doctor = CliRunner().invoke(main, ["doctor"], env=env)
    assert doctor.exit_code == 1
    assert "FAIL webhook generic: GENERIC_WEBHOOK_SECRET is too short" in doctor.output
    assert "FAIL BRIDGE_ADMIN_TOKEN: BRIDGE_ADMIN_TOKEN is too weak" in doctor.output
    malformed = CliRunner().invoke(main, ["doctor"], env={**env, "GENERIC_WEBHOOK_SECRET": "whsec_="})
    assert "GENERIC_WEBHOOK_SECRET is not a valid secret" in malformed.output


def test_a_malformed_secret_that_slips_through_is_a_signature_failure_not_a_crash() -> None:
    headers = {"webhook-id": "m1", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}
    for secrets in (["whsec_="], ["whsec_"], ["whsec_AA"]):
        with pytest.raises(SignatureError):
            verify_standard_webhook(b"{}", headers, secrets, time.time())


@pytest.mark.parametrize("header,status", [
    ("Bearer admin-test-token-0123456789", 404), ("bearer admin-test-token-0123456789", 404),
    ("admin-test-token-0123456789", 401), ("Token admin-test-token-0123456789", 401), ("Bearer ", 401), ("", 401),
])
def test_the_admin_api_takes_only_a_bearer_token(client: FlaskClient, header: str, status: int) -> None:
    response = client.get("/api/cases/c-nope", headers={"Authorization": header} if header else {})
    assert response.status_code == status  # 404: authorised, and there is no such case
