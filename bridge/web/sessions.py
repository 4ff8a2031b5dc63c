"""Server-side sign-in sessions and sign-in throttling, both in the store so every web process
(on every machine) sees the same state.

- A session is a random id in the signed cookie plus a row keyed by its hash; ``end`` deletes the
  row, so signing out ends the session for a copied cookie too, and an expired row is no session.
- Throttling counts failures per name and per address in a fixed window: after ``USER_LIMIT``
  wrong passwords for one name, or ``ADDRESS_LIMIT`` failures (passwords or admin tokens) from one
  address, further tries answer 429 with ``Retry-After`` until the window ends, without checking
  the password at all. A success clears the name's count, not the address's.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from bridge.runtime import Runtime

WINDOW = timedelta(minutes=15)
USER_LIMIT = 5
ADDRESS_LIMIT = 20


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


# --- sessions ----------------------------------------------------------------------------------

def start(rt: Runtime, user: str, now: datetime, lifetime: timedelta) -> str:
    """A new session for ``user``; the id goes into the cookie, its hash into the store."""
    from bridge.store import logins

    session_id = secrets.token_urlsafe(32)
    with rt.store.session() as s:
        logins.add_web_session(s, _hash(session_id), user[:200], now, now + lifetime)
        s.commit()
    return session_id


def alive(rt: Runtime, session_id: str, user: str, now: datetime) -> bool:
    from bridge.store import logins

    if not session_id:
        return False
    with rt.store.session() as s:
        row = logins.web_session(s, _hash(session_id))
        return row is not None and row.user == user and row.expires_at > now


def end(rt: Runtime, session_id: str) -> None:
    from bridge.store import logins

    if session_id:
        with rt.store.session() as s:
            logins.delete_web_session(s, _hash(session_id))
            s.commit()


# --- throttling --------------------------------------------------------------------------------

def keys(name: str | None, address: str | None) -> list[str]:
    found = [f"addr:{address}"[:300]] if address else []
    if name is not None:
        found.append(f"user:{name.strip().casefold() or 'admin'}"[:300])
    return found


def _limit(key: str) -> int:
    return USER_LIMIT if key.startswith("user:") else ADDRESS_LIMIT


def retry_after(rt: Runtime, throttle_keys: Sequence[str], now: datetime) -> int | None:
    """Seconds until another try is allowed, or None when it is allowed now."""
    from bridge.store import logins

    with rt.store.session() as s:
        rows = logins.throttle_rows(s, throttle_keys)
    waits = [(row.window_start + WINDOW - now).total_seconds() for row in rows
             if row.failures >= _limit(row.key) and row.window_start + WINDOW > now]
    return max(1, math.ceil(max(waits))) if waits else None


def failed(rt: Runtime, throttle_keys: Sequence[str], now: datetime) -> None:
    from bridge.store import logins

    for key in throttle_keys:
        with rt.store.session() as s:
            logins.count_failure(s, key, now, WINDOW)


def succeeded(rt: Runtime, key: str) -> None:
    from bridge.store import logins

    with rt.store.session() as s:
        logins.clear_throttle(s, key)
        s.commit()
