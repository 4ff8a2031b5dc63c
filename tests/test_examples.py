"""examples/, docs/platforms/ and docs/troubleshooting.md stay true: every platform has an example the
bridge reads and accepts when signed as that platform signs, a setup page, and every error code the
bridge answers is explained."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from bridge import create_app
from bridge.adapters import ADAPTERS
from bridge.cli import main
from bridge.cli.sender import UNSIGNABLE, credentials
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SECRETS = {slug: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" if slug in ("generic", "ada")
           else f"secret-for-{slug}-0123456789" for slug in ADAPTERS}


def examples() -> list[tuple[str, Path]]:
    return [(slug, path) for slug in sorted(ADAPTERS) for path in sorted((EXAMPLES / slug).glob("*.json"))]


def test_every_platform_has_an_example_and_a_setup_page() -> None:
    assert len([s for s in ADAPTERS if s != "generic"]) == 12
    for slug in ADAPTERS:
        assert list((EXAMPLES / slug).glob("*.json")), f"no example for {slug}"
        page = ROOT / "docs" / "platforms" / f"{slug}.md"
        assert page.exists(), f"no docs/platforms/{slug}.md"
        text = page.read_text()
        env = slug.upper().replace("-", "_") + "_WEBHOOK_SECRET"
        assert env in text and f"/webhooks/{slug}" in text and "## Test the connection" in text


@pytest.mark.parametrize("slug,path", examples(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_example_parses(slug: str, path: Path) -> None:
    result = CliRunner().invoke(main, ["parse", "--source", slug, str(path)])
    assert result.exit_code == 0, result.stderr
    if path.name != "typo-fields.json":
        assert "warning" not in result.stderr


@pytest.mark.parametrize("slug,path", [e for e in examples() if e[0] not in UNSIGNABLE],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_signable_example_is_accepted_as_its_platform_sends_it(slug: str, path: Path, settings: Settings) -> None:
    rt = install(Runtime.build(settings.with_overrides(webhook_secrets={slug: (SECRETS[slug],)})))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    body = path.read_bytes()
    headers, query = credentials(slug, body, SECRETS[slug])
    answer = client.post(f"/webhooks/{slug}?{urlencode(query)}", data=body, headers=headers)
    assert 200 <= answer.status_code < 300, answer.get_data(as_text=True)
    forged, _ = credentials(slug, body, "not-the-secret" if slug not in ("generic", "ada") else
                            "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh")
    wrong = client.post(f"/webhooks/{slug}?{urlencode({k: 'wrong' for k in query})}", data=body, headers=forged)
    assert wrong.status_code == 401


def test_the_typo_example_names_its_ignored_fields(settings: Settings) -> None:
    rt = install(Runtime.build(settings))
    upgrade(rt.store)
    body = (EXAMPLES / "generic" / "typo-fields.json").read_bytes()
    headers, _ = credentials("generic", body, settings.secrets_for("generic")[0])
    answer = create_app(rt=rt).test_client().post("/webhooks/generic", data=body, headers=headers).get_json()
    assert "evidence.console_errors" in answer["ignored"]


def test_troubleshooting_lists_every_error_code() -> None:
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    codes: set[str] = set()
    for path in (ROOT / "bridge").rglob("*.py"):
        codes |= set(re.findall(r"ApiError\(\d{3}, \"([a-z_]+)\"", path.read_text()))
        codes |= set(re.findall(r"^\s+code = \"([a-z_]+)\"", path.read_text(), re.M))
    codes |= {"method_not_allowed", "internal_error", "request_entity_too_large"}  # errors.py, from werkzeug
    assert len(codes) >= 10
    missing = sorted(code for code in codes if f"`{code}`" not in page)
    assert not missing, f"docs/troubleshooting.md does not explain {missing}"


def test_bridge_send_says_what_it_cannot_do(tmp_path: Path) -> None:
    env = {"BRIDGE_DATA_DIR": str(tmp_path / "var")}
    freshchat = str(next((EXAMPLES / "freshchat").glob("*.json")))
    unsignable = CliRunner().invoke(main, ["send", "--source", "freshchat", freshchat], env=env)
    assert unsignable.exit_code == 2 and "bridge parse --source freshchat" in unsignable.stderr
    nobody = CliRunner().invoke(main, ["send", "--url", "http://127.0.0.1:1", "--secret", SECRETS["generic"],
                                       str(EXAMPLES / "generic" / "handoff-requested.json")], env=env)
    assert nobody.exit_code == 2 and "nothing answers there (is `bridge serve` running?)" in nobody.stderr
    assert "Error" not in nobody.stderr
    intercom = str(next((EXAMPLES / "intercom").glob("*.json")))
    no_secret = CliRunner().invoke(main, ["send", "--source", "intercom", intercom], env=env)
    assert no_secret.exit_code == 2 and "INTERCOM_WEBHOOK_SECRET" in no_secret.stderr
