"""Query strings from an outside probe: Unicode digits, huge numbers and edge-of-calendar dates
answer a page or a clear refusal, never a 500 (issue 20, items 4 and 8)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge import create_app
from bridge.runtime import Runtime
from bridge.web.safeint import ascii_int
from tests.web.pages_seed import NOW, seed_case, with_pages
from tests.web.test_pages import login


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return with_pages(create_app(rt=rt))


@pytest.mark.parametrize("exp", ["²", "١٢٣", "9" * 5000, "-1", "1e9", " 123"])
def test_signed_link_with_a_strange_expiry_is_refused_without_login(client: FlaskClient, exp: str) -> None:
    response = client.get("/cases/c-anything", query_string={"sig": "x", "exp": exp})
    assert response.status_code == 403
    assert b"Link expired or invalid" in response.data


@pytest.mark.parametrize("page", ["²", "9" * 30, "0", "-3", "99"])
def test_case_list_page_numbers_beyond_reason_show_a_page(client: FlaskClient, rt: Runtime, page: str) -> None:
    seed_case(client, rt, NOW - timedelta(days=1), "conv-page")
    login(client)
    response = client.get("/cases", query_string={"page": page, "status": "all"})
    assert response.status_code == 200
    assert b"Ana Lima" in response.data  # the one case, on the only page there is


@pytest.mark.parametrize("since,until", [("2020-01-01", "9999-12-31"), ("0001-01-01", "0001-01-01"),
                                         ("0001-01-01", "9999-12-31"), ("9999-12-31", "")])
def test_dashboard_dates_at_the_edge_of_the_calendar_are_clamped(client: FlaskClient, since: str,
                                                                 until: str) -> None:
    login(client)
    response = client.get("/dashboard", query_string={"since": since, "until": until})
    assert response.status_code == 200
    shown = re.search(r'<p class="range">([^<]*)', response.get_data(as_text=True))
    assert shown, "the period shown on the dashboard"
    years = [int(y) for y in re.findall(r"\b(\d{4})\b", shown.group(1))]
    assert len(years) == 2 and 2000 <= years[0] <= years[1] <= 2999 and years[1] - years[0] <= 3, shown.group(1)


def test_ascii_int_takes_only_ascii_digits_of_bounded_length() -> None:
    assert [ascii_int(x) for x in ("0", "42", "²", "١", "", "4 2", "+1", "9" * 19, None)] == \
        [0, 42, None, None, None, None, None, None, None]
    assert ascii_int("9" * 30, 30) == int("9" * 30)


@pytest.mark.parametrize("path", ["/login", "/dashboard", "/cases", "/cases/c-anything", "/api/events/hb-x"])
def test_a_query_string_with_raw_non_ascii_bytes_is_not_a_500(client: FlaskClient, path: str) -> None:
    """A raw 0xFF in the request line reaches WSGI as latin-1 text; Werkzeug's strict UTF-8 decoding
    of ``request.args`` made it a 500 on any page that reads the query (found by tests/fuzz)."""
    response = client.get(path, environ_overrides={"QUERY_STRING": "next=\xff&page=\xe9"})
    assert response.status_code < 500


@pytest.mark.parametrize("query", [{"breakdown": "day"}, {"breakdown": "week", "by": "team"}, {"by": "week"}])
def test_a_breakdown_named_like_a_granularity_is_not_a_500(client: FlaskClient, query: dict[str, str]) -> None:
    """``?breakdown=day`` was kept in the links' query and passed twice to url_for (found by tests/fuzz)."""
    login(client)
    response = client.get("/dashboard", query_string=query)
    assert response.status_code == 200
    assert response.data.count(b"breakdown=") >= 1 and b"breakdown=day" not in response.data
