"""The webhook's request path stays lean (issue 19, item 2): the event is serialized once for the
inbox, and a web process serving a webhook or a Slack click loads neither the vendor SDKs nor the
workers' modules nor the ORM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bridge.config import Settings
from bridge.events import Event
from bridge.runtime import Runtime, install
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker import intake
from tests.helpers import SECRET, generic_event

ROOT = Path(__file__).resolve().parents[2]


def test_event_text_is_the_event_json() -> None:
    data = generic_event(occurred_at="2026-11-28T10:00:00+02:00", unknown_top="x")
    data["conversation"]["messages"][0]["sent_at"] = "2026-11-28T09:59:00z"
    event = Event.from_json(data)
    assert json.loads(event.to_json_text()) == event.to_json()
    partial = event.model_copy(update={"conversation": event.conversation.model_copy(update={"partial": True})})
    assert json.loads(partial.to_json_text()) == partial.to_json()
    assert json.loads(partial.to_json_text())["conversation"]["partial"] is True


def test_stored_event_is_the_canonical_event(any_store_settings: Settings) -> None:
    """The pre-serialized event is written as it is, and read back as the same JSON, on both stores."""
    rt = install(Runtime.build(any_store_settings))
    upgrade(rt.store)
    event = Event.from_json(generic_event(event_id="evt-lean-1", extra_field={"a": [1, 2]}))
    body = json.dumps(generic_event(event_id="evt-lean-1")).encode()
    [accepted] = intake.store_events(rt, "generic", body, {"content-type": "application/json"}, [event])
    assert not accepted.duplicate
    with rt.store.session() as s:
        row = repo.get_inbox(s, accepted.key)
        assert row is not None
        assert row.event == event.to_json() and row.body == body
        assert Event.from_json(row.event) == event


def _child_env(tmp_path: Path, redis_url: str, event_id: str) -> dict[str, str]:
    """The environment of a fresh process that imports ``wsgi`` as gunicorn does (RQ configured, the
    store migrated), with a signed webhook to send in ``bench_env``."""
    from tests.helpers import signed_headers

    body = json.dumps(generic_event(event_id=event_id)).encode()
    (tmp_path / "bench_env.py").write_text(f"body = {body!r}\nheaders = {signed_headers(body)!r}\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_", "BRIDGE_"))}
    env.update(BRIDGE_DATA_DIR=str(tmp_path / "var"), GENERIC_WEBHOOK_SECRET=SECRET, REDIS_URL=redis_url,
               BRIDGE_QUEUE="test-lean", PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", "db", "upgrade"], env=env,
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    return env


_CHILD = """
import json, sys, time
from bench_env import body, headers
import wsgi
from bridge.store import db
warm = bool(db._engines)  # the worker opened its store while it booted, before any request
client = wsgi.app.test_client()
answer = client.post("/webhooks/generic", data=body, headers=headers)
heavy = ["zenpy", "jira", "slack_sdk", "openai", "sqlalchemy.orm", "requests", "connectors", "rq", "redis",
         "bridge.store.models", "bridge.worker.runner", "bridge.loop.jobs", "bridge.pipeline.judge",
         "ahocorasick_rs", "vaderSentiment"]  # the phrase lists' prefilter, the judge's sentiment
print(json.dumps({"status": answer.status_code, "warm": warm, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_serving_a_webhook_loads_no_vendor_sdk_nor_worker_module(tmp_path: Path, redis_url: str) -> None:
    """A fresh process imports ``wsgi`` (as gunicorn does, with RQ configured) and serves a signed
    webhook: the vendor SDKs, the OpenAI client, the job code and the queue client stay unloaded."""
    env = _child_env(tmp_path, redis_url, "evt-lean-modules")
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 202 and result["warm"]
    assert result["loaded"] == [], f"loaded by import wsgi + one webhook: {result['loaded']}"


def test_a_web_worker_boots_while_its_store_is_down(tmp_path: Path) -> None:
    """Opening the store at boot is a warm-up, not a check: with PostgreSQL unreachable, ``import
    wsgi`` still gives an app (whose /readyz says what is wrong)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_", "BRIDGE_", "REDIS_URL"))}
    env.update(BRIDGE_DATA_DIR=str(tmp_path / "var"), GENERIC_WEBHOOK_SECRET=SECRET, PYTHONPATH=str(ROOT),
               DATABASE_URL="postgresql://postgres@127.0.0.1:9/nothing")  # port 9: nothing listens
    child = ("import json, wsgi; r = wsgi.app.test_client().get('/readyz'); "
             "print(json.dumps({'code': r.status_code, 'store': r.get_json()['checks']['store']}))")
    out = subprocess.run([sys.executable, "-c", child], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 503 and result["store"].startswith("unreachable")


def test_the_core_inbox_columns_are_the_models() -> None:
    """The request path's Core description of the inbox names real columns of ``InboxRow``, with the
    same kind of type, and covers every column the table requires."""
    from bridge.store.intake_rows import INBOX
    from bridge.store.models import InboxRow

    table = InboxRow.__table__
    for col in INBOX.columns:
        assert col.name in table.c, col.name
        assert type(col.type).__name__ == type(table.c[col.name].type).__name__ or col.name == "id", col.name
    required = {c.name for c in table.columns if not c.nullable and c.default is None and not c.primary_key}
    assert required <= {c.name for c in INBOX.columns}


_CLICKS = """
import hashlib, hmac, json, sqlite3, sys, time, urllib.parse
from bench_env import body, headers, data_dir
import wsgi
client = wsgi.app.test_client()
webhook = client.post("/webhooks/generic", data=body, headers=headers).status_code
stamp = str(int(time.time()))
with sqlite3.connect(data_dir + "/bridge.db") as db:
    db.execute("INSERT INTO cases (id, platform, conversation_id, status, triggers, priority, event, refs, created_at, "
               "updated_at, escalated_at) VALUES ('c-lean', 'generic', 'c-lean', 'escalated', '[]', 'high', '{}', "
               "'{}', '2026-12-06 10:00:00', '2026-12-06 10:00:00', '2026-12-06 10:00:00')")
codes = []
for user in ("U0ANA", "U0BEN"):
    payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": "C0LEAN"},
               "actions": [{"action_id": "take_case", "block_id": "case:c-lean", "value": "c-lean"}]}
    form = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    sig = "v0=" + hmac.new(b"lean-slack-secret", f"v0:{stamp}:".encode() + form, hashlib.sha256).hexdigest()
    codes.append(client.post("/slack/actions", data=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sig}).status_code)
with sqlite3.connect(data_dir + "/bridge.db") as db:
    owner = db.execute("SELECT owner FROM cases WHERE id = 'c-lean'").fetchone()[0]
    steps = sorted(s.split("#")[0] for (s,) in db.execute("SELECT step FROM deliveries WHERE case_id = 'c-lean'"))
    states = sorted({s for (s,) in db.execute("SELECT status FROM deliveries WHERE case_id = 'c-lean'")})
heavy = ["zenpy", "jira", "slack_sdk", "openai", "sqlalchemy.orm", "requests", "connectors", "bridge.store.models",
         "bridge.loop.ownership", "bridge.worker.runner", "bridge.loop.jobs", "bridge.pipeline.judge", "rq", "redis",
         "bridge.pipeline.package", "bridge.web.case_view", "bridge.web.charts"]
print(json.dumps({"webhook": webhook, "clicks": codes, "owner": owner, "steps": steps, "states": states,
                  "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_serving_slack_clicks_loads_no_orm_nor_vendor_sdk(tmp_path: Path, redis_url: str) -> None:
    """A fresh process serves a webhook, then a Take case click that wins and one that loses (issue 19,
    item 5): both are recorded, and neither the ORM, the connectors, slack-sdk, requests, the RQ client
    (the dispatcher enqueues a click's steps) nor the pages' builders is loaded."""
    from tests.helpers import signed_headers

    body = json.dumps(generic_event(event_id="evt-lean-click")).encode()
    data_dir = tmp_path / "var"
    (tmp_path / "bench_env.py").write_text(
        f"body = {body!r}\nheaders = {signed_headers(body)!r}\ndata_dir = {str(data_dir)!r}\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_", "BRIDGE_"))}
    env.update(BRIDGE_DATA_DIR=str(data_dir), GENERIC_WEBHOOK_SECRET=SECRET, REDIS_URL=redis_url,
               BRIDGE_QUEUE="test-lean-click", SLACK_SIGNING_SECRET="lean-slack-secret",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", "db", "upgrade"], env=env,
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    out = subprocess.run([sys.executable, "-c", _CLICKS], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["webhook"], result["clicks"], result["owner"]) == (202, [200, 200], "U0ANA")
    assert result["steps"] == ["bot.callback", "slack.ephemeral", "slack.update", "zendesk.assign"]
    assert result["states"] == ["handover"]  # for the dispatcher to enqueue
    assert result["loaded"] == [], f"loaded by a webhook and two clicks: {result['loaded']}"


_SCRAPE = """
import json, sys
from bench_env import body, headers
import wsgi
client = wsgi.app.test_client()
assert client.post("/webhooks/generic", data=body, headers=headers).status_code == 202
answer = client.get("/metrics")
heavy = ["sqlalchemy.orm", "bridge.store.models", "bridge.metrics.report", "bridge.metrics.facts",
         "bridge.metrics.days", "rq", "redis"]
print(json.dumps({"status": answer.status_code, "text": answer.get_data(as_text=True),
                  "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_a_scrape_reads_the_kept_figures_without_the_orm_nor_the_report(tmp_path: Path, redis_url: str) -> None:
    """A web worker answers ``/metrics`` with the figures a queue worker kept, in Core: it loads neither
    the ORM nor the report's modules (12 MB of every web worker's RSS when it built the report itself)."""
    from bridge.metrics import snapshot

    env = _child_env(tmp_path, redis_url, "evt-lean-scrape")
    rt = Runtime.build(Settings(data_dir=tmp_path / "var"))  # the same store, as a queue worker sees it
    assert snapshot.refresh(rt)
    out = subprocess.run([sys.executable, "-c", _SCRAPE], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    assert 'bridge_recovery{metric="conversations",window="30d"} 0.0' in result["text"]
    assert 'bridge_inbox_events{state="received"} 1.0' in result["text"]
    assert 'bridge_webhooks_total{outcome="accepted",platform="generic"} 1.0' in result["text"]
    assert result["loaded"] == [], f"loaded by a scrape: {result['loaded']}"
