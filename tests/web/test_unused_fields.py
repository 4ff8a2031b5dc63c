"""A sender's typo never loses evidence silently: unknown fields are named in the 202, kept in the
inbox, warned about by `bridge parse`, and shown on the case page (DESIGN §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bridge.adapters.generic import suggestion, unknown_fields
from bridge.cli import main
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.worker.runner import run_due
from tests.helpers import dumps, generic_event, signed_headers

TYPOS = {"console_errors": [{"level": "error", "message": "TypeError: x is undefined"}],
         "network": [{"method": "GET", "url": "https://api.example.com/v1/export", "status": 500}],
         "steps": ["open Reports", "click Export"]}


def typo_event() -> dict:
    event = generic_event(evidence={"page_url": "https://app.example.com/reports", **TYPOS})
    event["conversation"]["messages"][0]["mood"] = "annoyed"
    return event


def test_unknown_fields_are_named_with_the_field_meant() -> None:
    names = unknown_fields(typo_event())
    assert names == ["conversation.messages[].mood", "evidence.console_errors", "evidence.network", "evidence.steps"]
    assert suggestion("evidence.console_errors") == "evidence.console_logs"
    assert suggestion("evidence.network") == "evidence.network_requests"
    assert suggestion("evidence.steps") == "evidence.steps_to_reproduce"
    assert unknown_fields(generic_event(customer={"id": "c", "attributes": {"anything": {"goes": 1}}})) == []


def test_a_long_transcript_names_each_unknown_field_once_and_at_most_fifty() -> None:
    event = generic_event()
    message = dict(event["conversation"]["messages"][0])
    event["conversation"]["messages"] = [dict(message, id=f"m{i}") for i in range(3000)]
    event["conversation"]["messages"][2500]["mood"] = "annoyed"  # deep in the list: still found
    event["conversation"]["messages"][2999]["mood"] = "calm"
    assert unknown_fields(event) == ["conversation.messages[].mood"]
    crowded = generic_event(**{f"extra_{i}": i for i in range(80)})
    assert unknown_fields(crowded) == [f"extra_{i}" for i in range(50)]  # the first fifty, in order


def test_the_body_is_parsed_once_per_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.adapters import base, generic

    calls: list[int] = []
    real = base.load_json
    counting = lambda body, depth=64: calls.append(1) or real(body, depth)  # noqa: E731
    for module in (base, generic):  # parse decodes in the base class, ignored in the generic adapter
        monkeypatch.setattr(module, "load_json", counting)
    inbound = base.Inbound(body=dumps(typo_event()), headers={})
    adapter = generic.GenericAdapter()
    adapter.parse(inbound)
    assert adapter.ignored(inbound)[0] == "conversation.messages[].mood"
    assert calls == [1]
    assert adapter.ignored(base.Inbound(body=dumps(typo_event()), headers={}))  # on its own it parses


def test_the_202_lists_them_and_the_inbox_keeps_the_body(client: FlaskClient, rt: Runtime) -> None:
    body = dumps(typo_event())
    answer = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert answer.status_code == 202
    data = answer.get_json()
    assert data["ignored"] == ["conversation.messages[].mood", "evidence.console_errors", "evidence.network",
                               "evidence.steps"]
    assert data["did_you_mean"]["evidence.console_errors"] == "evidence.console_logs"
    with rt.store.session() as s:
        assert json.loads(repo.get_inbox(s, data["event"]).body)["evidence"]["console_errors"]  # type: ignore[union-attr]
    again = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert again.status_code == 200 and again.get_json()["ignored"] == data["ignored"]
    clean = dumps(generic_event())
    assert "ignored" not in client.post("/webhooks/generic", data=clean, headers=signed_headers(clean)).get_json()


def test_bridge_parse_warns_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "typo.json"
    path.write_bytes(dumps(typo_event()))
    result = CliRunner().invoke(main, ["parse", "--source", "generic", str(path)])
    assert result.exit_code == 0
    assert "console_errors" not in result.stdout  # the canonical event has no such field
    assert ("warning: typo.json: evidence.console_errors is not a field the bridge knows; it is ignored "
            "(did you mean evidence.console_logs?)") in result.stderr


def test_the_case_page_says_so(client: FlaskClient, rt: Runtime) -> None:
    body = dumps(typo_event())
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    client.post("/login", data={"csrf_token": _csrf(client), "password": "admin-test-token-0123456789"})
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "The sender sent fields the bridge did not use" in page
    assert "<code>evidence.steps</code>: did they mean <code>evidence.steps_to_reproduce</code>?" in page
    clean = dumps(generic_event(conversation_id="conv-clean"))
    other = client.post("/webhooks/generic", data=clean, headers=signed_headers(clean)).get_json()["case"]
    run_due(rt)
    assert "did not use" not in client.get(f"/cases/{other}").get_data(as_text=True)


def _csrf(client: FlaskClient) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        return str(session["csrf"])
