"""Who may see the pages: login (admin token or configured users), CSRF, and signed case links.

- ``BRIDGE_ADMIN_TOKEN`` signs in as ``admin``; ``BRIDGE_USERS`` = ``name:pbkdf2-hash,...`` (made
  by ``bridge user-hash``) signs in named users. A session remembers a fingerprint of the secret
  it was opened with, so changing a password or the token ends the sessions opened with the old one.
- The Flask session is signed with ``BRIDGE_SECRET_KEY`` (``bridge.config.keys.secret_key``).
- Every POST carries the session's CSRF token.
- ``verify_case_link`` checks the signed case links ``bridge.config.keys.case_link`` makes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from bridge.config import Settings
from bridge.config.keys import secret_key, sign_case, subkey
from bridge.web import sessions
from bridge.web.safeint import ascii_int

HASH_METHOD = "pbkdf2:sha256:600000"
SESSION_LIFETIME = timedelta(hours=12)
ADMIN = "admin"
F = TypeVar("F", bound=Callable[..., Any])


def users(settings: Settings) -> dict[str, str]:
    """``BRIDGE_USERS`` as name → password hash."""
    return dict(settings.users)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


@functools.cache
def _dummy_hash() -> str:
    """Made once: hashing afresh for every unknown name doubled its time, which told names apart."""
    return hash_password(secrets.token_urlsafe(16))


def login_configured(settings: Settings) -> bool:
    """A password login exists (admin token or users); otherwise one-time links are the way in."""
    return bool(settings.admin_token or settings.users)


def _fingerprint(settings: Settings, name: str, via: str = "") -> str | None:
    """What a session opened by ``name`` must still match: changes when its secret changes."""
    if via == "link":
        if login_configured(settings):
            return None  # a login was configured since: link sessions end
        material = "link:" + name
    elif name == ADMIN and settings.admin_token:
        material = "token:" + settings.admin_token
    elif name != ADMIN and name in users(settings):
        material = "user:" + users(settings)[name]
    else:
        return None
    return hmac.new(subkey(settings, "session"), material.encode(), hashlib.sha256).hexdigest()[:32]


def authenticate(settings: Settings, name: str, password: str) -> str | None:
    """The signed-in name, or None. An empty name means the admin token."""
    name = name.strip()
    if not name or name == ADMIN:
        token = settings.admin_token
        if token and hmac.compare_digest(token.encode(), password.encode()):
            return ADMIN
        return None
    hashed = users(settings).get(name)
    if hashed is None:
        check_password_hash(_dummy_hash(), password)  # as slow as a known name: names cannot be told by time
        return None
    return name if check_password_hash(hashed, password) else None


# --- one-time login links (the embedded defaults: no login configured yet) -----------------------

LOGIN_LINK_TTL = 24 * 3600


def _links_dir(settings: Settings) -> Path:
    return settings.data_dir / "login-links"


def _link_file(settings: Settings, token: str) -> Path:
    return _links_dir(settings) / hashlib.sha256(token.encode()).hexdigest()


def issue_login_token(settings: Settings, now: datetime, ttl: int = LOGIN_LINK_TTL) -> str:
    """A fresh one-time token. Only its hash is kept (``<data dir>/login-links/``), with its expiry;
    expired ones are cleared on the way."""
    folder = _links_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for old in folder.iterdir():
        try:
            if int(old.read_text().strip() or 0) < now.timestamp():
                old.unlink(missing_ok=True)
        except (OSError, ValueError):
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    path = _link_file(settings, token)
    path.write_text(f"{int(now.timestamp()) + ttl}\n")
    path.chmod(0o600)
    return token


def redeem_login_token(settings: Settings, token: str, now: datetime) -> bool:
    """True once per token, before it expires; unlinking the file is what makes it one-time (two
    requests with the same link: exactly one removes the file)."""
    if login_configured(settings) or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token or ""):
        return False
    path = _link_file(settings, token)
    try:
        expires = int(path.read_text().strip() or 0)
        path.unlink()
    except (OSError, ValueError):
        return False
    return expires >= now.timestamp()


def base_url(settings: Settings) -> str:
    """Where people open the bridge: ``BRIDGE_PUBLIC_URL``, or the address ``bridge serve`` binds."""
    return settings.base_url


def login_link(settings: Settings, now: datetime) -> str:
    return f"{base_url(settings)}/login/link/{issue_login_token(settings, now)}"


# --- the session -------------------------------------------------------------------------------

def _settings() -> Settings:
    return current_app.extensions["bridge.runtime"].settings  # type: ignore[no-any-return]


COOKIE_NAME = "bridge_session"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def cookie_secure(settings: Settings) -> bool:
    """The session cookie travels over https only, unless the bridge is plainly served over http:
    ``BRIDGE_PUBLIC_URL`` says ``http://``, or it is unset and ``bridge serve`` binds loopback (the
    quick start). Bound to every interface without a public URL, it is behind a TLS proxy (the
    Procfile) or should be (``bridge doctor`` says so)."""
    if settings.public_url:
        return settings.public_url.startswith("https://")
    return settings.host not in _LOOPBACK and not settings.host.startswith("127.")


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["bridge.runtime"].settings
    app.secret_key = secret_key(settings)
    # Flask's defaults already hold SESSION_COOKIE_NAME ("session"), so setdefault would never apply.
    app.config["SESSION_COOKIE_NAME"] = COOKIE_NAME
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = cookie_secure(settings)
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME


def _runtime() -> Any:
    return current_app.extensions["bridge.runtime"]


def login(name: str, via: str = "") -> None:
    rt = _runtime()
    session.clear()
    session.permanent = True
    session["user"] = name
    session["via"] = via
    session["fp"] = _fingerprint(_settings(), name, via)
    session["sid"] = sessions.start(rt, name, rt.clock(), SESSION_LIFETIME)
    session["csrf"] = secrets.token_urlsafe(32)
    g.pop("bridge_user", None)


def logout() -> None:
    """End the session here and in the store: the same cookie sent again (copied, stolen) is no login."""
    sessions.end(_runtime(), str(session.get("sid") or ""))
    session.clear()
    g.pop("bridge_user", None)


def current_user() -> str | None:
    if "bridge_user" not in g:  # templates ask several times per page; the store once
        g.bridge_user = _current_user()
    return g.bridge_user  # type: ignore[no-any-return]


def _current_user() -> str | None:
    name = session.get("user")
    if not isinstance(name, str):
        return None
    expected = _fingerprint(_settings(), name, str(session.get("via") or ""))
    if expected is None or not hmac.compare_digest(expected, str(session.get("fp", ""))):
        return None
    rt = _runtime()
    if not sessions.alive(rt, str(session.get("sid") or ""), name, rt.clock()):
        return None
    return name


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//`` or backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/dashboard"


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Abort 400 unless the form carries this session's token."""
    expected = session.get("csrf")
    presented = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), presented.encode()):
        abort(400, description="The form expired or did not come from this site; reload the page and try again.")


# --- signed case links -------------------------------------------------------------------------

def verify_case_link(settings: Settings, case_id: str, sig: str, exp: str, now: datetime) -> bool:
    expires = ascii_int(exp, 12)  # a signed link's expiry is a unix time, never longer
    if expires is None or expires < now.timestamp():
        return False
    return hmac.compare_digest(sign_case(settings, case_id, expires).encode(), sig.encode())


# --- status links ------------------------------------------------------------------------------

def sign_event_status(settings: Settings, key: str) -> str:
    """The status URL's capability: an event key is derived from the sender's event id, so knowing
    the id must not be enough to read the case, its state and the questions for the customer."""
    mac = hmac.new(subkey(settings, "event-status"), key.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def event_status_url(settings: Settings, key: str) -> str:
    """Absolute, on the configured address (``BRIDGE_PUBLIC_URL``), never on the request's Host header."""
    return f"{settings.base_url}/api/events/{key}?{urlencode({'sig': sign_event_status(settings, key)})}"


def verify_event_status(settings: Settings, key: str, sig: str) -> bool:
    return hmac.compare_digest(sign_event_status(settings, key).encode(), sig.encode("utf-8", "replace"))
