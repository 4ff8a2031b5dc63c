"""Vendor events under fault (issue 22, item 4): Zendesk and Jira webhooks into ``/events/zendesk``
and ``/events/jira`` of the deployment the suite runs (gunicorn, ``bridge worker``, PostgreSQL,
the Zendesk, Slack and Jira stubs), delivered twice, out of order, replayed, or dead and replayed.
Each case checks what the case ended as (status, timeline) and, where a vendor event makes the
bridge write back (a Jira resolution → a Zendesk internal note and a Slack thread post), that the
write happened once at the vendor.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.faults.conftest import case, deployment
from tests.faults.harness import Bridge, event
from tests.faults.stubs import Act
from tests.faults.test_faults import finish
from tests.faults.test_jira_faults import bug_report, new_bug

pytestmark = pytest.mark.faults

ZD_SECRET = "zd-fault-signing-secret"
JIRA_SECRET = "jira-fault-shared-secret"
BRIDGE_USER = "777"
AGENT = "9001"
VENDOR_ENV = {"ZENDESK_WEBHOOK_SECRET": ZD_SECRET, "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
              "ZENDESK_BRIDGE_USER_ID": BRIDGE_USER}


@pytest.fixture(scope="module")
def loop_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with deployment(tmp_path_factory.mktemp("loop")) as build:
        yield build(workers=2, jira=True, **VENDOR_ENV)


@pytest.fixture
def bridge(loop_bridge: Bridge) -> Iterator[Bridge]:
    yield loop_bridge.recover()


# --- driving ------------------------------------------------------------------------------------

def escalated(bridge: Bridge, observed: list[str], bug: bool = False) -> tuple[str, str]:
    """A case delivered once (ticket, alert; with ``bug`` also its Jira issue): (case id, ticket id)."""
    sent = bridge.post(bug_report(new_bug()) if bug else event())
    assert sent.status == 202 and sent.case
    finish(bridge, observed, timeout=90)
    [ticket] = bridge.zendesk.tickets_for(sent.case)
    return sent.case, str(ticket["id"])


def zd_post(bridge: Bridge, payload: dict[str, Any], invocation: str | None = None,
            age: float = 0) -> tuple[int, dict[str, Any]]:
    from bridge.adapters.vendor.zendesk import zendesk_signature

    body = json.dumps(payload).encode()
    stamp = (datetime.now(UTC) - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": stamp,
               "X-Zendesk-Webhook-Signature": zendesk_signature(body, stamp, ZD_SECRET),
               "X-Zendesk-Webhook-Invocation-Id": invocation or uuid.uuid4().hex}
    answer = requests.post(f"http://127.0.0.1:{bridge.port}/events/zendesk", data=body, headers=headers, timeout=10)
    return answer.status_code, answer.json()


def jira_post(bridge: Bridge, payload: dict[str, Any], ident: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "X-Bridge-Webhook-Secret": JIRA_SECRET,
               "X-Atlassian-Webhook-Identifier": ident or uuid.uuid4().hex}
    answer = requests.post(f"http://127.0.0.1:{bridge.port}/events/jira", data=json.dumps(payload).encode(),
                           headers=headers, timeout=10)
    return answer.status_code, answer.json()


def ticket_event(case_id: str, ticket: str, kind: str, change: dict[str, Any], at: datetime,
                 actor: str = AGENT) -> dict[str, Any]:
    return {"type": f"zen:event-type:ticket.{kind}", "id": uuid.uuid4().hex, "time": at.isoformat(),
            "subject": f"zen:ticket:{ticket}",
            "detail": {"id": ticket, "external_id": case_id, "actor_id": actor, "updated_at": at.isoformat()},
            "event": change}


def status(case_id: str, ticket: str, to: str, frm: str, at: datetime) -> dict[str, Any]:
    return ticket_event(case_id, ticket, "status_changed", {"current": to, "previous": frm}, at)


def reply(case_id: str, ticket: str, text: str, at: datetime, cid: str | None = None) -> dict[str, Any]:
    comment = {"id": cid or uuid.uuid4().hex[:10], "body": text, "is_public": True,
               "author": {"id": AGENT, "is_staff": True}, "created_at": at.isoformat()}
    return ticket_event(case_id, ticket, "comment_added", {"comment": comment}, at)


def settle(bridge: Bridge, ids: list[int], timeout: float = 30) -> list[tuple[str, str | None]]:
    """Until these vendor events left ``received``: their (state, result)."""
    from sqlalchemy import select

    from bridge.store.models import VendorEventRow

    deadline = time.monotonic() + timeout
    while True:
        with bridge.store.session() as s:
            found = s.scalars(select(VendorEventRow).where(VendorEventRow.id.in_(ids)))
            rows = {r.id: (r.state, r.result) for r in found}
        if all(rows.get(i, ("received",))[0] != "received" for i in ids) or time.monotonic() > deadline:
            return [rows.get(i, ("missing", None)) for i in ids]
        time.sleep(0.2)


def story(bridge: Bridge, case_id: str) -> tuple[Any, dict[str, int]]:
    """The case row and its timeline entries counted by kind."""
    from bridge.store import repo

    with bridge.store.session() as s:
        row = repo.get_case(s, case_id)
        s.expunge(row)
        counts: dict[str, int] = {}
        for entry in repo.timeline_of(s, case_id):
            counts[entry.kind] = counts.get(entry.kind, 0) + 1
    return row, counts


T = datetime.now(UTC).replace(microsecond=0)


# --- Zendesk ------------------------------------------------------------------------------------

@case("V1", "one Zendesk 'ticket solved' delivery sent 10× at once with the same invocation id",
      "one stored event (one 200, nine 200 duplicate), applied once: the case is resolved with one ticket.solved")
def test_zendesk_duplicate_storm_applies_once(bridge: Bridge, observed: list[str]) -> None:
    case_id, ticket = escalated(bridge, observed)
    payload, invocation = status(case_id, ticket, "solved", "open", T), uuid.uuid4().hex
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: zd_post(bridge, payload, invocation), range(10)))
    ids = {a["received"] for _, a in answers}
    duplicates = sum(1 for _, a in answers if a.get("duplicate"))
    settled = settle(bridge, sorted(ids))
    row, counts = story(bridge, case_id)
    observed.append(f"answers {sorted(s for s, _ in answers)}, {duplicates} duplicate; events {settled}; case "
                    f"{row.status}, ticket.solved ×{counts.get('ticket.solved', 0)}")
    assert [s for s, _ in answers] == [200] * 10 and len(ids) == 1 and duplicates == 9
    assert settled == [("processed", "applied")] and row.status == "resolved" and counts["ticket.solved"] == 1


@case("V2", "the same solve reaches the bridge three times under different invocation ids (Zendesk's resend, "
      "a trigger and the event webhook)",
      "three stored events, one applied, the others 'unchanged': one ticket.solved")
def test_zendesk_redelivered_under_new_ids_applies_once(bridge: Bridge, observed: list[str]) -> None:
    case_id, ticket = escalated(bridge, observed)
    payload = status(case_id, ticket, "solved", "open", T)
    ids = [zd_post(bridge, payload)[1]["received"] for _ in range(3)]
    settled = settle(bridge, ids)
    row, counts = story(bridge, case_id)
    observed.append(f"events {settled}; case {row.status}, ticket.solved ×{counts.get('ticket.solved', 0)}")
    assert sorted(settled) == [("ignored", "unchanged"), ("ignored", "unchanged"), ("processed", "applied")]
    assert row.status == "resolved" and counts["ticket.solved"] == 1


@case("V3", "solve (t+1 min) and reopen (t+2 min) arrive in reverse order",
      "the newest change wins: the case is escalated again (reopened once), the late solve is 'stale' and "
      "resolves nothing")
def test_zendesk_reordered_solve_and_reopen(bridge: Bridge, observed: list[str]) -> None:
    case_id, ticket = escalated(bridge, observed)
    reopen = zd_post(bridge, status(case_id, ticket, "open", "solved", T + timedelta(minutes=2)))[1]["received"]
    settle(bridge, [reopen])
    solve = zd_post(bridge, status(case_id, ticket, "solved", "open", T + timedelta(minutes=1)))[1]["received"]
    settled = settle(bridge, [reopen, solve])
    row, counts = story(bridge, case_id)
    observed.append(f"events {settled}; case {row.status}, resolved_at {row.resolved_at}, reopened "
                    f"×{counts.get('ticket.reopened', 0)}, solved ×{counts.get('ticket.solved', 0)}")
    assert settled == [("processed", "applied"), ("ignored", "stale")]
    assert row.status == "escalated" and row.resolved_at is None
    assert counts.get("ticket.reopened") == 1 and "ticket.solved" not in counts


@case("V4", "two agent replies (t+1 min, t+5 min) arrive newest first",
      "both recorded once (agent.replied ×2); the first response time is the older reply's, not the first "
      "delivery's")
def test_zendesk_reordered_replies_keep_the_first_response(bridge: Bridge, observed: list[str]) -> None:
    case_id, ticket = escalated(bridge, observed)
    later, earlier = T + timedelta(minutes=5), T + timedelta(minutes=1)
    text = "Hi Ana, I moved your workspace to the EU region; it is done now."
    ids = [zd_post(bridge, reply(case_id, ticket, text, at))[1]["received"] for at in (later, earlier)]
    settled = settle(bridge, ids)
    row, counts = story(bridge, case_id)
    observed.append(f"events {settled}; first_response_at {row.first_response_at:%H:%M}, agent.replied "
                    f"×{counts.get('agent.replied', 0)}")
    assert settled == [("processed", "applied")] * 2 and counts["agent.replied"] == 2
    assert row.first_response_at == earlier


@case("V5", "a whole history (reply, solve, reopen, solve) applied, then replayed in full under new ids, then "
      "once more shuffled",
      "the replays change nothing: every replayed event is 'duplicate', 'unchanged' or 'stale'; the timeline "
      "keeps one entry per real change and the case stays resolved")
def test_zendesk_history_replayed_changes_nothing(bridge: Bridge, observed: list[str]) -> None:
    import random

    case_id, ticket = escalated(bridge, observed)
    cid = uuid.uuid4().hex[:10]
    history = [reply(case_id, ticket, "Done: your workspace is in the EU region now.", T + timedelta(minutes=1), cid),
               status(case_id, ticket, "solved", "open", T + timedelta(minutes=2)),
               status(case_id, ticket, "open", "solved", T + timedelta(minutes=3)),
               status(case_id, ticket, "solved", "open", T + timedelta(minutes=4))]
    for payload in history:  # in order, one after another, as Zendesk would
        settle(bridge, [zd_post(bridge, payload)[1]["received"]])
    _, before = story(bridge, case_id)
    replays = history + random.sample(history, len(history))
    ids = [zd_post(bridge, payload)[1]["received"] for payload in replays]
    settled = settle(bridge, ids)
    row, after = story(bridge, case_id)
    observed.append(f"timeline before {dict(sorted(before.items()))}; replay results "
                    f"{sorted({r for _, r in settled})}; case {row.status}")
    assert after == before and row.status == "resolved"
    assert all(state == "ignored" and result in ("duplicate", "unchanged", "stale") for state, result in settled)


@case("V6", "a Zendesk delivery captured and replayed: with a signature timestamp 10 min old, and again with "
      "its original invocation id",
      "the stale one is refused 401 and stores nothing; the repeat is a 200 duplicate: applied once")
def test_zendesk_replayed_delivery(bridge: Bridge, observed: list[str]) -> None:
    case_id, ticket = escalated(bridge, observed)
    payload, invocation = status(case_id, ticket, "solved", "open", T), uuid.uuid4().hex
    first = zd_post(bridge, payload, invocation)
    stale = zd_post(bridge, payload, uuid.uuid4().hex, age=600)
    repeat = zd_post(bridge, payload, invocation)
    settled = settle(bridge, [first[1]["received"]])
    _, counts = story(bridge, case_id)
    observed.append(f"answers: first {first[0]}, 10-min-old {stale[0]} {stale[1].get('error', {}).get('code')}, "
                    f"repeat {repeat[0]} duplicate={repeat[1].get('duplicate')}; ticket.solved "
                    f"×{counts.get('ticket.solved', 0)}")
    assert first[0] == 200 and stale[0] == 401 and repeat == (200, {"received": first[1]["received"],
                                                                    "duplicate": True})
    assert settled == [("processed", "applied")] and counts["ticket.solved"] == 1


# --- Jira ---------------------------------------------------------------------------------------

def jira_key(bridge: Bridge, case_id: str) -> str:
    from bridge.store import repo

    with bridge.store.session() as s:
        return str(repo.refs_of(s, case_id)["jira.bug"])


def written_back(bridge: Bridge, case_id: str, ticket: str, key: str) -> tuple[int, int]:
    """Internal notes on the ticket and Slack thread posts that name the Jira issue."""
    notes = [c for c in bridge.zendesk.comments.get(int(ticket), []) if key in str(c.get("body", ""))
             and "resolved" in str(c.get("body", ""))]
    posts = [m for msgs in bridge.slack.messages.values() for m in msgs
             if m.get("thread_ts") and key in str(m.get("text", "")) and "resolved" in str(m.get("text", ""))]
    return len(notes), len(posts)


@case("V7", "Jira's 'issue resolved' for a filed bug: sent twice with one webhook identifier and twice more with "
      "new ones (Jira retries, then a later edit of the resolved issue)",
      "one jira.resolved on the case, one drafted customer update; written back once: one Zendesk internal note, "
      "one Slack thread post")
def test_jira_resolved_duplicates_write_back_once(bridge: Bridge, observed: list[str]) -> None:
    case_id, ticket = escalated(bridge, observed, bug=True)
    key = jira_key(bridge, case_id)
    payload = {"webhookEvent": "jira:issue_updated", "user": {"accountId": "acc-dev"},
               "issue": {"key": key, "fields": {"resolution": {"name": "Done"}}}}
    ident = uuid.uuid4().hex
    answers = [jira_post(bridge, payload, ident) for _ in range(2)] + [jira_post(bridge, payload) for _ in range(2)]
    ids = sorted({a["received"] for _, a in answers})
    settled = settle(bridge, ids)
    finish(bridge, observed, timeout=60)  # the notes' delivery steps settle too
    _, counts = story(bridge, case_id)
    back = written_back(bridge, case_id, ticket, key)
    observed.append(f"events {settled}; jira.resolved ×{counts.get('jira.resolved', 0)}, update.drafted "
                    f"×{counts.get('update.drafted', 0)}; Zendesk notes, Slack thread posts: {back}")
    assert len(ids) == 3 and counts["jira.resolved"] == 1 and counts["update.drafted"] == 1
    assert back == (1, 1)


@case("V8", "Jira's 'version released' arrives before the issue update that puts the bug in that version "
      "(the update itself says released: false, as it was sent before the release)",
      "the release is not lost: once the issue is known to be in the version, the case hears of the release "
      "once (jira.released ×1, one drafted update)")
def test_jira_release_before_the_fix_version_is_not_lost(bridge: Bridge, observed: list[str]) -> None:
    case_id, _ = escalated(bridge, observed, bug=True)
    key = jira_key(bridge, case_id)
    version = {"id": uuid.uuid4().hex[:6], "name": f"9.{uuid.uuid4().int % 1000}"}
    released = jira_post(bridge, {"webhookEvent": "jira:version_released", "version": version})[1]["received"]
    first = settle(bridge, [released])
    update = {"webhookEvent": "jira:issue_updated", "issue": {"key": key, "fields": {
        "resolution": {"name": "Fixed"}, "fixVersions": [{**version, "released": False}]}}}
    settled = settle(bridge, [jira_post(bridge, update)[1]["received"]])
    finish(bridge, observed, timeout=60)
    _, counts = story(bridge, case_id)
    observed.append(f"release first: {first}; then the update: {settled}; jira.released "
                    f"×{counts.get('jira.released', 0)}, update.drafted ×{counts.get('update.drafted', 0)}")
    assert counts.get("jira.released") == 1 and counts.get("update.drafted") == 1


@pytest.fixture
def own_schema() -> Iterator[str]:
    """A schema of the test PostgreSQL for a deployment built with extra connection options; dropped
    after the deployment (requested before ``make_bridge``, so torn down after it)."""
    from tests.conftest import POSTGRES_TEST_URL, require_service
    from tests.faults.conftest import _drop_schemas, _pg_schema

    require_service("PostgreSQL", POSTGRES_TEST_URL, 5432)
    url = _pg_schema()
    yield url
    _drop_schemas([url])


@case("V9", "Zendesk solves for two cases fail on every attempt (the ticket_state table is locked; "
      "lock_timeout 0.5 s) until they are dead; the lock goes; one case then gets a newer status "
      "(pending, t+2) before both dead events are replayed",
      "both are visible dead letters (`bridge dlq list`, ve-…); `bridge replay` applies the solve once where "
      "nothing newer happened (resolved, ticket.solved ×1) and as 'stale' where a newer status is known (the "
      "case stays escalated); replaying again is refused")
def test_dead_vendor_event_replayed(own_schema: str, make_bridge: Any, observed: list[str]) -> None:
    from sqlalchemy import create_engine, text

    direct = own_schema
    bridge = make_bridge(database_url=direct + "%20-clock_timeout%3D500", workers=1, jira=False, **VENDOR_ENV)
    bridge.scope = set()
    (a, ticket_a), (b, ticket_b) = escalated(bridge, observed), escalated(bridge, observed)
    locker = create_engine(direct)  # the same schema, without the lock timeout
    with locker.connect() as conn:
        conn.execute(text("LOCK TABLE ticket_state IN ACCESS EXCLUSIVE MODE"))
        ids = [zd_post(bridge, status(c, t, "solved", "open", T + timedelta(minutes=1)))[1]["received"]
               for c, t in ((a, ticket_a), (b, ticket_b))]
        dead = settle(bridge, ids, timeout=60)
        conn.rollback()
    locker.dispose()
    letters = {d["id"] for d in bridge.dead_letters()}
    assert [s for s, _ in dead] == ["dead", "dead"] and {f"ve-{i}" for i in ids} <= letters, (dead, letters)
    newer = zd_post(bridge, status(b, ticket_b, "pending", "open", T + timedelta(minutes=2)))[1]["received"]
    assert settle(bridge, [newer]) == [("ignored", "status_recorded")]
    replays = [bridge.cli("replay", f"ve-{i}") for i in ids]
    settled = settle(bridge, ids)
    again = bridge.cli("replay", f"ve-{ids[0]}")
    (row_a, counts_a), (row_b, counts_b) = story(bridge, a), story(bridge, b)
    observed.append(f"dead letters {sorted(letters & {f've-{i}' for i in ids})}; replay exits "
                    f"{[r.returncode for r in replays]}, then {settled}; case A {row_a.status} "
                    f"(solved ×{counts_a.get('ticket.solved', 0)}), case B {row_b.status} (solved "
                    f"×{counts_b.get('ticket.solved', 0)}); second replay exit {again.returncode}")
    assert [r.returncode for r in replays] == [0, 0] and again.returncode != 0
    assert settled == [("processed", "applied"), ("ignored", "stale")]
    assert (row_a.status, counts_a.get("ticket.solved")) == ("resolved", 1)
    assert row_b.status == "escalated" and "ticket.solved" not in counts_b


@case("V10", "satisfaction ratings from a Zendesk trigger: 'bad' (t+1) then 'good' (t+2), delivered newest "
      "first, each twice",
      "the newest rating stands ('good'); csat.rated recorded once per rating that was newer when it arrived; "
      "the late 'bad' is stale")
def test_csat_out_of_order_latest_wins(bridge: Bridge, observed: list[str]) -> None:
    from bridge.store.models import TicketStateRow

    case_id, ticket = escalated(bridge, observed)

    def rating(score: str, at: datetime) -> dict[str, Any]:
        return {"ticket_id": ticket, "external_id": case_id, "status": "solved", "updated_at": at.isoformat(),
                "actor_id": "cust-1", "satisfaction": {"score": score, "comment": f"{score} support"}}

    good, bad = rating("good", T + timedelta(minutes=2)), rating("bad", T + timedelta(minutes=1))
    ids = [zd_post(bridge, payload)[1]["received"] for payload in (good, good, bad, bad)]
    settled = settle(bridge, ids)
    _, counts = story(bridge, case_id)
    with bridge.store.session() as s:
        csat = s.get(TicketStateRow, case_id).csat
    observed.append(f"events {[r for _, r in settled]}; csat {csat}, csat.rated ×{counts.get('csat.rated', 0)}")
    assert csat == "good" and counts.get("csat.rated") == 1
    # The two deliveries of 'good' are separate jobs and may run in either order (the ticket's state
    # lock serializes them): one applies, the other finds nothing to change; both 'bad' are stale.
    assert sorted(settled[:2]) == [("ignored", "no_change"), ("processed", "applied")]
    assert settled[2:] == [("ignored", "stale"), ("ignored", "stale")]


@case("V11", "three cases' Zendesk histories (a reply, solve, reopen, solve, assignee) shuffled together and "
      "delivered 8 at a time, every event twice",
      "each case ends as its newest change says (resolved, assigned, acknowledged) with one entry per change "
      "applied: one agent.replied, one case.acknowledged, at most one ticket.reopened (none when the reopen "
      "arrives after the newer solve: stale); nothing applied twice")
def test_shuffled_concurrent_histories_end_right(bridge: Bridge, observed: list[str]) -> None:
    import random

    cases = [escalated(bridge, observed) for _ in range(3)]
    payloads = []
    for case_id, ticket in cases:
        payloads += [reply(case_id, ticket, "Your workspace is in the EU region now.", T + timedelta(minutes=1)),
                     status(case_id, ticket, "solved", "open", T + timedelta(minutes=2)),
                     status(case_id, ticket, "open", "solved", T + timedelta(minutes=3)),
                     ticket_event(case_id, ticket, "agent_assignment_changed", {"current": "4242"},
                                  T + timedelta(minutes=4)),
                     status(case_id, ticket, "solved", "open", T + timedelta(minutes=5))]
    deliveries = [(p, uuid.uuid4().hex) for p in payloads] * 2
    random.shuffle(deliveries)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda d: zd_post(bridge, d[0], d[1]), deliveries))
    assert all(s == 200 for s, _ in answers)
    settle(bridge, sorted({a["received"] for _, a in answers}), timeout=60)
    ends = []
    for case_id, _ in cases:
        row, counts = story(bridge, case_id)
        ends.append((row.status, row.acknowledged_at is not None, counts.get("agent.replied"),
                     counts.get("ticket.reopened", 0), counts.get("case.acknowledged")))
    observed.append(f"ends (status, acknowledged, replied, reopened, acknowledged entries): {ends}")
    for status_, acknowledged, replied, reopened, acks in ends:
        assert status_ == "resolved" and acknowledged and replied == 1 and acks == 1
        assert reopened <= 1  # 0 when the reopen arrived after the newer solve (stale): never twice


# --- the reconciler -----------------------------------------------------------------------------

def poll_due(bridge: Bridge, case_id: str, ticket: str) -> datetime | None:
    """Bring the ticket's next reconciler poll forward to now (instead of waiting RECONCILE_EVERY);
    the workers' sweeper hands it to RQ. Returns the last poll's time, to wait for the next."""
    from bridge.store import loop_repo, repo

    now = datetime.now(UTC)
    with bridge.store.session() as s:
        case_row = repo.get_case(s, case_id)
        state = loop_repo.ticket_state(s, case_row, ticket, now)
        state.next_reconcile_at, last = now - timedelta(seconds=5), state.reconciled_at
        s.commit()
    return last


def polled(bridge: Bridge, case_id: str, after: datetime | None, timeout: float = 30) -> Any:
    """Until the reconciler applied a poll later than ``after``: the ticket's state."""
    from bridge.store.models import TicketStateRow

    deadline = time.monotonic() + timeout
    while True:
        with bridge.store.session() as s:
            state = s.get(TicketStateRow, case_id)
            if state is not None and state.reconciled_at is not None and (after is None or
                                                                          state.reconciled_at > after):
                s.expunge(state)
                return state
        assert time.monotonic() < deadline, "the reconciler did not poll"
        time.sleep(0.2)


@case("V12", "every Zendesk webhook about a ticket is lost while the agent replies and solves (t+1) and the "
      "customer writes back, reopening it (t+2); the bridge's own API user then sets it pending; the reconciler's "
      "first audits read is throttled (429, Retry-After 30); audits come 2 to a page",
      "the throttled poll applies nothing, falls back to nothing and is not retried before its next poll; the next "
      "poll reads every page of the audits and records the solve and the reopen at their audit times and authors "
      "(case escalated, resolved_at set, one agent.replied, the customer's comment no reply, the bridge's own "
      "change ignored); a poll after it reads from the last audit's page and changes nothing")
def test_reconciler_recovers_lost_solve_and_reopen_from_audits(bridge: Bridge, observed: list[str]) -> None:
    from bridge.store import repo

    zendesk, customer = bridge.zendesk, 5150
    case_id, ticket = escalated(bridge, observed)
    zendesk.users[int(AGENT)] = "agent"
    solved_at, reopened_at = T + timedelta(minutes=1), T + timedelta(minutes=2)
    zendesk.add_audit(int(ticket), int(AGENT), [
        {"id": 501, "type": "Comment", "author_id": int(AGENT), "public": True,
         "body": "Your workspace is in the EU region now; the export works again."},
        {"id": 502, "type": "Change", "field_name": "status", "previous_value": "open", "value": "solved"}],
        at=solved_at)
    zendesk.add_audit(int(ticket), customer, [
        {"id": 511, "type": "Comment", "author_id": customer, "public": True, "body": "It still fails for me."},
        {"id": 512, "type": "Change", "field_name": "status", "previous_value": "solved", "value": "open",
         "via": {"channel": "rule", "source": {"rel": "trigger"}}}], at=reopened_at, channel="email")
    zendesk.add_audit(int(ticket), zendesk.API_USER, [
        {"id": 521, "type": "Change", "field_name": "status", "previous_value": "open", "value": "pending"}],
        at=T + timedelta(minutes=3), channel="api")
    zendesk.audit_page_size = 2
    try:
        zendesk.program("tickets.audits", Act(status=429, headers={"Retry-After": "30"}))
        before_calls = len(zendesk.calls)
        poll_due(bridge, case_id, ticket)
        deadline = time.monotonic() + 30
        while zendesk.count("tickets.audits") == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # three sweeps: a throttled poll must not come back before its next poll
        first = [(c.op, c.answered) for c in zendesk.calls[before_calls:]]
        _, counts = story(bridge, case_id)
        assert first == [("tickets.audits", "status 429")], first
        assert "ticket.solved" not in counts

        last = poll_due(bridge, case_id, ticket)
        state = polled(bridge, case_id, last)
        second = [c for c in zendesk.calls[before_calls:] if c.op == "tickets.audits"][1:]
        row, counts = story(bridge, case_id)
        with bridge.store.session() as s:
            entries = [(t.kind, t.at, t.actor) for t in repo.timeline_of(s, case_id) if t.kind.startswith("ticket.")]
        told = [f"{kind} at t+{(at - T).seconds // 60} by {actor}" for kind, at, actor in entries]
        observed.append(f"first poll: {first}; second poll: {len(second)} audit pages read, {told}, case "
                        f"{row.status}, resolved_at t+{(row.resolved_at - T).seconds // 60}, agent.replied "
                        f"×{counts.get('agent.replied', 0)}; cursor at the last audit {state.audit_id}")
        assert entries == [("ticket.solved", solved_at, f"zendesk:{AGENT}"),
                           ("ticket.reopened", reopened_at, f"zendesk:{customer}")]
        assert row.status == "escalated" and row.resolved_at == solved_at and counts.get("agent.replied") == 1
        assert len(second) == 2 and state.audit_id == str(zendesk.audits[int(ticket)][-1]["id"])

        # The solve of this content-gap case drafts a KB suggestion after the poll's commit (outside
        # its transaction): wait for it, so that the next poll is judged on a settled timeline.
        deadline = time.monotonic() + 30
        while counts.get("kb.suggested", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            _, counts = story(bridge, case_id)
        assert counts.get("kb.suggested") == 1, counts
        before = counts
        third = poll_due(bridge, case_id, ticket)
        polled(bridge, case_id, third)
        reads = [c.args for c in zendesk.calls[before_calls:] if c.op == "tickets.audits"][3:]
        _, after = story(bridge, case_id)
        observed.append(f"third poll: {len(reads)} page read, from its page[after] cursor: "
                        f"{bool(reads and reads[0].get('page[after]'))}; timeline unchanged: {after == before}")
        assert after == before and len(reads) == 1 and reads[0].get("page[after]")
    finally:
        zendesk.audit_page_size = 100
