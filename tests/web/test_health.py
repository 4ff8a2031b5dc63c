from __future__ import annotations

from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime
from tests.helpers import dumps, generic_event, signed_headers


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_ok_on_embedded_defaults(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["store"] == "ok"


def test_a_scrape_while_the_store_is_down_still_answers_and_says_so(settings: Settings) -> None:
    rt = Runtime.build(settings.with_overrides(database_url="postgresql://postgres@127.0.0.1:1/x"))
    client = create_app(rt=rt).test_client()
    body = dumps(generic_event())
    assert client.post("/webhooks/generic", data=body, headers=signed_headers(body)).status_code == 503
    answer = client.get("/metrics")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "bridge_store_up 0.0" in text and "bridge_inbox_events{" not in text
    assert 'bridge_webhooks_total{outcome="store_unavailable",platform="generic"} 1.0' in text


def test_readyz_names_an_unreachable_store(settings: Settings) -> None:
    rt = Runtime.build(settings.with_overrides(database_url="postgresql://postgres@127.0.0.1:1/x"))
    response = create_app(rt=rt).test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["failing"] == ["store"]


def test_metrics_count_outcomes(client: FlaskClient) -> None:
    body = dumps(generic_event())
    client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    client.post("/webhooks/generic", data=body, headers={"Content-Type": "application/json"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'bridge_webhooks_total{outcome="accepted",platform="generic"} 1.0' in text
    assert 'bridge_webhooks_total{outcome="duplicate",platform="generic"} 1.0' in text
    assert 'bridge_webhooks_total{outcome="unauthorized",platform="generic"} 1.0' in text
    assert 'bridge_inbox_events{state="received"} 1.0' in text
    assert "bridge_store_up 1.0" in text


def test_case_detail_needs_the_admin_token(client: FlaskClient) -> None:
    body = dumps(generic_event())
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    assert client.get(f"/api/cases/{case_id}").status_code == 401
    assert client.get(f"/api/cases/{case_id}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get(f"/api/cases/{case_id}", headers={"Authorization": "Bearer admin-test-token-0123456789"})
    assert ok.status_code == 404  # accepted but not processed yet: no case row


def test_operational_gauges(client: FlaskClient, rt: Runtime) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bridge.store.models import InboxRow

    body = dumps(generic_event())
    client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    with rt.store.session() as s:  # accepted ten minutes ago and still waiting
        s.execute(update(InboxRow).values(received_at=rt.clock() - timedelta(minutes=10)))
        s.commit()
    text = client.get("/metrics").get_data(as_text=True)
    oldest = next(line for line in text.splitlines() if line.startswith("bridge_oldest_unfinished_event_seconds "))
    assert 590 < float(oldest.split()[1]) < 700
    assert 'bridge_dead_letters{kind="delivery"} 0.0' in text
    assert 'bridge_delivery_retries{connector="zendesk"} 0.0' in text


def test_a_scrape_reads_the_settled_rows_from_the_workers_count(client: FlaskClient, rt: Runtime) -> None:
    from bridge.store import metrics_repo

    body = dumps(generic_event())
    client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    text = client.get("/metrics").get_data(as_text=True)  # no worker has counted yet: all counted now
    assert 'bridge_inbox_events{state="received"} 1.0' in text and 'state="processed"' not in text
    with rt.store.engine.begin() as conn:
        metrics_repo.write_snapshot(conn, metrics_repo.SETTLED, rt.clock(), {"inbox": {"processed": 5}})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'bridge_inbox_events{state="processed"} 5.0' in text
    assert 'bridge_inbox_events{state="received"} 1.0' in text  # the backlog is always counted now
