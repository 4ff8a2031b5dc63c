"""Every page and API route, with any query string and odd path values: the answer is at most a 4xx
(issue 20, items 4 and 8). Tried signed out, signed in and with the admin API's bearer token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings as hsettings, strategies as st

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from tests.fuzz.conftest import examples
from tests.fuzz.platforms import ADMIN, ROUTES
from tests.fuzz.strategies import ODD_STRINGS
from tests.fuzz.tally import record, status_class

PARAMS = ["page", "since", "until", "days", "by", "breakdown", "granularity", "status", "trigger", "team",
          "platform", "owner", "sig", "exp", "tab", "next", "secret", "q", "format"]
DATES = ["0001-01-01", "9999-12-31", "2020-02-30", "2026-10-31", "-1-01-01", "2026-1-1", "20261031"]
NUMBERS = ["0", "-1", "1", "7", "30", "365", "99999", "9" * 30, "9" * 5000, "²", "١٢", "1e9", "0x10", " 3"]
values = st.text(max_size=40) | st.sampled_from(ODD_STRINGS + DATES + NUMBERS + ["day", "week", "all", "outbox"])
queries = st.dictionaries(st.sampled_from(PARAMS) | st.text(max_size=12), values, max_size=4)
# Raw query strings: broken percent escapes, repeated separators, bytes that are not UTF-8.
raw_queries = st.text(alphabet="%&=+;?#az09-._~ÿ/", max_size=60)


def _pages() -> list[str]:
    return ["/healthz", "/readyz", "/metrics", "/login", "/dashboard", "/cases", "/cases/{case}", "/api/cases/{case}",
            "/api/events/{key}", "/login/link/{text}", "/cases/{text}", "/api/cases/{text}", "/api/events/{text}",
            "/static/bridge/{text}"]


@pytest.fixture
def site(settings: Settings, tmp_path: Path) -> tuple[Runtime, dict[str, FlaskClient], dict[str, str]]:
    generic = ROUTES["generic"]
    rt = install(Runtime.build(settings.with_overrides(webhook_secrets=dict(generic.secrets), admin_token=ADMIN)))
    upgrade(rt.store)
    app = create_app(rt=rt)
    seeder = app.test_client()
    body = generic.bodies[0]
    headers, _ = generic.sign(body)
    answer = seeder.post("/webhooks/generic", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    run_due(rt)
    ids = {"case": answer.get_json()["case"], "key": answer.get_json()["event"]}
    signed_in = app.test_client()
    signed_in.get("/login")
    with signed_in.session_transaction() as session:
        token = session["csrf"]
    assert signed_in.post("/login", data={"csrf_token": token, "name": "", "password": ADMIN}).status_code == 302
    return rt, {"anonymous": app.test_client(), "signed in": signed_in, "bearer": app.test_client()}, ids


def _get(clients: dict[str, FlaskClient], who: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {ADMIN}"} if who == "bearer" else {}
    return clients[who].get(path, headers=headers, **kwargs)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str]:
    who = draw(st.sampled_from(["anonymous", "signed in", "bearer"]))
    return who, draw(st.sampled_from(_pages()))


def test_any_query_string_on_any_page_is_at_most_a_4xx(site: Any) -> None:
    rt, clients, ids = site

    @hsettings(max_examples=examples(4))
    @given(requests(), queries, st.text(max_size=60) | st.sampled_from(ODD_STRINGS))
    def run(target: tuple[str, str], query: dict[str, str], text: str) -> None:
        who, template = target
        path = template.format(case=ids["case"], key=ids["key"], text=quote(text, safe="") or "x")
        response = _get(clients, who, path, query_string=query)
        record("queries", template, status_class(response.status_code))
        assert response.status_code < 500, f"{who} GET {path}?{query!r}: {response.status_code}"

    run()


def test_any_raw_query_string_is_at_most_a_4xx(site: Any) -> None:
    rt, clients, ids = site

    @hsettings(max_examples=examples(2))
    @given(requests(), raw_queries)
    def run(target: tuple[str, str], raw: str) -> None:
        who, template = target
        path = template.format(case=ids["case"], key=ids["key"], text="x")
        response = _get(clients, who, path, environ_overrides={"QUERY_STRING": raw})
        record("queries", template, status_class(response.status_code))
        assert response.status_code < 500, f"{who} GET {path}?{raw}: {response.status_code}"

    run()


@pytest.mark.parametrize("query", [{"page": "²"}, {"page": "9" * 30}, {"since": "2020-01-01", "until": "9999-12-31"},
                                   {"sig": "x", "exp": "²"}, {"sig": "x", "exp": "9" * 5000}])
def test_the_probe_s_queries(site: Any, query: dict[str, str]) -> None:
    """The reproductions of the issue, on every page, signed in and not."""
    rt, clients, ids = site
    for template in ("/dashboard", "/cases", "/cases/{case}"):
        for who in ("anonymous", "signed in"):
            response = _get(clients, who, template.format(case=ids["case"]), query_string=query)
            assert response.status_code < 500, (who, template, query, response.status_code)
    assert json.dumps(query)
