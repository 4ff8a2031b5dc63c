"""One typed ``Settings``: the bridge reads typed fields parsed once (bridge/config/sections.py), not
variables looked up by name; a value it cannot use is refused when the settings are built, naming it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bridge.config import ConfigError, Settings
from bridge.config.sections import DEFAULT_CASE_LINK_TTL, DEFAULT_DEDUPE_DAYS, DEFAULT_RETENTION_DAYS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("bridge", "connectors") for p in sorted((ROOT / d).rglob("*.py"))]
# Where a look-up by name may stay, and why. Empty: every use reads a typed field.
ALLOWED: dict[str, str] = {}


def _lookups(path: Path) -> list[int]:
    """Lines calling ``<…settings>.get(…)`` or ``<…settings>.extra.get(…)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "extra":
            owner = owner.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if name.endswith("settings"):
            found.append(node.lineno)
    return found


def test_no_setting_is_looked_up_by_name() -> None:
    found = [f"{p.relative_to(ROOT)}:{line}" for p in SOURCES for line in _lookups(p)
             if str(p.relative_to(ROOT)) not in ALLOWED]
    assert not found, "read a typed field of Settings (bridge/config/sections.py) instead: " + ", ".join(found)


def test_the_scan_sees_a_lookup(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("a = settings.get('X')\nb = rt.settings.get('Y', '')\nc = self.settings.extra.get('Z')\n"
                      "d = {}.get('k')\n")
    assert _lookups(sample) == [1, 2, 3]


def test_defaults_are_the_bridge_defaults() -> None:
    s = Settings()
    assert s.routing_file is None and s.triggers_file is None and s.public_url == "" and not s.production
    assert s.judge_mode == "local" and s.low_confidence_threshold is None
    assert (s.retention_days, s.dedupe_days) == (DEFAULT_RETENTION_DAYS, DEFAULT_DEDUPE_DAYS) == (90, 7)
    assert s.users == {} and s.secret_key == "" and s.case_link_ttl == DEFAULT_CASE_LINK_TTL == 30 * 86400
    assert s.csat_baseline is None and s.worker_processes == 1 and s.dispatch_interval == 0.1
    assert s.holding_phrases is None and s.fetch_allow == ""
    assert (s.openai.api_key, s.openai.model, s.openai.base_url, s.openai.timeout) == ("", "", None, None)
    assert s.zendesk.web_url == "" and s.zendesk.bot_user_ids == frozenset()
    assert (s.jira.url, s.jira.timeout, s.jira.search_lag, s.jira.claim_ttl, s.jira.blast_radius) == (
        "", 20.0, 90.0, 600.0, None)
    assert (s.slack.bot_token, s.slack.channel, s.slack.signing_secrets) == ("", "", ())
    assert s.bot_callback.secrets == () and s.api_url("drift") == "" and s.platforms.botframework_tenant_ids == ()
    assert s.base_url == "http://127.0.0.1:8000"


def test_values_are_parsed_once_into_types() -> None:
    s = Settings.from_env({
        "ROUTING_FILE": " examples/routing.yaml ", "BRIDGE_PUBLIC_URL": "https://bridge.example.com/",
        "BRIDGE_ENV": "Production", "BRIDGE_JUDGE": "Both", "BRIDGE_RETENTION_DAYS": "30",
        "BRIDGE_CASE_LINK_TTL": "12h", "BRIDGE_CSAT_BASELINE": "82%", "BRIDGE_USERS": "ana:pbkdf2:sha256:1$x$y",
        "OPENAI_TIMEOUT": "2.5", "OPENAI_MODEL": " m ", "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_BOT_USER_IDS": "1, 2",
        "JIRA_URL": "https://j.example/", "SLACK_SIGNING_SECRET": "a,b", "DRIFT_API_URL": "https://drift.example",
        "BRIDGE_HOLDING_PHRASES": "Hold on|Wait",
        "SUNSHINE_CONVERSATIONS_API_URL": "https://sc.example", "BOTFRAMEWORK_TENANT_IDS": "t1, t2",
    })
    assert s.routing_file == Path("examples/routing.yaml") and s.public_url == "https://bridge.example.com"
    assert s.production and s.judge_mode == "both" and s.retention_days == 30 and s.case_link_ttl == 12 * 3600
    assert s.csat_baseline == pytest.approx(0.82) and s.users == {"ana": "pbkdf2:sha256:1$x$y"}
    assert s.openai.timeout == 2.5 and s.openai.model == "m" and s.base_url == "https://bridge.example.com"
    assert s.zendesk.web_url == "https://acme.zendesk.com" and s.zendesk.bot_user_ids == {"1", "2"}
    assert s.jira.url == "https://j.example" and s.slack.signing_secrets == ("a", "b")
    assert s.api_url("drift") == "https://drift.example" and s.api_url("sunshine-conversations") == "https://sc.example"
    assert s.holding_phrases == ("hold on", "wait") and s.platforms.botframework_tenant_ids == ("t1", "t2")


def test_overrides_parse_again() -> None:
    s = Settings().with_overrides(extra={"BRIDGE_DEDUPE_DAYS": "30", "ROUTING_FILE": "r.yaml"})
    assert s.dedupe_days == 30 and s.routing_file == Path("r.yaml")
    assert s.with_overrides(extra={}).dedupe_days == DEFAULT_DEDUPE_DAYS
    with pytest.raises(ConfigError, match="BRIDGE_DEDUPE_DAYS"):
        s.with_overrides(extra={"BRIDGE_DEDUPE_DAYS": "a week"})


@pytest.mark.parametrize(("name", "value"), [
    ("BRIDGE_RETENTION_DAYS", "soon"), ("BRIDGE_RETENTION_DAYS", "0"), ("BRIDGE_DEDUPE_DAYS", "-1"),
    ("OPENAI_TIMEOUT", "fast"), ("BRIDGE_LOW_CONFIDENCE_THRESHOLD", "high"), ("BRIDGE_CASE_LINK_TTL", "forever"),
    ("BRIDGE_CSAT_BASELINE", "good"), ("BRIDGE_USERS", "ana"), ("BRIDGE_JUDGE", "gpt"),
    ("BRIDGE_WORKER_PROCESSES", "many"), ("BRIDGE_WORKER_PROCESSES", "0"), ("BRIDGE_DISPATCH_INTERVAL", "-1"),
    ("JIRA_TIMEOUT", "soon"), ("JIRA_CLAIM_TTL", "-5"), ("OPENAI_BASE_URL", "http://llm.example/v1"),
])
def test_a_bad_value_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
