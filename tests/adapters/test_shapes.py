"""Validly signed bodies with a field of the wrong JSON type (issue 20, item 5).

The outside probe found 118 of 16,344 mutations answering 500 in five adapters: ``true``, a
number, a list or an object where the adapter expected a string, list or object. Each case below is
one of those shapes, posted signed through the app: it answers 2xx (the field is optional and
ignored) or 4xx with a reason, and a 4xx stores nothing. ``tests/fuzz`` sweeps every field of every
fixture the same way; the shape-error net of the intake view is tested last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge import create_app
from bridge.adapters import ADAPTERS
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from bridge.store.models import InboxRow
from tests.adapters.support import FIXTURES
from tests.fuzz.platforms import ADMIN, ROUTES, Route
from tests.fuzz.strategies import replaced

CASES = [  # slug, fixture, path, value: each raised before (file:line of the probe's report)
    ("ada", "conversation-message-human-request", ("data", "author", "role"), []),  # ada.py:94
    ("botframework", "copilot-studio-handoff-initiate", ("activities", 1, "attachments"), True),
    ("botframework", "copilot-studio-handoff-initiate", ("activities", 1, "value", "va_Topics"), True),
    ("botframework", "sdk-handoff-initiate-bug", ("value", "attemptedAnswers"), True),
    ("botframework", "sdk-handoff-initiate-bug", ("value", "evidence", "consoleLog"), 7),
    ("chatwoot", "conversation-status-changed-handoff", ("labels",), True),  # chatwoot.py:84
    ("chatwoot", "conversation-status-changed-handoff", ("changed_attributes",), {"a": 1}),
    ("chatwoot", "conversation-status-changed-handoff", ("messages",), True),  # chatwoot.py:134
    ("dialogflow-cx", "live-agent-handoff-low-confidence", ("messages", 0, "text", "text"), True),
    ("intercom", "conversation-admin-assigned-fin-handover", ("data", "item", "source", "author", "type"), []),
    ("intercom", "conversation-admin-assigned-fin-handover", ("data", "item", "contacts", "contacts"), [1]),
    ("intercom", "conversation-admin-assigned-fin-handover",
     ("data", "item", "ai_agent", "content_sources", "content_sources"), True),
]


def _app(settings: Settings, route: Route) -> tuple[Runtime, Any]:
    configured = settings.with_overrides(webhook_secrets=dict(route.secrets), admin_token=ADMIN,
                                         extra={**settings.extra, **route.extra})
    rt = install(Runtime.build(configured))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def _count(rt: Runtime) -> int:
    with rt.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(InboxRow)) or 0)


def _post(client: Any, route: Route, body: bytes) -> Any:
    headers, query = route.sign(body)
    return client.post(route.path, data=body, headers=headers, query_string=query)


@pytest.mark.parametrize("slug,fixture,path,value", CASES,
                         ids=[f"{c[0]}:{'.'.join(map(str, c[2]))}={type(c[3]).__name__}" for c in CASES])
def test_a_field_of_the_wrong_type_is_never_a_500(settings: Settings, slug: str, fixture: str,
                                                  path: tuple[Any, ...], value: Any) -> None:
    route = ROUTES[slug]
    doc = json.loads((FIXTURES / slug / f"{fixture}.json").read_bytes())
    rt, client = _app(settings, route)
    response = _post(client, route, route.encode(replaced(doc, path, value)))
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.get_json()["error"]["message"]
        assert _count(rt) == 0


def test_a_shape_the_adapter_did_not_check_is_a_422_and_logged(settings: Settings, caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The net behind the adapters' own checks: a TypeError while reading the body is the sender's
    malformed payload to the sender (422, nothing stored) and an adapter bug to us (logged as an error)."""
    route = ROUTES["intercom"]
    adapter = ADAPTERS["intercom"]

    def broken(*args: Any, **kwargs: Any) -> Any:
        return {}["missing"]  # stands in for any unchecked read

    monkeypatch.setattr(adapter, "parse", broken)
    rt, client = _app(settings, route)
    response = _post(client, route, route.bodies[0])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert "unexpected type (KeyError" in response.get_json()["error"]["message"]
    assert _count(rt) == 0
    assert [r for r in caplog.records if r.getMessage() == "bridge.inbound.unchecked_shape" and r.exc_info]


def test_credentials_the_adapter_could_not_read_are_a_401(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    route = ROUTES["intercom"]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(ADAPTERS["intercom"], "verify", broken)
    rt, client = _app(settings, route)
    response = _post(client, route, route.bodies[0])
    assert response.status_code == 401 and _count(rt) == 0


def test_fixture_paths_exist() -> None:
    for slug, fixture, path, _ in CASES:
        doc = json.loads((FIXTURES / slug / f"{fixture}.json").read_bytes())
        for key in path[:-1]:
            doc = doc[key]
        assert path[-1] in doc if isinstance(doc, dict) else path[-1] < len(doc), (slug, path)
    assert Path(FIXTURES).is_dir()
