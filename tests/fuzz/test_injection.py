"""Markup a sender puts in any text field reaches the case page and the Slack alert escaped.

Hypothesis places HTML, attribute break-outs, ``javascript:`` links, Slack and Jira markup in the
customer's name, the transcript, the bot's cited sources and the evidence of a signed generic
event; the pipeline runs; the signed-in case page and the dry-run Slack alert are read. A payload
shown there appears only in its escaped form, no link on the page has a ``javascript:`` or
``data:`` target, and the alert carries no ``<!channel>``/``<!here>`` a customer wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings as hsettings, strategies as st
from markupsafe import escape

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from connectors.slack.blocks import escape as slack_escape
from tests.fuzz.conftest import examples
from tests.fuzz.platforms import ADMIN, ROUTES
from tests.fuzz.tally import record

PAYLOADS = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'><svg onload=alert(1)>",
            "</textarea><script>x</script>", "<a href=\"javascript:alert(1)\">x</a>", "<!channel> <!here>",
            "<https://evil.example|open it>", "[click|javascript:alert(1)]", "{html}<b>x</b>{html}",
            "<iframe src=//evil.example>", "<style>*{display:none}</style>", "&lt;script&gt;"]
URLS = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>x</script>",
        "vbscript:x", "https://ok.example/\"><script>x</script>"]
FIELDS = ["customer.name", "message", "source.title", "source.url", "evidence.page_url", "evidence.steps"]


def _event(field: str, payload: str, n: int) -> dict[str, Any]:
    messages = [{"id": "m1", "role": "customer", "text": "The export crashes with error E500"},
                {"id": "m2", "role": "bot", "text": "Sorry, I could not find an answer.", "confidence": 0.2,
                 "sources": [{"title": "Export guide", "url": "https://help.example/export"}]},
                {"id": "m3", "role": "customer", "text": "Can I talk to a person please?"}]
    event: dict[str, Any] = {"schema_version": 1, "event_id": f"evt-inj-{n}", "type": "handoff.requested",
                             "conversation": {"id": f"conv-inj-{n}", "messages": messages},
                             "customer": {"id": "c1", "email": "ana@example.com", "name": "Ana Lima"},
                             "handoff": {"requested_by": "customer", "reason": "customer asked for a person"},
                             "evidence": {"steps_to_reproduce": ["open export"]}}
    if field == "customer.name":
        event["customer"]["name"] = payload
    elif field == "message":
        messages[0]["text"] = f"The export crashes {payload} with error E500"
    elif field == "source.title":
        messages[1]["sources"][0]["title"] = payload
    elif field == "source.url":
        messages[1]["sources"][0]["url"] = payload
    elif field == "evidence.page_url":
        event["evidence"]["page_url"] = payload
    else:
        event["evidence"]["steps_to_reproduce"] = [payload]
    return event


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [value] if isinstance(value, str) else []


def _check_slack(rt: Runtime, case_id: str, field: str, payload: str) -> None:
    """The Slack alert (mrkdwn): customer text never carries a link, a mention or a broadcast."""
    alert = rt.settings.outbox_dir / case_id / "slack.alert.json"
    if not alert.exists():
        return
    texts = _texts(json.loads(alert.read_text()))
    if any(c in payload for c in "<>"):
        assert not [t for t in texts if payload in t], f"{field}: {payload!r} reached Slack unescaped"
    assert not [t for t in texts if "<!channel>" in t or "<!here>" in t or "<javascript:" in t.lower()], texts
    shown = any(slack_escape(payload) in t for t in texts)
    record("injection", "Slack alert (mrkdwn)", "escaped" if shown else "not shown")


def test_markup_in_any_field_reaches_the_case_page_escaped(settings: Settings, tmp_path: Path) -> None:
    generic = ROUTES["generic"]
    rt = install(Runtime.build(settings.with_overrides(webhook_secrets=dict(generic.secrets), admin_token=ADMIN)))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    client.post("/login", data={"csrf_token": token, "name": "", "password": ADMIN})
    counter = iter(range(10**6))

    @hsettings(max_examples=examples(0.3))
    @given(st.sampled_from(FIELDS), st.sampled_from(PAYLOADS + URLS) | st.text(alphabet="<>\"'&/=:ajvscript() ",
                                                                              max_size=24))
    def run(field: str, chosen: str) -> None:
        n = next(counter)
        # Invented markup opens a tag no page has (<zq17 …): seen raw on the page, it was not escaped.
        payload = chosen if chosen in PAYLOADS + URLS else f"<zq{n} {chosen}>"
        body = json.dumps(_event(field, payload, n)).encode()
        headers, _ = generic.sign(body)
        answer = client.post("/webhooks/generic", data=body, headers=headers)
        if answer.status_code != 202:  # refused at the door (a schema rule): nothing to render
            record("injection", "case page (HTML)", "refused")
            return
        run_due(rt)
        case_id = answer.get_json()["case"]
        _check_slack(rt, case_id, field, payload)
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        links = re.findall(r"""(?:href|src|action)\s*=\s*["']?\s*([^"'\s>]*)""", page, flags=re.I)
        assert not [link for link in links if re.match(r"(?i)\s*(javascript|vbscript|data):", link)], links
        if any(c in payload for c in "<>\"'&"):
            assert payload not in page, f"{field}: {payload!r} is on the page unescaped"
        record("injection", "case page (HTML)", "escaped" if str(escape(payload)) in page else "not shown")

    run()
