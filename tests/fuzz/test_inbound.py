"""Every inbound route and every adapter, fuzzed with validly signed bodies (issue 20, items 5 and 6).

For each route: a well-formed body with any field replaced by any JSON value (or removed), and raw
bytes, each signed the way the real sender signs. The answer is 2xx or 4xx, never 5xx, and a 4xx
stores nothing. The chatbot adapters are also called directly: ``parse`` raises only the adapter
errors that map to 4xx (a TypeError there is a shape the adapter failed to check), and every event
it returns serializes as strict JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings as hsettings, strategies as st
from sqlalchemy import func, select

from bridge import create_app
from bridge.adapters import ADAPTERS
from bridge.adapters.base import AdapterError, Handshake, Inbound, UnsupportedEvent
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from bridge.store.models import CaseRow, InboxRow, TimelineRow, VendorEventRow
from tests.fuzz.conftest import examples
from tests.fuzz.platforms import ADMIN, ROUTES, Route
from tests.fuzz.strategies import mutated, raw_bodies
from tests.fuzz.tally import record, status_class

MODELS = (InboxRow, VendorEventRow, TimelineRow, CaseRow)


def _app(settings: Settings, route: Route, tmp_path: Path) -> tuple[Runtime, FlaskClient]:
    configured = settings.with_overrides(data_dir=tmp_path / "var", webhook_secrets=dict(route.secrets),
                                         admin_token=ADMIN, extra={**settings.extra, **route.extra})
    rt = install(Runtime.build(configured))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def stored(rt: Runtime) -> tuple[int, ...]:
    with rt.store.session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(model)) or 0) for model in MODELS)


def post(client: FlaskClient, route: Route, body: bytes) -> Any:
    headers, query = route.sign(body)
    return client.post(route.path, data=body, headers=headers, query_string=query)


def check(rt: Runtime, client: FlaskClient, route: Route, body: bytes, what: str) -> int:
    before = stored(rt)
    response = post(client, route, body)
    status = response.status_code
    record("inbound", route.name, status_class(status))
    assert status < 500, f"{route.name}: {status} for {what}: {response.get_data(as_text=True)[:300]}"
    if 400 <= status < 500:
        assert stored(rt) == before, f"{route.name}: {status} but something was stored ({what})"
        error = response.get_json(silent=True) or {}
        assert (error.get("error") or {}).get("message"), f"{route.name}: {status} without a reason ({what})"
    return status


def parse_directly(route: Route, body: bytes, what: str) -> None:
    """The adapter itself: only its own errors, and events that are strict JSON."""
    adapter = ADAPTERS.get(route.name)
    if adapter is None:
        return
    headers, query = route.sign(body)
    inbound = Inbound(body=body, headers={k.lower(): v for k, v in headers.items()}, query=query, now=time.time())
    try:
        events = adapter.parse(inbound, 64)
    except (AdapterError, UnsupportedEvent, Handshake):
        return
    except Exception as exc:  # the point of the test: name the shape the adapter did not check
        pytest.fail(f"{route.name}.parse raised {type(exc).__name__}: {exc} for {what}")
    for event in events:
        json.dumps(event.to_json(), allow_nan=False)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_the_unmutated_bodies_are_accepted(name: str, settings: Settings, tmp_path: Path) -> None:
    """The baseline: the signing here is right, so the fuzzing below reaches the parsers."""
    route = ROUTES[name]
    rt, client = _app(settings, route, tmp_path)
    assert route.bodies
    for body in route.bodies:
        encoded = route.encode(json.loads(body))
        status = check(rt, client, route, encoded, "the unmutated body")
        assert status < 300, f"{name}: {status}"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_any_field_of_any_type_answers_2xx_or_4xx(name: str, settings: Settings, tmp_path: Path) -> None:
    route = ROUTES[name]
    rt, client = _app(settings, route, tmp_path)

    @hsettings(max_examples=examples())
    @given(mutated(route.bodies))
    def run(mutation: tuple[Any, list[str]]) -> None:
        doc, done = mutation
        body = route.encode(doc)
        what = "; ".join(done)
        parse_directly(route, body, what)
        check(rt, client, route, body, what)

    run()


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_any_bytes_answer_2xx_or_4xx(name: str, settings: Settings, tmp_path: Path) -> None:
    route = ROUTES[name]
    rt, client = _app(settings, route, tmp_path)

    @hsettings(max_examples=examples(0.4))
    @given(raw_bodies(route.bodies))
    def run(raw: bytes) -> None:
        body = route.encode_raw(raw) if route.form_field else raw
        parse_directly(route, body, f"raw bytes {raw[:80]!r}")
        check(rt, client, route, body, f"raw bytes {raw[:80]!r}")

    run()


def test_any_query_string_on_an_inbound_route_answers_2xx_or_4xx(settings: Settings, tmp_path: Path) -> None:
    """Platforms that sign with ``?token=`` or ``?key=`` read the query before anything else."""
    built = {name: _app(settings, route, tmp_path / name) for name, route in ROUTES.items()}

    @hsettings(max_examples=examples(1.5))
    @given(st.sampled_from(sorted(ROUTES)), st.text(alphabet="%&=+;?#az09-._~ÿ/", max_size=60))
    def run(name: str, raw: str) -> None:
        route = ROUTES[name]
        rt, client = built[name]
        install(rt)  # adapters read the process's runtime (one per process outside this test)
        body = route.bodies[0] if not route.form_field else route.encode(json.loads(route.bodies[0]))
        headers, query = route.sign(body)
        extra = "&".join(f"{k}={v}" for k, v in query.items())
        before = stored(rt)
        response = client.post(route.path, data=body, headers=headers,
                               environ_overrides={"QUERY_STRING": "&".join(p for p in (raw, extra) if p)})
        record("inbound", name, status_class(response.status_code))
        assert response.status_code < 500, f"{name}?{raw}: {response.status_code}"
        if response.status_code >= 400:
            assert stored(rt) == before

    run()
