"""The pages through the Flask client: login, CSRF, signed case links, escaping, what is shown."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash, generate_password_hash

from bridge import create_app
from bridge.cli.users import user_hash
from bridge.config import Settings, keys
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.web import auth
from bridge.worker.runner import run_due
from tests.helpers import dumps, generic_event, signed_headers
from tests.web.pages_seed import HOSTILE, NOW, close_loop, install_fake_report, seed_case, with_pages

ADMIN = "admin-test-token-0123456789"


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return with_pages(create_app(rt=rt))


def csrf(client: FlaskClient) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        return str(session["csrf"])


def login(client: FlaskClient, name: str = "", password: str = ADMIN, next_: str = "/dashboard") -> object:
    return client.post("/login", data={"csrf_token": csrf(client), "name": name, "password": password, "next": next_})


def hostile_case(client: FlaskClient, rt: Runtime) -> str:
    messages = [
        {"id": "m1", "role": "customer", "text": f"The export crashes {HOSTILE} with error E500"},
        {"id": "m2", "role": "bot", "text": "Sorry, I could not find an answer.", "confidence": 0.2,
         "sources": [{"title": "Evil article", "url": "javascript:alert(1)"}]},
        {"id": "m3", "role": "customer", "text": "Can I talk to a person please?"},
    ]
    return seed_case(client, rt, NOW - timedelta(days=1), "conv-hostile", messages,
                     customer={"id": "c1", "email": "x@example.com", "name": HOSTILE, "plan": "pro"},
                     evidence={"page_url": "javascript:alert(2)", "session_replay_url": "https://replay.example/r/1",
                               "steps_to_reproduce": [HOSTILE]})


# --- login -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/dashboard", "/cases", "/cases/c-anything"])
def test_pages_need_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login" and parse_qs(target.query)["next"] == [path]


def test_admin_token_signs_in_and_out(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_report(monkeypatch)
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.post("/logout", data={}).status_code == 400  # no CSRF token: nothing happens
    assert client.get("/dashboard").status_code == 200
    with client.session_transaction() as session:
        token = session["csrf"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_wrong_token_and_missing_csrf_are_refused(client: FlaskClient) -> None:
    assert login(client, password="nope").status_code == 401
    answer = client.post("/login", data={"name": "", "password": ADMIN})
    assert answer.status_code == 400 and b"form expired" in answer.data
    forged = client.post("/login", data={"csrf_token": "guess", "name": "", "password": ADMIN})
    assert forged.status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_next_is_only_a_local_path(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        assert login(client, next_=evil).headers["Location"] == "/dashboard"


def test_configured_users_and_password_change_ends_sessions(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_report(monkeypatch)
    fast = "pbkdf2:sha256:1000"
    users = f"ana:{generate_password_hash('correct horse', method=fast)},bo:{generate_password_hash('b', method=fast)}"
    rt.settings = rt.settings.with_overrides(extra={"BRIDGE_USERS": users})
    client = with_pages(create_app(rt=rt)).test_client()
    assert login(client, "ana", "wrong").status_code == 401
    assert login(client, "nobody", "correct horse").status_code == 401
    assert login(client, "ana", "correct horse").status_code == 302
    page = client.get("/dashboard").get_data(as_text=True)
    assert "ana" in page and "Sign out" in page
    changed = f"ana:{generate_password_hash('new', method=fast)}"
    rt.settings = rt.settings.with_overrides(extra={"BRIDGE_USERS": changed})
    assert client.get("/dashboard").status_code == 302


def test_user_hash_command_makes_a_usable_entry(settings: Settings) -> None:
    result = CliRunner().invoke(user_hash, ["ana", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    name, _, hashed = result.stdout.strip().partition(":")
    assert name == "ana" and hashed.startswith("pbkdf2:sha256:") and check_password_hash(hashed, "s3cret-pass")
    configured = settings.with_overrides(extra={"BRIDGE_USERS": result.stdout.strip()})
    assert auth.authenticate(configured, "ana", "s3cret-pass") == "ana"
    assert CliRunner().invoke(user_hash, ["a:b", "--password", "s3cret-pass"]).exit_code != 0
    assert CliRunner().invoke(user_hash, ["ana", "--password", "short"]).exit_code != 0


def test_secret_key_from_env_or_kept_in_the_data_dir(settings: Settings) -> None:
    assert keys.secret_key(settings.with_overrides(extra={"BRIDGE_SECRET_KEY": "k" * 40})) == "k" * 40
    first = keys.secret_key(settings)
    assert first == keys.secret_key(settings) and len(first) > 40
    path = Path(settings.data_dir) / "session-secret-key"
    assert path.read_text().strip() == first and path.stat().st_mode & 0o077 == 0


# --- signed case links -------------------------------------------------------------------------

def test_signed_case_link_opens_one_case_until_it_expires(client: FlaskClient, rt: Runtime) -> None:
    case_id = hostile_case(client, rt)
    other = seed_case(client, rt, NOW, "conv-other")
    rt.clock = lambda: NOW
    link = keys.case_link(rt.settings, case_id, NOW)
    assert link.startswith(f"/cases/{case_id}?sig=")
    page = client.get(link)
    assert page.status_code == 200 and b"Opened from a signed link" in page.data
    assert client.get("/dashboard").status_code == 302  # the link opens that case only
    query = parse_qs(urlsplit(link).query)
    assert client.get(f"/cases/{other}?sig={query['sig'][0]}&exp={query['exp'][0]}").status_code == 403
    forged = query["sig"][0][:-2] + ("AA" if not query["sig"][0].endswith("AA") else "BB")
    assert client.get(f"/cases/{case_id}?sig={forged}&exp={query['exp'][0]}").status_code == 403
    later = str(int(query["exp"][0]) + 3600)
    assert client.get(f"/cases/{case_id}?sig={query['sig'][0]}&exp={later}").status_code == 403
    rt.clock = lambda: NOW + timedelta(days=31)
    expired = client.get(link)
    assert expired.status_code == 403 and b"no longer valid" in expired.data


def test_case_link_is_absolute_with_public_url_and_honours_ttl(settings: Settings) -> None:
    configured = settings.with_overrides(extra={"BRIDGE_PUBLIC_URL": "https://bridge.example.com/",
                                                "BRIDGE_CASE_LINK_TTL": "2h"})
    link = keys.case_link(configured, "c-1", NOW)
    assert link.startswith("https://bridge.example.com/cases/c-1?sig=")
    exp = int(parse_qs(urlsplit(link).query)["exp"][0])
    assert exp == int(NOW.timestamp()) + 7200
    assert keys.case_link_ttl(settings) == 30 * 86400
    sig = parse_qs(urlsplit(link).query)["sig"][0]
    assert auth.verify_case_link(configured, "c-1", sig, str(exp), NOW + timedelta(hours=1))
    assert not auth.verify_case_link(configured, "c-1", sig, str(exp), NOW + timedelta(hours=3))
    rotated = configured.with_overrides(extra={**configured.extra, "BRIDGE_SECRET_KEY": "another-secret-key"})
    assert not auth.verify_case_link(rotated, "c-1", sig, str(exp), NOW)


# --- what the pages show -----------------------------------------------------------------------

def test_customer_text_is_escaped_everywhere(client: FlaskClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_report(monkeypatch)
    case_id = hostile_case(client, rt)
    close_loop(rt, case_id, csat="bad", comment=HOSTILE)
    login(client)
    for path in (f"/cases/{case_id}", "/cases", "/dashboard?by=trigger"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(" in html, path
    case_html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'href="javascript:' not in case_html
    assert 'href="https://replay.example/r/1"' in case_html


def test_case_page_shows_the_package_timeline_and_deliveries(
    client: FlaskClient, rt: Runtime
) -> None:
    case_id = seed_case(client, rt, NOW - timedelta(hours=5), "conv-full")
    close_loop(rt, case_id, reopen=9000)
    rt.settings = rt.settings.with_overrides(extra={"ZENDESK_SUBDOMAIN": "acme"})
    login(client, next_=f"/cases/{case_id}")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for section in ("summary", "why", "opening", "completeness", "transcript", "customer", "attempts",
                    "evidence", "timeline", "deliveries"):
        assert f'id="{section}"' in html, section
    kinds = re.findall(r'data-kind="([^"]+)"', html)
    for kind in ("event.received", "case.opened", "case.escalated", "case.routed", "delivery.done",
                 "case.acknowledged", "agent.replied", "ticket.solved", "ticket.reopened", "csat.rated"):
        assert kind in kinds, kind
    assert "Agent replied (holding message)" in html and "Customer rated good" in html
    assert "dry run" in html and "zendesk.ticket" in html
    assert "https://acme.zendesk.com/agent/tickets/4242" in html  # the ticket id from the Zendesk events
    assert "30 min after escalation" in html  # first useful response, not the holding reply


def test_case_page_says_where_the_customer_waits_and_shows_follow_ups(client: FlaskClient, rt: Runtime) -> None:
    """Issue 16, points 1 and 2: the channel, the live conversation and what the customer added later."""
    messages = [{"id": "m1", "role": "customer", "text": "Quiero hablar con una persona, me cobraron dos veces"},
                {"id": "m2", "role": "bot", "text": "Un agente te responderá aquí mismo en este chat."}]
    conversation = {"id": "wa-1", "channel": "whatsapp", "url": "https://bots.example.com/c/wa-1",
                    "messages": messages}
    case_id = seed_case(client, rt, NOW - timedelta(hours=1), "wa-1", messages)
    body = dumps(generic_event(conversation_id="wa-1", type_="conversation.updated", messages=[
        {"id": "m3", "role": "customer", "text": "¿Hay alguien? Llevo 20 minutos esperando."}]))
    client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    run_due(rt)
    with rt.store.session() as s:  # the platform told us the channel and link on a later update
        case = repo.get_case(s, case_id)
        assert case is not None
        case.event = {**case.event, "conversation": {**case.event["conversation"], **conversation,
                                                     "messages": case.event["conversation"]["messages"]}}
        s.commit()
    login(client, next_=f"/cases/{case_id}")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="waiting"' in html and "WhatsApp" in html
    assert 'href="https://bots.example.com/c/wa-1"' in html and "aquí mismo en este chat" in html
    assert 'data-kind="customer.followup"' in html and "Customer wrote again" in html
    assert "Llevo 20 minutos esperando." in html


def test_case_list_filters_and_links(client: FlaskClient, rt: Runtime) -> None:
    first = seed_case(client, rt, NOW - timedelta(days=2), "conv-a")
    second = seed_case(client, rt, NOW - timedelta(days=1), "conv-b")
    login(client)
    html = client.get("/cases").get_data(as_text=True)
    assert html.index(second) < html.index(first)  # newest first
    assert f'href="/cases/{first}"' in html
    assert first not in client.get("/cases?trigger=product_bug").get_data(as_text=True)
    assert first in client.get("/cases?trigger=low_confidence").get_data(as_text=True)  # the bot answered at 0.2
    assert "No cases match" in client.get("/cases?platform=nowhere").get_data(as_text=True)
    assert client.get("/cases/c-missing").status_code == 404


def test_dashboard_draws_every_metric_and_passes_filters(
    client: FlaskClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = install_fake_report(monkeypatch)
    rt.clock = lambda: NOW
    login(client)
    quiet = client.get("/dashboard?days=7").get_data(as_text=True)
    assert calls[-1][3] == "week" and "too few conversations a day" in quiet  # an empty store: weekly points
    html = client.get("/dashboard?days=7&team=billing&trigger=product_bug&platform=generic&by=day").get_data(
        as_text=True)
    since, until, filters, granularity = calls[-1]
    assert until == NOW and since == NOW - timedelta(days=7) and granularity == "day"  # ?by=day is honoured
    assert filters == {"team": "billing", "trigger": "product_bug", "platform": "generic"}
    assert html.count('<svg class="trend"') == 9
    metrics = re.findall(r'<g class="series s\d" data-metric="([^"]+)"', html)
    from bridge.metrics.model import METRICS

    assert sorted(metrics) == sorted(METRICS)
    # 14 series x 4 days, minus the two days without CSAT: missing is not zero.
    assert len(re.findall(r"<circle cx=", html)) == 14 * 4 - 2
    assert "Escalation CSAT, Wed Oct 28: 80% (n=5)" in html  # the number on hover
    assert html.count('<g class="bar">') == 3 + 2  # escalations and CSAT by trigger
    assert 'id="totals"' in html and 'id="by-period"' in html and 'id="by-dimension"' in html
    client.get("/dashboard?trigger=not-a-trigger&since=2026-10-01&until=2026-10-10&granularity=week")
    since, until, filters, granularity = calls[-1]
    assert filters == {} and granularity == "week"
    assert (since.isoformat(), until.isoformat()) == ("2026-10-01T00:00:00+00:00", "2026-10-11T00:00:00+00:00")
    team = client.get("/dashboard?by=team").get_data(as_text=True)
    assert team.count('<g class="bar">') == 1
    assert client.get("/dashboard?breakdown=team").get_data(as_text=True).count('<g class="bar">') == 1
    client.get("/dashboard?days=30&by=week")
    assert calls[-1][3] == "week"


def test_security_headers(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    response = client.get("/login")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_static_css_is_served(client: FlaskClient) -> None:
    assert client.get("/static/bridge/bridge.css").status_code == 200


def test_pages_on_a_fresh_store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """No cases at all: the dashboard and list still render (no crash on empty data)."""
    install_fake_report(monkeypatch)
    rt = Runtime.build(settings)
    upgrade(rt.store)
    client = with_pages(create_app(rt=rt)).test_client()
    login(client)
    assert client.get("/dashboard").status_code == 200
    assert b"No cases match" in client.get("/cases").data


def test_links_out_to_each_vendor(settings: Settings) -> None:
    from bridge.web.case_view import links_out, vendor_url

    configured = settings.with_overrides(extra={"ZENDESK_URL": "https://help.example.com/",
                                                "JIRA_URL": "https://jira.example.com",
                                                "SLACK_WORKSPACE_URL": "https://acme.slack.com"})
    assert vendor_url(configured, "zendesk.ticket", "981") == "https://help.example.com/agent/tickets/981"
    assert vendor_url(configured, "zendesk.link", "981#77") == "https://help.example.com/agent/tickets/981"
    assert vendor_url(configured, "jira.bug", "SUP-12") == "https://jira.example.com/browse/SUP-12"
    assert vendor_url(configured, "slack.alert", "C0AB:1712345678.000100 D0X:1712345679.000200") == (
        "https://acme.slack.com/archives/C0AB/p1712345678000100")
    assert vendor_url(configured, "slack.update#bug", "C0AB:1712345678.000100").endswith("/p1712345678000100")
    assert vendor_url(configured, "zendesk.ticket", "dry-run:c-1/zendesk.ticket") is None
    assert vendor_url(settings, "jira.bug", "SUP-12") is None  # no JIRA_URL: shown, not linked
    [link] = links_out(configured, {"slack.update#bug": "dry-run:c-1/slack.update#bug"})
    assert link.label == "Slack thread update (bug)" and link.url is None and link.dry_run
