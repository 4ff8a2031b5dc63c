"""The reconciler reads the ticket's audits (issue 22, item 4): every transition between two polls is
applied in audit order with the audit's own time and author, through the webhooks' code, once.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.loop import jobs as loop
from bridge.runtime import Runtime
from bridge.store import loop_repo, repo
from bridge.store.models import ESCALATED, RESOLVED, TicketStateRow
from connectors.base import PermanentError, RetryableError
from tests.test_loop import (  # noqa: F401 - fixtures
    BRIDGE_USER,
    T0,
    case_id,
    clock,
    get_case,
    kinds,
    post_zendesk,
    settings,
    status,
    timeline,
    vclient,
)

TICKET, AGENT, CUSTOMER = "4242", "9001", "123"


@pytest.fixture(params=["sqlite", "postgres"])
def rt(request: pytest.FixtureRequest, settings: Settings) -> Runtime:  # noqa: F811
    from bridge.runtime import install
    from bridge.store.migrate import upgrade

    if request.param == "postgres":
        settings = settings.with_overrides(database_url=request.getfixturevalue("pg_url"))
    runtime = install(Runtime.build(settings))
    upgrade(runtime.store)
    return runtime


def audit(ident: int, at: datetime, author: str, *events: dict[str, Any], via: str = "web") -> dict[str, Any]:
    return {"id": str(ident), "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "author_id": author, "via": via,
            "page": None, "events": list(events)}


def to(frm: str, status_: str) -> dict[str, Any]:
    return {"kind": "status", "status_from": frm, "status_to": status_}


def said(cid: str, body: str, author: str = AGENT, public: bool = True, staff: bool = True,
         via: str = "web") -> dict[str, Any]:
    return {"kind": "comment", "comment": {"id": cid, "author_id": author, "public": public, "body": body,
                                           "via": via, "is_staff": staff, "macro_ids": []}}


class Audits:
    """The connector's ``ticket_audits`` over a list: pages of two, the cursor of a page is ``p<index>``."""

    def __init__(self, *audits: dict[str, Any]) -> None:
        self.audits, self.reads = list(audits), []  # type: ignore[var-annotated]
        self.fail: Exception | None = None
        self.refuse: set[str] = set()  # page cursors answered 400
        self.snapshots = 0

    def ticket_audits(self, ticket_id: str, page: str | None = None, after: str | None = None) -> dict[str, Any]:
        self.reads.append(page)
        if self.fail is not None:
            raise self.fail
        if page in self.refuse:
            raise PermanentError("Zendesk 400: InvalidPaginationParameter")
        start = int(page[1:]) if page else 0
        out = [{**a, "page": f"p{i - i % 2}" if i >= 2 else None} for i, a in enumerate(self.audits) if i >= start]
        return json.loads(json.dumps({"audits": out, "more": False}))

    def ticket_activity(self, ticket_id: str) -> dict[str, Any]:
        self.snapshots += 1
        return {"id": ticket_id, "status": "solved", "updated_at": (T0 + timedelta(hours=9)).isoformat(),
                "comments": []}


@pytest.fixture
def live(rt: Runtime, case_id: str) -> str:  # noqa: F811
    """The case's ticket is a live one (its webhooks lost, unless a test posts them)."""
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        case.refs = {**case.refs, "zendesk.ticket": TICKET}
        s.commit()
    return case_id


def poll(rt: Runtime, case: str, source: Audits) -> str:
    """The next poll, when it comes due (RECONCILE_EVERY after the last, or after the escalation)."""
    rt.clock.now += loop_repo.RECONCILE_EVERY + timedelta(minutes=1)  # type: ignore[attr-defined]
    with rt.store.session() as s:
        assert loop_repo.due_reconciles(s, rt.clock()) == [case]  # the job the worker would run
    return loop.reconcile_ticket(case, rt, source=source)


def cursor(rt: Runtime, case: str) -> tuple[str | None, str | None]:
    with rt.store.session() as s:
        state = s.get(TicketStateRow, case)
        return state.audit_id, state.audit_page


H = timedelta(hours=1)
CREATED = audit(10, T0 + timedelta(minutes=1), BRIDGE_USER, said("11", "the package", BRIDGE_USER, public=False),
                to("new", "open"), via="api")


def test_a_solve_and_a_reopen_between_two_polls_are_both_recorded(rt: Runtime, live: str) -> None:
    reply = said("21", "Your workspace is in the EU region now.")
    source = Audits(CREATED, audit(20, T0 + H, AGENT, reply, to("open", "solved")),
                    audit(30, T0 + 2 * H, CUSTOMER, said("31", "It is not, still US.", CUSTOMER, staff=False),
                          to("solved", "open"), via="email"))
    assert poll(rt, live, source) == "applied,not_human,own_change"
    row = get_case(rt, live)
    assert (row.status, row.resolved_at, row.first_response_at) == (ESCALATED, T0 + H, T0 + H)
    assert timeline(rt, live, "ticket.solved") == [(T0 + H, f"zendesk:{AGENT}", {"ticket_id": TICKET, "from": "open"})]
    assert timeline(rt, live, "ticket.reopened") == [
        (T0 + 2 * H, f"zendesk:{CUSTOMER}", {"ticket_id": TICKET, "from": "solved", "to": "open"})]
    assert kinds(rt, live).count("agent.replied") == 1  # the customer's comment is no reply
    assert cursor(rt, live) == ("30", "p2")


def test_a_reopen_between_two_solves_is_recorded(rt: Runtime, live: str) -> None:
    source = Audits(audit(20, T0 + H, AGENT, to("open", "solved")),
                    audit(30, T0 + 2 * H, CUSTOMER, to("solved", "open")),
                    audit(40, T0 + 3 * H, AGENT, to("open", "solved")))
    poll(rt, live, source)
    assert [k for k in kinds(rt, live) if k.startswith("ticket.")] == ["ticket.solved", "ticket.reopened",
                                                                       "ticket.solved"]
    row = get_case(rt, live)
    assert (row.status, row.resolved_at) == (RESOLVED, T0 + 3 * H)


def test_the_same_audits_read_twice_change_nothing(rt: Runtime, live: str) -> None:
    reply = said("21", "Done: the export works again.")
    source = Audits(CREATED, audit(20, T0 + H, AGENT, reply, to("open", "solved")),
                    audit(30, T0 + 2 * H, CUSTOMER, to("solved", "open")))
    poll(rt, live, source)
    before = kinds(rt, live)
    assert poll(rt, live, source) == "no_change"
    assert kinds(rt, live) == before
    assert source.reads == [None, "p2"]  # the second poll read from the last audit's page on


def test_a_change_a_webhook_already_applied_is_applied_once(rt: Runtime, vclient: FlaskClient,  # noqa: F811
                                                            live: str) -> None:
    post_zendesk(vclient, rt, status(live, T0 + H, "SOLVED", "OPEN"))
    rating = {"ticket_id": TICKET, "external_id": live, "updated_at": (T0 + 3 * H).isoformat(), "status": "solved",
              "satisfaction": {"score": "good", "comment": "quick"}}
    post_zendesk(vclient, rt, rating)  # a trigger told us of the rating
    source = Audits(audit(20, T0 + H, AGENT, to("open", "solved")),
                    audit(30, T0 + 3 * H, CUSTOMER, {"kind": "csat", "score": "good", "csat_comment": "quick"}),
                    audit(40, T0 + 4 * H, CUSTOMER, to("solved", "open")))
    assert poll(rt, live, source) == "applied,unchanged"  # the solve and the rating were known: only the reopen
    assert kinds(rt, live).count("ticket.solved") == 1 and kinds(rt, live).count("csat.rated") == 1
    assert [at for at, _, _ in timeline(rt, live, "ticket.reopened")] == [T0 + 4 * H]


def test_a_webhook_arriving_after_the_audit_changes_nothing(rt: Runtime, vclient: FlaskClient,  # noqa: F811
                                                           live: str) -> None:
    poll(rt, live, Audits(audit(20, T0 + H, AGENT, said("21", "Fixed on our side, please retry."),
                                to("open", "solved"))))
    post_zendesk(vclient, rt, status(live, T0 + H, "SOLVED", "OPEN"))  # the lost webhook, late
    from tests.test_loop import comment, results

    post_zendesk(vclient, rt, comment(live, T0 + H, "Fixed on our side, please retry.", cid="21"))
    assert results(rt)[-2:] == [("ignored", "unchanged"), ("ignored", "duplicate")]
    assert kinds(rt, live).count("ticket.solved") == 1 and kinds(rt, live).count("agent.replied") == 1


def test_the_bridges_own_changes_in_audits_are_ignored(rt: Runtime, live: str) -> None:
    source = Audits(CREATED, audit(20, T0 + H, BRIDGE_USER, said("21", "An update for you (approved).", BRIDGE_USER),
                                   {"kind": "assignee", "assignee_id": AGENT}, to("open", "pending"), via="api"))
    assert poll(rt, live, source) == "own_change"
    assert not [k for k in kinds(rt, live) if k.startswith(("ticket.", "agent.", "case.acknowledged"))]
    assert get_case(rt, live).acknowledged_at is None
    assert cursor(rt, live) == ("20", None)  # ignored, but read: the next poll starts after it


def test_the_cursor_advances_and_each_poll_applies_only_what_came_after(rt: Runtime, live: str) -> None:
    source = Audits(CREATED, audit(20, T0 + H, AGENT, {"kind": "assignee", "assignee_id": AGENT}),
                    audit(30, T0 + 2 * H, AGENT, said("31", "Here is how to move the workspace: ...")))
    poll(rt, live, source)
    assert cursor(rt, live) == ("30", "p2")
    source.audits += [audit(40, T0 + 3 * H, AGENT, to("open", "solved")),
                      audit(50, T0 + 4 * H, CUSTOMER, to("solved", "open"))]
    assert poll(rt, live, source) == "applied"
    assert cursor(rt, live) == ("50", "p4")
    source.audits.append(audit(60, T0 + 5 * H, AGENT, to("open", "solved")))
    poll(rt, live, source)
    assert source.reads == [None, "p2", "p4"] and cursor(rt, live) == ("60", "p4")
    assert [k for k in kinds(rt, live) if k.startswith("ticket.")] == [
        "ticket.assignee", "ticket.solved", "ticket.reopened", "ticket.solved"]


def test_a_page_cursor_zendesk_refuses_reads_again_from_the_first_page(rt: Runtime, live: str) -> None:
    source = Audits(CREATED, audit(20, T0 + H, AGENT, to("open", "pending")), audit(30, T0 + 2 * H, AGENT))
    poll(rt, live, source)
    source.refuse.add("p2")
    source.audits.append(audit(40, T0 + 3 * H, AGENT, to("pending", "solved")))
    assert poll(rt, live, source) == "applied"
    assert source.reads == [None, "p2", None] and kinds(rt, live).count("ticket.solved") == 1
    assert cursor(rt, live) == ("40", "p2")


def test_unreadable_audits_fall_back_to_the_snapshot_and_say_so(rt: Runtime, live: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    source = Audits()
    source.fail = PermanentError("Zendesk 403: {\"error\": \"Forbidden\"}")
    with caplog.at_level(logging.WARNING, logger="bridge.loop"):
        assert poll(rt, live, source) == "applied"
    assert source.snapshots == 1 and kinds(rt, live).count("ticket.solved") == 1
    assert [r.message for r in caplog.records] == ["bridge.loop.audits_unreadable"]
    assert cursor(rt, live) == (None, None)


@pytest.mark.parametrize("error", [RetryableError("Zendesk rate limit (429)", retry_after=30),
                                   RetryableError("Zendesk 503")])
def test_a_throttled_or_failing_read_waits_for_the_next_poll(rt: Runtime, live: str, error: RetryableError) -> None:
    source = Audits(audit(20, T0 + H, AGENT, to("open", "solved")))
    source.fail = error
    assert poll(rt, live, source) == "failed"
    assert source.snapshots == 0 and "ticket.solved" not in kinds(rt, live)
    with rt.store.session() as s:  # no spinning: nothing is due until the next poll
        assert loop_repo.due_reconciles(s, rt.clock() + timedelta(minutes=14)) == []
    source.fail = None
    assert poll(rt, live, source) == "applied"
