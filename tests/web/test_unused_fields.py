"""A sender's typo never loses evidence silently: unknown fields are named in the 202, kept in the
inbox, warned about by `bridge parse`, and shown on the case page (DESIGN §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bridge.adapters import base, generic, jsonsafe
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


def base_inbound(doc: dict) -> base.Inbound:
    return base.Inbound(body=dumps(doc), headers={})


def test_the_body_is_parsed_once_per_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real, real_fast = base.load_json, jsonsafe.fast_loads
    counting = lambda body, depth=64: calls.append("exact") or real(body, depth)  # noqa: E731
    for module in (base, generic):  # parse decodes in the base class, ignored in the generic adapter
        monkeypatch.setattr(module, "load_json", counting)
    monkeypatch.setattr(jsonsafe, "fast_loads", lambda body: calls.append("fast") or real_fast(body))
    inbound = base.Inbound(body=dumps(typo_event()), headers={})
    adapter = generic.GenericAdapter()
    adapter.parse(inbound)
    assert adapter.ignored(inbound)[0] == "conversation.messages[].mood"
    assert calls == ["fast"]
    assert adapter.ignored(base.Inbound(body=dumps(typo_event()), headers={}))  # on its own it parses
    calls.clear()
    refused = base.Inbound(body=dumps(typo_event()).replace(b'"annoyed"', b'"annoyed", "mood": "x"'), headers={})
    with pytest.raises(base.MalformedPayload):  # a duplicate key: jiter refuses, the exact path says why
        adapter.parse(refused)
    assert calls == ["fast", "exact"]


def _unknown_field_bodies() -> list[dict]:
    deep = generic_event(customer={"id": "c", "attributes": {"a": [[{"b": [1, 2.5]}]]}})
    crowded = generic_event(**{f"extra_{i}": {"v": [i]} for i in range(80)})
    messages = typo_event()
    messages["conversation"]["messages"][1]["sources"] = [{"title": "KB", "url": "https://kb", "rank": 1}]
    messages["conversation"]["messages"][2]["attachments"] = [{"kind": "other", "bytes": 3}]
    messages["conversation"]["messages"][2]["feeling"] = None
    evidence = generic_event(evidence={"device": {"os": "iOS", "battery": 3}, "console_logs": [{"level": "x", "t": 1}]})
    return [generic_event(), typo_event(), deep, crowded, messages, evidence,
            generic_event(customer=None, handoff=None, conversation={"id": "c", "messages": [], "extra": {}})]


@pytest.mark.parametrize("doc", _unknown_field_bodies())
def test_the_fast_path_names_the_same_unknown_fields(doc: dict) -> None:
    """``residue`` (the fast path's walk, which skips the usual objects by a set test) names what
    ``unknown_fields`` names, in the same order, and lets through what strict JSON lets through."""
    inbound = base_inbound(doc)
    adapter = generic.GenericAdapter()
    events = generic.fast_parse(adapter, inbound, 64)
    assert events is not None
    assert inbound.memo["unknown"] == unknown_fields(doc)
    assert events == base.Adapter.parse(adapter, base_inbound(doc), 64)  # the exact path


INF = "number 1e999 is out of range (not a finite number)"


@pytest.mark.parametrize("spoil,max_depth,reason", [
    ({"customer": {"id": "c", "attributes": {"n": "INF"}}}, 64, INF),
    ({"customer": {"id": "c", "account": {"mrr": "INF"}}}, 64, INF),
    ({"evidence": {"network_requests": [{"duration_ms": "INF"}]}}, 64, INF),
    ({"unknown": [[[[["INF"]]]]]}, 64, INF),
    ({"unknown": {"a": [[[[[[[[]]]]]]]]}}, 8, "JSON nested deeper than 8 levels"),
    ({"customer": {"id": "c", "attributes": {"a": [[[[[[]]]]]]}}}, 8, "JSON nested deeper than 8 levels"),
])
def test_what_the_fast_path_does_not_type_is_still_checked(spoil: dict, max_depth: int, reason: str) -> None:
    """Depth and overflowing numbers where no schema looks (unknown fields, ``customer.attributes``) and
    where a float field is typed: the exact path's 400 and reason, as before."""
    body = dumps(generic_event(**spoil)).replace(b'"INF"', b"1e999")
    assert generic.fast_parse(generic.GenericAdapter(), base.Inbound(body=body, headers={}), max_depth) is None
    with pytest.raises(base.MalformedPayload) as excinfo:
        generic.GenericAdapter().parse(base.Inbound(body=body, headers={}), max_depth)
    assert str(excinfo.value) == reason


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
