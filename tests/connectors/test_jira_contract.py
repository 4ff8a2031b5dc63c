"""The Jira connector against a mock built from Atlassian's published OpenAPI spec (Prism).

Any 4xx, or a request-side entry in Prism's ``sl-violations`` header, fails the test: a request
that passes here is one Jira's spec accepts. Spec defects are strict expected failures.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import requests
import requests.adapters

from bridge.config import Settings
from bridge.events import Event, RouteInfo
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from bridge.store.db import Store
from bridge.store.migrate import upgrade
from bridge.worker.bug_index import StoreBugIndex
from connectors import STEPS
from connectors.base import Context
from connectors.jira import BugCreate, JiraConnector, build_bug
from tests.conftest import vendor_mock_url
from tests.connectors.test_jira import bug_event


class Violations(requests.adapters.HTTPAdapter):
    """Collects what Prism says is wrong with our requests (response-side entries are spec defects)."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        super().__init__(max_retries=0)
        self.found = found
        self.calls: list[tuple[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().send(request, **kwargs)
        path = (request.url or "").split("?", 1)[0]
        self.calls.append((request.method or "", path.split("/rest/api/2", 1)[-1]))
        for violation in json.loads(response.headers.get("sl-violations", "[]") or "[]"):
            if violation.get("location", [None])[0] == "request":
                self.found.append({"url": path, **violation})
        if response.status_code >= 400:
            self.found.append({"url": path, "status": response.status_code, "body": response.text[:300]})
        return response


@pytest.fixture
def mock_jira(settings: Settings) -> tuple[JiraConnector, list[dict[str, Any]]]:
    url = vendor_mock_url("jira")
    store = Store(settings.store_url)
    upgrade(store)
    extra = {"JIRA_URL": url, "JIRA_EMAIL": "bot@example.com", "JIRA_API_TOKEN": "x", "JIRA_PROJECT": "SUP",
             "JIRA_SEARCH_LAG": "0", "ZENDESK_SUBDOMAIN": "acme", "BRIDGE_PUBLIC_URL": "https://bridge.example.com"}
    connector = JiraConnector(settings.with_overrides(extra=extra), StoreBugIndex(store))
    found: list[dict[str, Any]] = []
    connector.client.sdk._session.mount("http://", Violations(found))
    return connector, found


def _request(case: str = "c-contract", **extra: Any) -> BugCreate:
    event = Event.from_json(bug_event())
    route = RouteInfo(team="eng", jira_project="SUP", jira_components=["Exports"], jira_account_id="acc-1")
    package = build_package(case, "generic", event, decide(event), route=route)
    return replace(build_bug(package, {"zendesk.ticket": "901"}), **extra)


def test_create_with_links_and_watcher_matches_the_spec(mock_jira: tuple[JiraConnector, list[Any]]) -> None:
    jira, violations = mock_jira
    # Files go through add_attachment, whose spec is defective (below); everything else is checked here.
    result = jira.send(STEPS["jira.bug"], _request(attachments=(), evidence=()),
                       Context("c-contract", "c-contract-jira.bug", {"zendesk.ticket": "901"}))
    assert result.external_id and not result.dry_run
    assert violations == []


def test_joining_an_open_issue_matches_the_spec(mock_jira: tuple[JiraConnector, list[Any]]) -> None:
    jira, violations = mock_jira
    first = jira.send(STEPS["jira.bug"], _request("c-one", attachments=(), evidence=()),
                      Context("c-one", "c-one-jira.bug", {}))
    # The second report: issue state read, +1 comment (comments listed first), priority raised.
    adapter = jira.client.sdk._session.get_adapter("http://")
    adapter.calls.clear()
    second = jira.send(STEPS["jira.bug"], _request("c-two", attachments=(), evidence=(), priority="urgent"),
                       Context("c-two", "c-two-jira.bug", {}))
    assert second.external_id == first.external_id
    key = first.external_id
    assert [c for c in adapter.calls if "remotelink" not in c[1] and "watchers" not in c[1]] == [
        ("GET", f"/issue/{key}"), ("GET", f"/issue/{key}/comment"), ("POST", f"/issue/{key}/comment"),
        ("PUT", f"/issue/{key}")]
    assert violations == []


def test_the_label_search_after_an_ambiguous_failure_matches_the_spec(
    mock_jira: tuple[JiraConnector, list[Any]],
) -> None:
    jira, violations = mock_jira
    found = jira.filing._search("c-contract", "rb-bug-0123456789abcdef")
    assert found is not None  # Prism answers with generated issues
    assert violations == []


@pytest.mark.xfail(reason="spec defect (mock-vendors README): the attachment multipart body is declared as "
                          "type: array, so Prism answers 422", strict=True)
def test_attachments_match_the_spec(mock_jira: tuple[JiraConnector, list[Any]]) -> None:
    jira, violations = mock_jira
    jira.client.add_attachment("SUP-1", "c-1-transcript.txt", b"hello")
    assert violations == []
