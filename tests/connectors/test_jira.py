"""Jira connector: the bug's content and escaping, the exact requests, exactly-once, deduplication by
fingerprint, and the failure table (``responses`` stands in for Jira)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from bridge.config import Settings
from bridge.events import Event, Summary
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from bridge.store import bugs
from bridge.store.db import Store
from bridge.store.migrate import upgrade
from bridge.worker.bug_index import StoreBugIndex
from connectors import STEPS, connector_for, fetch as fetch_module
from connectors.base import Context, PermanentError, RetryableError
from connectors.config import JiraConfig
from connectors.jira import DESCRIPTION_LIMIT, JiraConnector, build_bug, target_priority
from connectors.outbox import OutboxConnector
from tests.connectors.misbehaving import BEHAVIOURS, MisbehavingServer
from tests.helpers import generic_event

JIRA = "https://acme.atlassian.net"
API = f"{JIRA}/rest/api/2"
STEP = STEPS["jira.bug"]
CREDS = {"JIRA_URL": JIRA, "JIRA_EMAIL": "bot@example.com", "JIRA_API_TOKEN": "tok", "JIRA_PROJECT": "SUP",
         "JIRA_SEARCH_LAG": "0", "ZENDESK_SUBDOMAIN": "acme", "BRIDGE_PUBLIC_URL": "https://bridge.example.com"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HOSTILE = ("[x|https://evil.example] !https://evil.example/p.png! {color:red}red{color} {code}x{code} "
           "{noformat} h1. big [~accountid:123] https://evil.example/bare")


def bug_event(n: int = 1, **extra: Any) -> dict[str, Any]:
    """Customer ``n`` hits the same export bug (different ids, timestamps, minor version)."""
    event = generic_event(conversation_id=f"conv-{n}", messages=[
        {"id": "1", "role": "customer", "text": "The export crashes with error E1042 since yesterday's update"},
        {"id": "2", "role": "bot", "text": "I'm not sure how to fix that.", "confidence": 0.3},
    ])
    event["customer"] = {"id": f"cus-{n}", "email": f"user{n}@example.com", "name": f"Customer {n}",
                         "plan": "Enterprise", "account": {"id": f"acc-{n}", "name": f"Company {n}", "mrr": 1000.0 * n}}
    event["evidence"] = {
        "console_logs": [
            {"level": "log", "message": "boot"},
            {"level": "error", "message": f"TypeError: rows is null (row {n * 17}) at 2026-01-0{n}T10:00:00Z"},
            {"level": "error", "message": f"TypeError: rows is null (row {n * 31}) at 2026-01-0{n}T10:00:05Z"},
        ],
        "network_requests": [{"method": "POST", "url": f"https://api.example.com/v1/exports/{n * 1000}", "status": 502,
                              "duration_ms": 812, "response_excerpt": "upstream timed out"}],
        "device": {"os": "macOS 15", "browser": "Safari 18", "app_version": f"4.{n}.0"},
        "page_url": f"https://tenant{n}.app.example.com/reports/{n}",
        "session_replay_url": f"https://replay.example.com/s/{n}",
    }
    event.update(extra)
    return event


def package_for(event: dict[str, Any], case_id: str = "c-1", **kwargs: Any) -> Any:
    parsed = Event.from_json(event)
    return build_package(case_id, "generic", parsed, decide(parsed), **kwargs)


# --- builder ----------------------------------------------------------------------------------

def test_summary_is_the_symptom_in_one_line() -> None:
    bug = build_bug(package_for(bug_event()), {"zendesk.ticket": "42"})
    assert bug.summary == "TypeError: rows is null (row 17) at 2026-01-01T10:00:00Z — /reports/1 (app 4.1.0)"
    assert "\n" not in bug.summary and len(bug.summary) <= 255
    without_evidence = bug_event(evidence={})
    assert build_bug(package_for(without_evidence), {}).summary.startswith("E1042")


def test_description_is_what_an_engineer_needs() -> None:
    bug = build_bug(package_for(bug_event()), {"zendesk.ticket": "42"})
    d = bug.description
    assert d.startswith("Zendesk ticket: 42 · case {{c-1}}")
    for heading in ("h3. Symptom", "h3. Steps to reproduce", "h3. Expected vs actual", "h3. Environment",
                    "h3. Console errors", "h3. Requests that explain the failure", "h3. Page and session replay",
                    "h3. Affected customers", "h3. Fingerprint", "h2. Handoff package", "h3. Transcript"):
        assert heading in d, heading
    assert "reconstructed by the bridge, not verified:_" in d
    assert "2× [error] TypeError: rows is null (row 17)" in d  # deduplicated, with a count, errors first
    assert d.index("2× [error]") < d.index("1× [log] boot")
    assert "POST https://api.example.com/v1/exports/1000 → 502 in 812 ms" in d and "upstream timed out" in d
    assert "Browser: Safari 18" in d and "Viewport: (unknown)" in d
    assert "Session replay: https://replay.example.com/s/1" in d
    assert "Customer 1 / Company 1 — plan Enterprise — MRR 1,000.00" in d
    assert "user1@example.com" not in d  # a bug is widely read: contact details stay in the ticket
    assert bug.issue_type == "Bug" and bug.project is None  # the connector adds JIRA_PROJECT
    assert {"recovery-bridge", "rb-c-1", "trigger-product_bug"} <= set(bug.labels)
    assert any(label.startswith("rb-bug-") for label in bug.labels)
    assert [f.name for f in bug.attachments] == ["console-log.txt", "network-requests.json", "transcript.txt"]
    assert json.loads(bug.attachments[1].text)[0]["status"] == 502


def test_steps_from_the_evidence_are_not_marked_as_reconstructed() -> None:
    event = bug_event()
    event["evidence"]["steps_to_reproduce"] = ["Open Reports", "Click Export"]
    d = build_bug(package_for(event), {}).description
    assert "From the session evidence:\n{noformat}\n1. Open Reports\n2. Click Export" in d
    assert "Reconstructed" not in d


def _outside_noformat(text: str) -> str:
    return "".join(re.split(r"\{noformat\}.*?\{noformat\}", text, flags=re.S))


def test_customer_log_and_llm_text_cannot_render_markup() -> None:
    event = bug_event()
    event["conversation"]["messages"][0]["text"] = HOSTILE
    event["customer"]["name"] = HOSTILE
    event["evidence"]["console_logs"].append({"level": "error", "message": HOSTILE, "source": HOSTILE})
    event["evidence"]["network_requests"][0]["response_excerpt"] = HOSTILE
    event["evidence"]["device"]["browser"] = HOSTILE
    event["evidence"]["steps_to_reproduce"] = [HOSTILE]
    package = package_for(event, summary=Summary(issue=HOSTILE, tried=HOSTILE, source="llm", model="m",
                                                 key_facts=["E1042"]))
    bug = build_bug(package, {"zendesk.ticket": HOSTILE})
    for text in (bug.description, bug.comment):
        outside = _outside_noformat(text)
        assert text.count("{noformat}") % 2 == 0
        for raw in ("evil", "{color", "{code", "h1.", "[~"):
            assert raw not in outside, (raw, outside)
        assert "(noformat)" in text  # the customer's "{noformat}" cannot close the block
    assert "evil" not in bug.summary  # the summary carries no LLM text either


def test_huge_reports_stay_within_jiras_limit() -> None:
    event = bug_event()
    event["conversation"]["messages"] = [{"role": "customer", "text": f"m{i} " + "x{noformat}" * 300}
                                         for i in range(40)]
    event["evidence"]["console_logs"] = [{"level": "error", "message": f"E{i} " + "y" * 390} for i in range(1000)]
    d = build_bug(package_for(event), {}).description
    assert len(d) <= DESCRIPTION_LIMIT and d.count("{noformat}") % 2 == 0


def test_priority_follows_the_package_and_the_blast_radius() -> None:
    config = JiraConfig.from_settings(Settings(extra={"JIRA_BLAST_RADIUS": "3=High,10=Highest"}))
    assert target_priority(config, "normal", 1) == "Medium"
    assert target_priority(config, "normal", 3) == "High"
    assert target_priority(config, "urgent", 3) == "Highest"  # never lowered
    assert target_priority(config, "low", 10) == "Highest"
    assert target_priority(JiraConfig.from_settings(Settings(extra={"JIRA_PRIORITIES": "none"})), "urgent", 50) is None


def test_without_credentials_the_outbox_is_used(tmp_path: Any, store: Store) -> None:
    index = StoreBugIndex(store)
    assert isinstance(connector_for("jira", Settings(data_dir=tmp_path), index), OutboxConnector)
    live = {k: v for k, v in CREDS.items() if k.startswith("JIRA")}
    assert isinstance(connector_for("jira", Settings(data_dir=tmp_path, extra=live), index), JiraConnector)
    pat = {"JIRA_URL": JIRA, "JIRA_PAT": "p", "JIRA_PROJECT": "SUP"}
    assert isinstance(connector_for("jira", Settings(data_dir=tmp_path, extra=pat), index), JiraConnector)
    with pytest.raises(ValueError, match="bug index"):  # the store is the caller's: connectors never open one
        connector_for("jira", Settings(data_dir=tmp_path, extra=live))


# --- a Jira that remembers ----------------------------------------------------------------------

class FakeJira:
    """Just enough of Jira's REST API v2, on ``responses``: issues, comments, attachments, links."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[str]] = {}
        self.attachments: dict[str, list[str]] = {}
        self.links: dict[str, dict[str, Any]] = {}
        self.watchers: dict[str, set[str]] = {}
        self.searchable = True  # False: search lags behind creates
        self.attach_status: int | None = None  # set: every attachment upload fails with this status
        self.create_faults: list[Any] = []  # per POST /issue: an exception, (status, headers, body), or "reset-after"
        self.attach_faults: list[Any] = []  # per POST .../attachments: (status, headers, body)
        self.calls: list[tuple[str, str]] = []
        issue = re.compile(rf"{API}/issue/([A-Z]+-\d+)(\?.*)?$")
        rsps.add_callback(responses.POST, f"{API}/issue", callback=self.create)
        rsps.add_callback(responses.GET, issue, callback=self.get)
        rsps.add_callback(responses.PUT, issue, callback=self.put)
        comments = re.compile(rf"{API}/issue/([A-Z]+-\d+)/comment.*")
        rsps.add_callback(responses.GET, comments, callback=self.list_comments)
        rsps.add_callback(responses.POST, re.compile(rf"{API}/issue/([A-Z]+-\d+)/comment"), callback=self.comment)
        rsps.add_callback(responses.POST, re.compile(rf"{API}/issue/([A-Z]+-\d+)/attachments"), callback=self.attach)
        rsps.add_callback(responses.POST, re.compile(rf"{API}/issue/([A-Z]+-\d+)/remotelink"), callback=self.link)
        rsps.add_callback(responses.POST, re.compile(rf"{API}/issue/([A-Z]+-\d+)/watchers"), callback=self.watch)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/search/jql.*"), callback=self.search)

    def _key(self, request: Any) -> str:
        self.calls.append((request.method, urlsplit(request.url).path.replace("/rest/api/2", "")))
        return str(re.search(r"/issue/([A-Z]+-\d+)", request.url).group(1))  # type: ignore[union-attr]

    def create(self, request: Any) -> Any:
        self.calls.append(("POST", "/issue"))
        fault = self.create_faults.pop(0) if self.create_faults else None
        if isinstance(fault, tuple):
            return fault
        if isinstance(fault, Exception):
            return fault
        fields = json.loads(request.body)["fields"]
        key = f"SUP-{len(self.issues) + 1}"
        self.issues[key] = {"fields": fields, "status": "new"}
        if fault == "reset-after":
            return requests.ConnectionError("connection reset by peer")
        return 201, {}, json.dumps({"id": str(10000 + len(self.issues)), "key": key, "self": f"{API}/issue/{key}"})

    def get(self, request: Any) -> Any:
        key = self._key(request)
        issue = self.issues[key]
        category = "done" if issue["status"] == "done" else "new"
        return 200, {}, json.dumps({"key": key, "id": "1", "fields": {
            "status": {"name": issue["status"], "statusCategory": {"key": category}},
            "priority": issue["fields"].get("priority"),
            "attachment": [{"filename": name} for name in self.attachments.get(key, [])]}})

    def put(self, request: Any) -> Any:
        key = self._key(request)
        self.issues[key]["fields"].update(json.loads(request.body)["fields"])
        return 204, {}, ""

    def list_comments(self, request: Any) -> Any:
        key = self._key(request)
        bodies = self.comments.get(key, [])
        return 200, {}, json.dumps({"comments": [{"id": str(i), "body": b} for i, b in enumerate(bodies)],
                                    "total": len(bodies)})

    def comment(self, request: Any) -> Any:
        key = self._key(request)
        self.comments.setdefault(key, []).append(json.loads(request.body)["body"])
        return 201, {}, json.dumps({"id": "1", "body": "ok"})

    def attach(self, request: Any) -> Any:
        key = self._key(request)
        if self.attach_faults:
            return self.attach_faults.pop(0)
        if self.attach_status:
            return self.attach_status, {}, json.dumps({"errorMessages": ["attachments are unavailable"]})
        body = request.body.read() if hasattr(request.body, "read") else request.body
        name = re.search(rb'filename="([^"]+)"', body).group(1).decode()  # type: ignore[union-attr]
        assert request.headers["X-Atlassian-Token"] == "no-check"
        self.attachments.setdefault(key, []).append(name)
        return 200, {}, json.dumps([{"id": "5", "filename": name, "size": len(body)}])

    def link(self, request: Any) -> Any:
        key = self._key(request)
        data = json.loads(request.body)
        self.links[f"{key}|{data['globalId']}"] = data  # same globalId: updated, not added
        return 200, {}, json.dumps({"id": 1, "self": f"{API}/issue/{key}/remotelink/1"})

    def watch(self, request: Any) -> Any:
        key = self._key(request)
        self.watchers.setdefault(key, set()).add(json.loads(request.body))
        return 204, {}, ""

    def search(self, request: Any) -> Any:
        self.calls.append(("GET", "/search/jql"))
        jql = parse_qs(urlsplit(request.url).query)["jql"][0]
        wanted = re.findall(r'labels = "([^"]+)"', jql)
        found = [{"key": k, "fields": {"labels": i["fields"]["labels"]}} for k, i in self.issues.items()
                 if self.searchable and set(wanted) & set(i["fields"]["labels"])]
        return 200, {}, json.dumps({"issues": found, "isLast": True})

    def creates(self) -> int:
        return self.calls.count(("POST", "/issue"))


@pytest.fixture
def store(settings: Settings) -> Store:
    s = Store(settings.store_url)
    upgrade(s)
    return s


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeJira(rsps)


def connector(settings: Settings, store: Store, **extra: str) -> JiraConnector:
    return JiraConnector(settings.with_overrides(extra={**CREDS, **extra}), StoreBugIndex(store))


def send(settings: Settings, store: Store, n: int = 1, refs: dict[str, Any] | None = None, **extra: str) -> Any:
    case = f"c-{n}"
    refs = {"zendesk.ticket": str(900 + n), **(refs or {})}
    request = build_bug(package_for(bug_event(n), case), refs)
    return connector(settings, store, **extra).send(STEP, request, Context(case, f"{case}-jira.bug", refs))


def test_a_follow_up_becomes_one_comment_with_its_files(settings: Settings, store: Store, jira: FakeJira) -> None:
    from connectors.jira import build_followup

    send(settings, store)
    followup = {"n": 1, "message_index": 4, "text": "Only the Finance group is affected.",
                "files": [{"kind": "screenshot", "url": "http://169.254.169.254/x.png", "name": "x.png"}],
                "evidence": {"console_logs": [{"level": "error", "message": "AuthStateError: state mismatch"}]}}
    refs = {"jira.bug": "SUP-1", "followup": followup, "unanswered": True, "taken": False}
    request = build_followup(package_for(bug_event()), refs)
    assert request.issue == "SUP-1" and "Only the Finance group is affected." in request.comment
    assert "AuthStateError: state mismatch" in request.comment and "x.png" in request.comment
    step, context = STEPS["jira.followup"], Context("c-1", "c-1-jira.followup#1", refs)
    connector(settings, store).send(step, request, context)
    connector(settings, store).send(step, request, Context("c-1", context.key, refs, 2))  # a retry
    [comment] = jira.comments["SUP-1"]
    assert "Only the Finance group is affected." in comment and "not attached: blocked" in comment
    with pytest.raises(PermanentError):  # no issue (the bug step died): nothing to comment on
        connector(settings, store).send(step, replace(request, issue=None), Context("c-2", "k", {}))


# --- requests ---------------------------------------------------------------------------------

def test_the_create_request_and_what_follows_it(settings: Settings, store: Store, jira: FakeJira) -> None:
    result = send(settings, store)
    assert result.external_id == "SUP-1" and result.url == f"{JIRA}/browse/SUP-1"
    fields = jira.issues["SUP-1"]["fields"]
    assert fields["project"] == {"key": "SUP"} and fields["issuetype"] == {"name": "Bug"}
    assert fields["priority"] == {"name": "High"}  # a bug on an Enterprise plan is "high"
    assert not any(name.startswith("_") for name in fields)
    assert fields["description"].startswith("Links: [Zendesk ticket #901|https://acme.zendesk.com/agent/tickets/901]"
                                            " · [Case page|https://bridge.example.com/cases/c-1]")
    # No GET after the create (prefetch off), no serverInfo, no applinks lookup.
    assert jira.calls[0] == ("POST", "/issue")
    assert ("GET", "/issue/SUP-1") not in jira.calls
    assert sorted(jira.attachments["SUP-1"]) == ["c-1-console-log.txt", "c-1-network-requests.json",
                                                 "c-1-transcript.txt"]
    assert set(jira.links) == {"SUP-1|recovery-bridge:zendesk:901", "SUP-1|recovery-bridge:case:c-1"}
    assert jira.links["SUP-1|recovery-bridge:zendesk:901"]["object"]["url"] == \
        "https://acme.zendesk.com/agent/tickets/901"
    assert "SUP-1" not in jira.comments  # the first customer is in the description, not in a comment
    with store.session() as s:
        row = bugs.by_issue(s, "SUP-1")[0]
        assert (row.status, row.customers, row.mrr, row.case_ids) == ("open", 1, 1000.0, ["c-1"])


def test_the_routed_owner_watches_and_the_routed_project_wins(settings: Settings, store: Store,
                                                             jira: FakeJira) -> None:
    from bridge.events import RouteInfo

    route = RouteInfo(team="eng", jira_project="ENG", jira_components=["Exports"], jira_account_id="acc-owner")
    request = build_bug(package_for(bug_event(), "c-1", route=route), {"zendesk.ticket": "901"})
    connector(settings, store).send(STEP, request, Context("c-1", "c-1-jira.bug", {}))
    fields = jira.issues["SUP-1"]["fields"]
    assert fields["project"] == {"key": "ENG"} and fields["components"] == [{"name": "Exports"}]
    assert jira.watchers["SUP-1"] == {"acc-owner"}


def test_a_second_customer_with_the_same_bug_joins_the_open_issue(settings: Settings, store: Store,
                                                                  jira: FakeJira) -> None:
    assert send(settings, store, 1).external_id == "SUP-1"
    assert send(settings, store, 2).external_id == "SUP-1"
    assert jira.creates() == 1
    [comment] = jira.comments["SUP-1"]
    assert comment.startswith("*+1 customer* (case {{c-2}})")
    assert "Customer 2 / Company 2 — plan Enterprise — MRR 2,000.00" in comment
    assert "Now *2* customer(s) on this bug, MRR 3,000.00" in comment
    assert "[Zendesk ticket #902|https://acme.zendesk.com/agent/tickets/902]" in comment
    assert "c-2-console-log.txt" in jira.attachments["SUP-1"]
    assert "SUP-1|recovery-bridge:zendesk:902" in jira.links  # every customer's ticket is linked
    # The same step again (a replay): nothing new.
    before = (list(jira.comments["SUP-1"]), list(jira.attachments["SUP-1"]))
    assert send(settings, store, 2, refs={"jira.bug": "SUP-1"}).external_id == "SUP-1"
    assert send(settings, store, 2).external_id == "SUP-1"
    assert (jira.comments["SUP-1"], jira.attachments["SUP-1"]) == before
    with store.session() as s:
        row = bugs.by_issue(s, "SUP-1")[0]
        assert (row.customers, row.mrr, row.case_ids) == (2, 3000.0, ["c-1", "c-2"])


def test_the_blast_radius_raises_the_priority(settings: Settings, store: Store, jira: FakeJira) -> None:
    config = {"JIRA_BLAST_RADIUS": "2=High,3=Highest", "JIRA_PRIORITIES": "high=Low"}
    send(settings, store, 1, **config)
    assert jira.issues["SUP-1"]["fields"]["priority"] == {"name": "Low"}
    send(settings, store, 2, **config)
    assert jira.issues["SUP-1"]["fields"]["priority"] == {"name": "High"}
    send(settings, store, 3, **config)
    assert jira.issues["SUP-1"]["fields"]["priority"] == {"name": "Highest"}


def test_a_resolved_issue_is_not_joined(settings: Settings, store: Store, jira: FakeJira) -> None:
    send(settings, store, 1)
    jira.issues["SUP-1"]["status"] = "done"
    assert send(settings, store, 2).external_id == "SUP-2"
    assert jira.creates() == 2 and "SUP-1" not in jira.comments


def test_bugs_without_a_fingerprint_are_never_merged(settings: Settings, store: Store, jira: FakeJira) -> None:
    for n in (1, 2):
        event = bug_event(n, evidence={"page_url": "https://app.example.com/reports"})
        event["conversation"]["messages"][0]["text"] = "The export button does nothing at all"
        request = build_bug(package_for(event, f"c-{n}"), {})
        connector(settings, store).send(STEP, request, Context(f"c-{n}", f"c-{n}-jira.bug", {}))
    assert jira.creates() == 2


# --- failure table ----------------------------------------------------------------------------

def test_created_then_connection_reset_gives_one_issue(settings: Settings, store: Store, jira: FakeJira) -> None:
    jira.create_faults = ["reset-after"]
    with pytest.raises(RetryableError):
        send(settings, store)
    assert send(settings, store).external_id == "SUP-1"
    assert jira.creates() == 1  # no library re-POST, and the retry found the issue by its case label
    assert ("GET", "/search/jql") in jira.calls
    with store.session() as s:
        assert bugs.by_issue(s, "SUP-1")[0].case_ids == ["c-1"]


def test_the_retry_waits_for_search_to_catch_up(settings: Settings, store: Store, jira: FakeJira) -> None:
    jira.create_faults = [requests.ReadTimeout("read timed out")]
    with pytest.raises(RetryableError):
        send(settings, store, JIRA_SEARCH_LAG="120")
    with pytest.raises(RetryableError) as waiting:
        send(settings, store, JIRA_SEARCH_LAG="120")
    assert 100 < (waiting.value.retry_after or 0) <= 120  # rescheduled, not slept
    assert jira.creates() == 1 and ("GET", "/search/jql") not in jira.calls
    assert send(settings, store).external_id == "SUP-1"  # lag over (0 here): search, nothing, create
    assert jira.creates() == 2


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("1.5", 1.5), ("Wed, 21 Oct 2099 07:28:00 GMT", 21600.0),
                                                  (None, None)])
def test_429_is_retryable_with_retry_after_and_never_sleeps(settings: Settings, store: Store, jira: FakeJira,
                                                            header: str | None, expected: float | None) -> None:
    jira.create_faults = [(429, {"Retry-After": header} if header else {}, json.dumps({"errorMessages": ["slow"]}))]
    with pytest.raises(RetryableError) as excinfo:
        send(settings, store, JIRA_SEARCH_LAG="600")
    assert excinfo.value.retry_after == expected and jira.creates() == 1
    # Jira made nothing: the next attempt creates at once, without waiting for search.
    assert send(settings, store, JIRA_SEARCH_LAG="600").external_id == "SUP-1"


@pytest.mark.parametrize("fault", [(500, {}, "{}"), (502, {}, "bad gateway"), (503, {}, "{}"),
                                   requests.ConnectionError("reset"), requests.ConnectTimeout("connect timeout")])
def test_server_errors_timeouts_and_resets_are_retryable(settings: Settings, store: Store, jira: FakeJira,
                                                         fault: Any) -> None:
    jira.create_faults = [fault]
    with pytest.raises(RetryableError):
        send(settings, store)
    assert send(settings, store).external_id == "SUP-1" and jira.creates() == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_permanent_with_jiras_field_errors(settings: Settings, store: Store, jira: FakeJira,
                                                             status: int) -> None:
    body = {"errorMessages": ["Bad request"], "errors": {"components": "Component name 'Exports' is not valid"}}
    jira.create_faults = [(status, {}, json.dumps(body))]
    with pytest.raises(PermanentError) as excinfo:
        send(settings, store)
    message = str(excinfo.value)
    assert f"Jira {status}" in message and "components: Component name 'Exports' is not valid" in message
    assert "tok" not in message and "Authorization" not in message
    with store.session() as s:  # the claim is given up: the next report of the bug can file it
        fp = build_bug(package_for(bug_event()), {}).fingerprint
        assert fp is not None and bugs.get(s, fp.value) is None


def test_a_garbage_2xx_is_ambiguous(settings: Settings, store: Store, jira: FakeJira) -> None:
    jira.create_faults = [(201, {}, "<html>proxy</html>")]
    with pytest.raises(RetryableError):
        send(settings, store)
    send(settings, store)
    assert ("GET", "/search/jql") in jira.calls


def test_a_second_case_waits_while_the_first_is_filing(settings: Settings, store: Store, jira: FakeJira) -> None:
    jira.create_faults = [requests.ConnectionError("reset")]
    with pytest.raises(RetryableError):
        send(settings, store, 1)
    with pytest.raises(RetryableError, match="is filing the Jira issue"):
        send(settings, store, 2)
    assert jira.creates() == 1
    send(settings, store, 1)
    assert send(settings, store, 2).external_id == "SUP-1" and jira.creates() == 2


# --- evidence ---------------------------------------------------------------------------------

class Evidence(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def evidence_host() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.2", 0), Evidence)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{httpd.server_address[1]}"
    httpd.shutdown()


def test_screenshots_are_fetched_safely_and_blocked_urls_listed(settings: Settings, store: Store, jira: FakeJira,
                                                               evidence_host: str) -> None:
    event = bug_event()
    event["evidence"]["screenshots"] = [
        {"kind": "screenshot", "url": f"{evidence_host}/shot.png", "name": "shot.png"},
        {"kind": "screenshot", "url": "http://169.254.169.254/latest/meta-data/"},
    ]
    request = build_bug(package_for(event), {"zendesk.ticket": "901"})
    live = connector(settings, store, BRIDGE_FETCH_ALLOW="127.0.0.2/32")
    live.send(STEP, request, Context("c-1", "c-1-jira.bug", {}))
    assert "c-1-shot.png" in jira.attachments["SUP-1"]
    description = jira.issues["SUP-1"]["fields"]["description"]
    assert "169.254.169.254/latest/meta-data/: not attached: blocked" in description
    assert "shot.png (screenshot): attached" in description


def test_a_follow_up_file_jira_refuses_is_listed_and_the_comment_still_made(
        settings: Settings, store: Store, jira: FakeJira, evidence_host: str) -> None:
    from connectors.jira import build_followup

    send(settings, store)
    followup = {"n": 1, "message_index": 4, "text": "Here is the screen.",
                "files": [{"kind": "screenshot", "url": f"{evidence_host}/shot.png", "name": "shot.png"}]}
    refs = {"jira.bug": "SUP-1", "followup": followup, "unanswered": True, "taken": False}
    request = build_followup(package_for(bug_event()), refs)
    jira.attach_faults.append((413, {}, json.dumps({"errorMessages": ["too large"]})))
    live = connector(settings, store, BRIDGE_FETCH_ALLOW="127.0.0.2/32")
    live.send(STEPS["jira.followup"], request, Context("c-1", "c-1-jira.followup#1", refs))
    [comment] = jira.comments["SUP-1"]
    assert "Here is the screen." in comment and "shot.png: not attached: " in comment
    assert "attached, from" not in comment and "c-1-shot.png" not in jira.attachments["SUP-1"]


@pytest.mark.parametrize("behaviour", ["short_body", "reset", "drip_headers"])
def test_evidence_from_a_misbehaving_host_never_blocks_the_bug(behaviour: str, settings: Settings, store: Store,
                                                              jira: FakeJira, evidence_host: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module, "TOTAL_SECONDS", 0.5)
    event = bug_event()
    with MisbehavingServer(BEHAVIOURS[behaviour]) as bad:
        event["evidence"]["screenshots"] = [
            {"kind": "screenshot", "url": f"{bad.url}/broken.png", "name": "broken.png"},
            {"kind": "screenshot", "url": f"{evidence_host}/shot.png", "name": "shot.png"},
        ]
        request = build_bug(package_for(event), {"zendesk.ticket": "901"})
        live = connector(settings, store, BRIDGE_FETCH_ALLOW="127.0.0.2/32")
        live.send(STEP, request, Context("c-1", "c-1-jira.bug", {}))
    attached = list(jira.attachments["SUP-1"])
    assert "c-1-shot.png" in attached and not [name for name in attached if "broken" in name]
    description = jira.issues["SUP-1"]["fields"]["description"]
    assert f"{bad.url}/broken.png: not attached: " in description


# --- through the jobs -------------------------------------------------------------------------

ZENDESK = "https://acme.zendesk.com/api/v2"
ZCREDS = {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "tok"}


class FakeZendesk:
    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.tickets: list[dict[str, Any]] = []
        self.notes: dict[int, list[str]] = {}
        rsps.add_callback(responses.GET, f"{ZENDESK}/tickets.json", callback=self.lookup)
        rsps.add(responses.POST, f"{ZENDESK}/users/create_or_update.json", json={"user": {"id": 7}})
        rsps.add_callback(responses.POST, f"{ZENDESK}/tickets.json", callback=self.create)
        rsps.add_callback(responses.GET, re.compile(rf"{ZENDESK}/tickets/\d+/comments.json.*"), callback=self.comments)
        rsps.add_callback(responses.PUT, re.compile(rf"{ZENDESK}/tickets/\d+.json"), callback=self.note)

    def lookup(self, request: Any) -> Any:
        external = parse_qs(urlsplit(request.url).query).get("external_id", [""])[0]
        found = [{"id": 901 + i, "external_id": t["external_id"]} for i, t in enumerate(self.tickets)
                 if t["external_id"] == external]
        return 200, {}, json.dumps({"tickets": found, "next_page": None, "count": len(found)})

    def create(self, request: Any) -> Any:
        self.tickets.append(json.loads(request.body)["ticket"])
        return 201, {}, json.dumps({"ticket": {"id": 900 + len(self.tickets)}})

    def comments(self, request: Any) -> Any:
        ticket = int(re.search(r"/tickets/(\d+)/", request.url).group(1))  # type: ignore[union-attr]
        bodies = self.notes.get(ticket, [])
        return 200, {}, json.dumps({"comments": [{"id": i, "body": b} for i, b in enumerate(bodies)],
                                    "next_page": None})

    def note(self, request: Any) -> Any:
        ticket = int(re.search(r"/tickets/(\d+).json", request.url).group(1))  # type: ignore[union-attr]
        self.notes.setdefault(ticket, []).append(json.loads(request.body)["ticket"]["comment"]["body"])
        return 200, {}, json.dumps({"ticket": {"id": ticket}})


def test_two_customers_one_bug_through_the_jobs_and_replays_change_nothing(settings: Settings) -> None:
    from bridge import create_app
    from bridge.runtime import Runtime
    from bridge.store import repo
    from bridge.worker import handover
    from bridge.worker.runner import run_due
    from tests.helpers import dumps, signed_headers

    rt = Runtime.build(settings.with_overrides(extra={**ZCREDS, **CREDS}))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    bodies = [dumps(bug_event(1)), dumps(bug_event(2))]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        zendesk, jira = FakeZendesk(rsps), FakeJira(rsps)
        cases = []
        for body in bodies:
            cases.append(client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"])
            run_due(rt)

        def steps(case: str) -> dict[str, tuple[str, str | None]]:
            with rt.store.session() as s:
                return {d.step: (d.status, d.external_id) for d in repo.deliveries_of(s, case)}

        first, second = steps(cases[0]), steps(cases[1])
        assert first["jira.bug"] == second["jira.bug"] == ("done", "SUP-1")
        assert first["zendesk.ticket"] == ("done", "901") and second["zendesk.ticket"] == ("done", "902")
        assert first["zendesk.link"][0] == second["zendesk.link"][0] == "done"
        assert jira.creates() == 1 and len(zendesk.tickets) == 2
        assert len(jira.comments["SUP-1"]) == 1 and f"case {{{{{cases[1]}}}}}" in jira.comments["SUP-1"][0]
        for ticket in (901, 902):  # linked both ways: each ticket's note names the one issue
            [note] = zendesk.notes[ticket]
            assert "Engineering bug filed: SUP-1" in note
        assert {f"SUP-1|recovery-bridge:zendesk:{t}" for t in (901, 902)} <= set(jira.links)
        with rt.store.session() as s:
            [row] = bugs.by_issue(s, "SUP-1")
            assert row.customers == 2 and row.case_ids == cases and row.mrr == 3000.0

        # Redeliveries, and both Jira steps replayed by hand: still one issue, one comment, same files.
        snapshot = (dict(jira.issues), list(jira.comments["SUP-1"]), list(jira.attachments["SUP-1"]),
                    dict(zendesk.notes))
        for body in bodies:
            client.post("/webhooks/generic", data=body, headers=signed_headers(body))
        with rt.store.session() as s:
            ids = [d.id for case in cases for d in repo.deliveries_of(s, case) if d.step == "jira.bug"]
            for ident in ids:
                s.get(type(repo.deliveries_of(s, cases[0])[0]), ident).status = "dead"
            s.commit()
        for ident in ids:
            assert handover.replay(f"dl-{ident}", rt)
        run_due(rt)
        assert (dict(jira.issues), jira.comments["SUP-1"], jira.attachments["SUP-1"], zendesk.notes) == snapshot
        assert jira.creates() == 1 and len(zendesk.tickets) == 2
        assert steps(cases[1])["jira.bug"] == ("done", "SUP-1")


def test_an_issue_created_before_its_attachments_failed_is_never_lost(settings: Settings) -> None:
    """Jira created the issue, then every attachment upload failed until the step died: the key is
    kept on the step and the case, the Zendesk note links the issue (not "no bug could be filed"),
    and a replay once Jira is well finishes the same issue."""
    from bridge import create_app
    from bridge.runtime import Runtime
    from bridge.store import repo
    from bridge.worker import handover
    from bridge.worker.runner import run_due
    from tests.helpers import dumps, signed_headers

    rt = Runtime.build(settings.with_overrides(extra={**ZCREDS, **CREDS}))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    body = dumps(bug_event(1))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        zendesk, jira = FakeZendesk(rsps), FakeJira(rsps)
        jira.attach_status = 503
        case = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
        run_due(rt)
        with rt.store.session() as s:
            step = next(d for d in repo.deliveries_of(s, case) if d.step == "jira.bug")
            assert (step.status, step.external_id, step.attempts) == ("dead", "SUP-1", 3)
            assert repo.get_case(s, case).refs["jira.bug"] == "SUP-1"  # type: ignore[union-attr]
            link = next(d for d in repo.deliveries_of(s, case) if d.step == "zendesk.link")
            assert link.status == "done"
            ident = step.id
        assert jira.creates() == 1 and "SUP-1" not in jira.attachments
        [note] = zendesk.notes[901]
        assert "Engineering bug filed: SUP-1" in note

        jira.attach_status = None
        assert handover.replay(f"dl-{ident}", rt)
        run_due(rt)
        with rt.store.session() as s:
            step = next(d for d in repo.deliveries_of(s, case) if d.step == "jira.bug")
            assert (step.status, step.external_id) == ("done", "SUP-1")
        assert jira.creates() == 1 and jira.attachments["SUP-1"]


def test_the_case_label_is_the_case_id_even_when_it_reads_as_a_card_number() -> None:
    # A case id is 20 hex characters: now and then a run of its digits passes the card check (the
    # multi-node fault run met c-5f…c, labelled rb-c-5f[card_ending_6971]c). The label is how a retry
    # finds the issue an ambiguous create made, so it must be the case id as it is.
    case_id = "c-5f4111111111111111c"
    bug = build_bug(package_for(bug_event(), case_id=case_id), {"zendesk.ticket": "42"})
    assert f"rb-{case_id}" in bug.labels
    assert case_id in bug.comment
