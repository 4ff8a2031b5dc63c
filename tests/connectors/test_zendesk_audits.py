"""The Zendesk connector's audit read for the reconciler: pages, the cursor, the plain data it
returns (no vendor JSON past the connector) and the failure table."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.base import PermanentError, RetryableError
from connectors.zendesk import connector as zendesk_module
from connectors.zendesk.audits import audit_events
from tests.connectors.test_zendesk import BASE, connector

AUDITS = f"{BASE}/tickets/42/audits.json"
CURSOR = "MTUwMTYwNzUyMi4wfHwxMzQ3NTMxNjcxfA+/=="  # base64: '+', '/' and '=' must survive the query


def audit(ident: int, at: str, author: int, events: list[dict[str, Any]], channel: str = "web") -> dict[str, Any]:
    return {"id": ident, "ticket_id": 42, "created_at": at, "author_id": author, "via": {"channel": channel},
            "metadata": {"system": {}, "custom": {}}, "events": events}


FIRST_PAGE = {
    "audits": [
        audit(100, "2026-11-28T09:00:00Z", 777, [  # the bridge creates the ticket
            {"id": 101, "type": "Comment", "author_id": 777, "public": False, "body": "package"},
            {"id": 102, "type": "Create", "field_name": "status", "value": "open"},
            {"id": 103, "type": "Create", "field_name": "assignee_id", "value": 902},
        ], channel="api"),
        audit(110, "2026-11-28T09:30:00Z", 902, [  # the agent answers with a macro and solves
            {"id": 111, "type": "Comment", "author_id": 902, "public": True, "body": "<p>Fixed</p>",
             "plain_body": "Fixed it for you"},
            {"id": 112, "type": "AgentMacroReference", "macro_id": 3300, "macro_title": "Solved"},
            {"id": 113, "type": "Change", "field_name": "status", "previous_value": "open", "value": "solved"},
            {"id": 114, "type": "Notification", "subject": "Your request was solved", "body": "..."},
        ]),
    ],
    "meta": {"has_more": True, "after_cursor": CURSOR, "before_cursor": "b"},
    "links": {"next": f"{AUDITS}?page%5Bafter%5D=x&page%5Bsize%5D=100", "prev": None},
}
SECOND_PAGE = {
    "audits": [
        audit(120, "2026-11-28T10:00:00Z", 555, [  # the customer writes back: reopened
            {"id": 121, "type": "Comment", "author_id": 555, "public": True, "body": "Still broken"},
            {"id": 122, "type": "Change", "field_name": "status", "previous_value": "solved", "value": "open",
             "via": {"channel": "rule", "source": {"rel": "trigger", "from": {"id": 1, "title": "Reopen"}}}},
            {"id": 123, "type": "Change", "field_name": "assignee_id", "previous_value": "902", "value": None},
        ], channel="email"),
        audit(130, "2026-11-29T08:00:00Z", 555, [
            {"id": 131, "type": "SatisfactionRating", "score": "bad", "assignee_id": 902, "body": "slow"},
            {"id": 132, "type": "Change", "field_name": "satisfaction_score", "previous_value": "offered",
             "value": "bad"},
        ]),
    ],
    "meta": {"has_more": False, "after_cursor": "end", "before_cursor": "c"},
    "links": {"next": None, "prev": None},
}


def pages(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, AUDITS, json=FIRST_PAGE,
             match=[responses.matchers.query_param_matcher({"page[size]": "100"})])
    rsps.add(responses.GET, AUDITS, json=SECOND_PAGE,
             match=[responses.matchers.query_param_matcher({"page[size]": "100", "page[after]": CURSOR})])
    for user, role in ((902, "agent"), (555, "end-user")):
        rsps.add(responses.GET, f"{BASE}/users/{user}.json", json={"user": {"id": user, "role": role}})


def test_audits_are_read_page_by_page_as_plain_data() -> None:
    with responses.RequestsMock() as rsps:
        pages(rsps)
        read = connector().ticket_audits("42")
        users = [c.request.url for c in rsps.calls if "/users/" in c.request.url]
    assert read["more"] is False
    assert [(a["id"], a["at"], a["author_id"], a["via"], a["page"]) for a in read["audits"]] == [
        ("100", "2026-11-28T09:00:00Z", "777", "api", None), ("110", "2026-11-28T09:30:00Z", "902", "web", None),
        ("120", "2026-11-28T10:00:00Z", "555", "email", CURSOR), ("130", "2026-11-29T08:00:00Z", "555", "web", CURSOR)]
    created, solved, reopened, rated = (a["events"] for a in read["audits"])
    assert [e["kind"] for e in created] == ["comment"]  # Create events are the bridge's own ticket
    assert solved == [
        {"kind": "comment", "comment": {"id": "111", "author_id": "902", "public": True, "body": "Fixed it for you",
                                        "via": "web", "is_staff": True, "macro_ids": ["3300"]}},
        {"kind": "status", "status_from": "open", "status_to": "solved"}]
    assert reopened[0]["comment"]["is_staff"] is False  # the customer: never a human reply
    assert reopened[1:] == [{"kind": "status", "status_from": "solved", "status_to": "open"},
                            {"kind": "assignee", "assignee_id": None}]
    assert rated == [{"kind": "csat", "score": "bad", "csat_comment": "slow"}]  # one rating, not two
    assert len(users) == 2  # each public comment's author looked up once (a private note is never a reply)


def test_only_the_authors_after_the_last_audit_applied_are_looked_up() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pages(rsps)
        read = connector().ticket_audits("42", after="110")
        users = [c.request.url.rsplit("/", 1)[-1] for c in rsps.calls if "/users/" in c.request.url]
    assert users == ["555.json"] and len(read["audits"]) == 4


def test_a_read_starts_on_the_page_its_cursor_names() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pages(rsps)
        read = connector().ticket_audits("42", page=CURSOR)
        sent = [parse_qs(urlsplit(c.request.url).query) for c in rsps.calls if "/audits" in c.request.url]
    assert sent == [{"page[size]": ["100"], "page[after]": [CURSOR]}]
    assert [a["id"] for a in read["audits"]] == ["120", "130"]


def test_an_offset_paginated_answer_is_one_page() -> None:
    """Archived tickets (and the spec's example) answer without ``meta``: ``next_page`` is no cursor."""
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, AUDITS, json={"audits": FIRST_PAGE["audits"][:1], "count": 1, "next_page": None,
                                              "previous_page": None})
        read = connector().ticket_audits("42")
    assert [a["id"] for a in read["audits"]] == ["100"] and read["more"] is False


def test_a_long_history_stops_after_the_page_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zendesk_module, "MAX_AUDIT_PAGES", 2)
    endless = {"audits": [], "meta": {"has_more": True, "after_cursor": "next"}}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, AUDITS, json=endless)
        read = connector().ticket_audits("42")
        assert len(rsps.calls) == 2
    assert read == {"audits": [], "more": True}


@pytest.mark.parametrize("status,kind", [(403, PermanentError), (404, PermanentError), (400, PermanentError),
                                         (429, RetryableError), (500, RetryableError), (503, RetryableError)])
def test_failures_keep_the_connector_failure_table(status: int, kind: type[Exception]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, AUDITS, status=status, headers={"Retry-After": "7"},
                 json={"error": "Forbidden" if status == 403 else "Oops", "description": "no"})
        with pytest.raises(kind) as excinfo:
            connector().ticket_audits("42")
        assert len(rsps.calls) == 1  # never slept on or retried inside the worker
    if status == 429:
        assert excinfo.value.retry_after == 7.0  # type: ignore[attr-defined]


def test_a_garbage_answer_is_an_error_not_an_empty_history() -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, AUDITS, body="<html>502 Bad Gateway</html>", content_type="text/html")
        with pytest.raises(Exception) as excinfo:
            connector().ticket_audits("42")
    assert not isinstance(excinfo.value, RetryableError)  # the reconciler falls back to the snapshot


def test_unknown_events_and_surveys_are_left_out() -> None:
    events = [{"id": 1, "type": "CommentPrivacyChange", "comment_id": 5, "public": False},
              {"id": 2, "type": "Change", "field_name": "tags", "value": ["a"], "previous_value": []},
              {"id": 3, "type": "Change", "field_name": "satisfaction_score", "value": "offered"},
              {"id": 4, "type": "Change", "field_name": "satisfaction_comment", "value": "ok"},
              {"id": 5, "type": "SomethingNew", "field_name": "status", "value": "solved"},
              {"type": "Comment", "body": "no id"}]
    assert audit_events(events, "9", "web") == [{"kind": "csat", "score": "offered", "csat_comment": "ok"}]
