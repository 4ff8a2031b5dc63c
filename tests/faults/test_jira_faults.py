"""Jira under fault: the same deployment as the rest of the suite (gunicorn, two ``bridge worker``
processes, Redis, PostgreSQL), with a recording, programmable Jira stub. Every accepted bug report
ends as exactly one ticket, one alert and one Jira issue per bug (its customers joined to it by
comment), or as a visible dead letter that still knows the issue it made.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.conftest import case, deployment
from tests.faults.harness import Bridge
from tests.faults.jira_stub import JiraStub
from tests.faults.stubs import Act
from tests.faults.test_faults import finish
from tests.helpers import generic_event

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def jira_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with deployment(tmp_path_factory.mktemp("jira")) as build:
        yield build(workers=2, jira=True)


@pytest.fixture
def bridge(jira_bridge: Bridge) -> Iterator[Bridge]:
    yield jira_bridge.recover()
    jira_bridge.recover(scope=False)


def bug_report(bug: str, customer: int = 1) -> dict[str, Any]:
    """A customer hits bug ``bug`` (the same ``bug`` from several customers is one fingerprint)."""
    event = generic_event(conversation_id=f"conv-{bug}-{customer}", messages=[
        {"id": "1", "role": "customer", "text": "The export crashes with an error since yesterday's update"},
        {"id": "2", "role": "bot", "text": "I'm not sure how to fix that.", "confidence": 0.3},
    ])
    event["customer"] = {"id": f"cus-{bug}-{customer}", "email": f"u{customer}@example.com",
                         "account": {"id": f"acc-{bug}-{customer}", "mrr": 100.0 * customer}}
    event["evidence"] = {
        "console_logs": [{"level": "error", "message": f"TypeError: {bug} is null (row {customer * 17})"}],
        "device": {"app_version": "4.2.0"}, "page_url": f"https://t{customer}.app.example.com/reports/9",
    }
    return event


def new_bug() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=12))  # letters only: never normalised away


def jira_steps(bridge: Bridge, cases: set[str]) -> dict[str, tuple[str, str | None]]:
    from bridge.store import repo

    with bridge.store.session() as s:
        return {c: next(((d.status, d.external_id) for d in repo.deliveries_of(s, c) if d.step == "jira.bug"),
                        ("none", None)) for c in cases}


def check_one_issue(bridge: Bridge, observed: list[str], cases: set[str]) -> str:
    """One issue for the bug, every case's step knows it, nothing else was filed."""
    jira: JiraStub = bridge.jira
    steps = jira_steps(bridge, cases)
    keys = {key for _, key in steps.values()}
    created = [k for c in cases for k in jira.issues_labelled(f"rb-{c}")]
    observed.append(f"jira: {len(created)} issue(s) created, steps {sorted(set(steps.values()))}")
    assert len(created) == 1, created
    assert keys == {created[0]}, steps
    return created[0]


@pytest.mark.parametrize(("fault", "acts"), [
    pytest.param("5xx-burst", [Act(status=503), Act(status=502), Act(status=500)], id="5xx-burst"),
    pytest.param("429", [Act(status=429, headers={"Retry-After": "2"})], id="429-retry-after-2"),
    pytest.param("commit-then-reset", [Act(drop_after_commit=True)], id="commit-then-reset"),
    pytest.param("hang", [Act(hang=20)], id="hang"),
    pytest.param("garbage-200", [Act(garbage=True)], id="garbage-200"),
])
@case("J1-J5", "a Jira fault on the issue create (5xx burst, 429, created then reset, hang, garbage 200)",
      "retried; an ambiguous create is looked for by its case label before another is sent; one issue")
def test_jira_create_fault_makes_one_issue(bridge: Bridge, observed: list[str], fault: str, acts: list[Act]) -> None:
    observed.append(f"fault: Jira: {fault} on the create")
    before = bridge.jira.count("issue.create")
    bridge.jira.program("issue.create", *acts)
    sent = bridge.post(bug_report(new_bug()))
    assert sent.status == 202 and sent.case
    finish(bridge, observed, timeout=90)
    key = check_one_issue(bridge, observed, {sent.case})
    assert jira_steps(bridge, {sent.case})[sent.case] == ("done", key)
    creates = bridge.jira.count("issue.create") - before
    observed.append(f"create calls: {creates}")
    # A create that committed is found by its label, never sent again; one that did not is resent.
    assert creates == (1 if all(a.commits for a in acts) else len(acts) + 1), creates


@case("J6", "Jira creates the issue, then every attachment upload fails (503) until the step's last attempt",
      "the step is a dead letter that keeps the issue key; the ticket's link note names the issue; one issue")
def test_attachment_failure_after_create_keeps_the_issue(bridge: Bridge, observed: list[str]) -> None:
    bridge.jira.down("issue.attach", Act(status=503))
    sent = bridge.post(bug_report(new_bug()))
    assert sent.status == 202 and sent.case
    finish(bridge, observed, timeout=90)
    steps = jira_steps(bridge, {sent.case})
    created = bridge.jira.issues_labelled(f"rb-{sent.case}")
    observed.append(f"jira.bug {steps[sent.case]}, issues {created}")
    assert len(created) == 1 and steps[sent.case] == ("dead", created[0])
    [ticket] = bridge.zendesk.tickets_for(sent.case)
    notes = [c.get("body", "") for c in bridge.zendesk.comments.get(int(ticket["id"]), [])]
    assert any(f"Engineering bug filed: {created[0]}" in n for n in notes), notes


@case("J7", "three customers report the same bug at the same instant (3 threads)",
      "one issue, filed by one case; the other two join it with one comment each; never two issues")
def test_same_bug_storm_makes_one_issue(bridge: Bridge, observed: list[str]) -> None:
    bug = new_bug()
    sent = bridge.post_many([bug_report(bug, customer=n) for n in (1, 2, 3)], threads=3)
    assert [s.status for s in sent] == [202] * 3
    cases = {s.case for s in sent if s.case}
    finish(bridge, observed, timeout=120)
    steps = jira_steps(bridge, cases)
    keys = {key for _, key in steps.values()}
    issues = [k for k, i in bridge.jira.issues.items()
              if any(label.startswith("rb-") and label[3:] in cases for label in i["fields"].get("labels") or [])]
    observed.append(f"issues {issues}, steps {sorted(steps.values())}, comments "
                    f"{len(bridge.jira.comments.get(issues[0], [])) if issues else 0}")
    assert len(issues) == 1 and keys == set(issues) and all(st == "done" for st, _ in steps.values())
    comments = bridge.jira.comments.get(issues[0], [])
    assert len(comments) == 2 and all(any(c in body for c in cases) for body in comments), comments


@case("J8", "the bug is filed before the Slack alert is posted: Slack answers 503 to the alert twice (Jira is quick)",
      "the alert's thread update (bug link) waits for the alert instead of failing for want of it: no dead letter, "
      "one alert, updated in place once with the bug")
def test_bug_filed_before_the_alert_is_posted(bridge: Bridge, observed: list[str]) -> None:
    bridge.slack.program("chat.postMessage", Act(status=503), Act(status=503))
    before = bridge.slack.count("chat.update")
    sent = bridge.post(bug_report(new_bug()))
    assert sent.status == 202 and sent.case
    finish(bridge, observed, timeout=90)
    steps = {d["kind"]: d["last_error"] for d in bridge.dead_letters() if d["case"] == sent.case}
    updates = bridge.slack.count("chat.update") - before
    observed.append(f"dead letters {steps}; chat.update calls {updates}")
    assert not steps and updates == 1
