"""Keys derived from the secret key, and the signed case links every destination carries.

- ``secret_key``: ``BRIDGE_SECRET_KEY``; unset, a key kept in the data dir
  (``<BRIDGE_DATA_DIR>/session-secret-key``, made on first use) is used, which suits one machine.
- ``subkey(settings, purpose)``: one HMAC key per purpose (session, case link, event status).
- ``case_link(settings, case_id, now)`` is a link to one case page that works without a login
  until it expires (``BRIDGE_CASE_LINK_TTL``, default 30 days): HMAC-SHA256 over the case id and
  the expiry. The worker signs them (tickets, alerts, bugs); the web layer verifies them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from bridge.config.sections import DEFAULT_CASE_LINK_TTL
from bridge.config.settings import Settings

__all__ = ["DEFAULT_CASE_LINK_TTL", "case_link", "case_link_ttl", "secret_key", "sign_case", "subkey"]



_KEPT: dict[str, str] = {}  # the data dir's key per path, read once per process (not per request)


def secret_key(settings: Settings) -> str:
    """``BRIDGE_SECRET_KEY``, or the development key kept in the data dir (made on first use)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "session-secret-key"
    kept = _KEPT.get(str(path))
    if kept is None:
        kept = _KEPT[str(path)] = _read_or_make(path)
    return kept


def _read_or_make(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        fresh.write_text(secrets.token_urlsafe(48) + "\n")
        fresh.chmod(0o600)
        try:  # two processes starting at once: the first link wins, both read the same key
            os.link(fresh, path)
        except FileExistsError:
            pass
        finally:
            fresh.unlink(missing_ok=True)
    return path.read_text().strip()


def subkey(settings: Settings, purpose: str) -> bytes:
    return hmac.new(secret_key(settings).encode(), purpose.encode(), hashlib.sha256).digest()


def case_link_ttl(settings: Settings) -> int:
    return settings.case_link_ttl


def sign_case(settings: Settings, case_id: str, expires: int) -> str:
    mac = hmac.new(subkey(settings, "case-link"), f"{case_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def case_link(settings: Settings, case_id: str, now: datetime) -> str:
    """A link to the case page that works without a login until it expires."""
    expires = int(now.timestamp()) + case_link_ttl(settings)
    query = urlencode({"sig": sign_case(settings, case_id, expires), "exp": expires})
    path = f"/cases/{case_id}?{query}"
    return f"{settings.public_url}{path}"
