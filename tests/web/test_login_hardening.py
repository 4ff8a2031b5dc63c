"""Issue 20, item 7: sign-in that cannot be timed, guessed at speed or outlived by a copied cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.web import auth, sessions
from tests.web.pages_seed import install_fake_report, with_pages

ADMIN = "admin-test-token-0123456789"
FAST = "pbkdf2:sha256:1000"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Flask:
    install_fake_report(monkeypatch)
    users = f"ana:{generate_password_hash('correct horse', method=FAST)},bo:{generate_password_hash('b', method=FAST)}"
    rt.settings = rt.settings.with_overrides(extra={"BRIDGE_USERS": users})
    rt.clock = lambda: NOW
    return with_pages(create_app(rt=rt))


def _csrf(client: FlaskClient) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        return str(session["csrf"])


def login(client: FlaskClient, name: str = "", password: str = ADMIN) -> Any:
    return client.post("/login", data={"csrf_token": _csrf(client), "name": name, "password": password})


def test_the_session_cookie_has_the_intended_name(client: FlaskClient) -> None:
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{auth.COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("public,host,secure", [
    ("https://bridge.example.com", "0.0.0.0", True),
    ("http://bridge.internal:8000", "0.0.0.0", False),  # plainly served over http, on purpose
    ("", "127.0.0.1", False),  # the quick start
    ("", "0.0.0.0", True),  # behind a TLS proxy (the Procfile), or should be
    ("", "10.1.2.3", True),
])
def test_the_secure_flag_follows_how_the_bridge_is_reached(public: str, host: str, secure: bool) -> None:
    settings = Settings(host=host, extra={"BRIDGE_PUBLIC_URL": public} if public else {})
    assert auth.cookie_secure(settings) is secure


def test_signing_out_ends_the_session_for_a_copied_cookie(app: Flask) -> None:
    owner, thief = app.test_client(), app.test_client()
    assert login(owner, "ana", "correct horse").status_code == 302
    stolen = owner.get_cookie(auth.COOKIE_NAME)
    assert stolen is not None
    thief.set_cookie(auth.COOKIE_NAME, stolen.value)
    assert thief.get("/dashboard").status_code == 200  # a copied cookie works while the session lives
    with owner.session_transaction() as session:
        token = session["csrf"]
    assert owner.post("/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/dashboard").status_code == 302  # ... and not after signing out
    assert owner.get("/dashboard").status_code == 302


def test_a_session_ends_when_its_lifetime_does(app: Flask, rt: Runtime) -> None:
    client = app.test_client()
    login(client, "ana", "correct horse")
    assert client.get("/dashboard").status_code == 200
    rt.clock = lambda: NOW + auth.SESSION_LIFETIME + timedelta(seconds=1)
    assert client.get("/dashboard").status_code == 302


def test_wrong_passwords_for_one_name_are_throttled_with_retry_after(app: Flask, rt: Runtime) -> None:
    client = app.test_client()
    for _ in range(sessions.USER_LIMIT):
        assert login(client, "ana", "guess").status_code == 401
    refused = login(client, "ana", "correct horse")  # even the right password waits: no oracle
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert login(client, "bo", "b").status_code == 302  # another name from the same address is not locked out
    rt.clock = lambda: NOW + sessions.WINDOW
    assert login(app.test_client(), "ana", "correct horse").status_code == 302


def test_many_names_from_one_address_are_throttled(app: Flask) -> None:
    client = app.test_client()
    for i in range(sessions.ADDRESS_LIMIT):
        assert login(client, f"user{i}", "guess").status_code == 401
    refused = login(client, "bo", "b")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_wrong_admin_tokens_are_throttled_per_address(client: FlaskClient) -> None:
    for _ in range(sessions.ADDRESS_LIMIT):
        assert client.get("/api/cases/c-x", headers={"Authorization": "Bearer wrong"}).status_code == 401
    refused = client.get("/api/cases/c-x", headers={"Authorization": f"Bearer {ADMIN}"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["error"]["code"] == "too_many_attempts"


def test_an_unknown_name_costs_what_a_known_one_does(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """One password check and no fresh hashing either way (hashing afresh doubled the unknown path)."""
    configured = settings.with_overrides(extra={"BRIDGE_USERS": f"ana:{auth.hash_password('pw')}"})
    auth.authenticate(configured, "nobody", "warm-up")  # the dummy hash is made once per process
    calls: list[str] = []
    real_check, real_hash = auth.check_password_hash, auth.generate_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: calls.append("check") or real_check(h, p))
    monkeypatch.setattr(auth, "generate_password_hash", lambda *a, **k: calls.append("hash") or real_hash(*a, **k))
    for name in ("ana", "nobody"):
        calls.clear()
        assert auth.authenticate(configured, name, "wrong") is None
        assert calls == ["check"], name


def test_sessions_and_throttling_on_every_store(any_store_settings: Settings) -> None:
    from bridge.runtime import Runtime as RuntimeType
    from bridge.store.migrate import upgrade

    rt = RuntimeType.build(any_store_settings)
    upgrade(rt.store)
    sid = sessions.start(rt, "ana", NOW, timedelta(hours=1))
    assert sessions.alive(rt, sid, "ana", NOW) and not sessions.alive(rt, sid, "bo", NOW)
    sessions.end(rt, sid)
    assert not sessions.alive(rt, sid, "ana", NOW)
    keys = sessions.keys("Ana", "203.0.113.5")
    assert keys == ["addr:203.0.113.5", "user:ana"]
    for _ in range(sessions.USER_LIMIT):
        assert sessions.retry_after(rt, keys, NOW) is None
        sessions.failed(rt, keys, NOW)
    assert sessions.retry_after(rt, keys, NOW + timedelta(minutes=5)) == 10 * 60
    sessions.succeeded(rt, "user:ana")
    assert sessions.retry_after(rt, keys, NOW) is None
