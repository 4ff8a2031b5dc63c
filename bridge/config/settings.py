"""Settings from the environment (12-factor). Every name here is in the README's table.

``Settings.from_env()`` reads a mapping (``os.environ`` by default) once; nothing else in the
bridge reads the environment. Tests build ``Settings`` with explicit overrides.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def load_dotenv_file(path: Path | None = None) -> Path | None:
    """Read ``.env`` from the working directory (or ``path``) into the environment, without
    overriding what is already set. Every process (``bridge …`` commands and ``wsgi.py`` under
    gunicorn) calls this before reading settings, so they all run with one configuration.
    Returns the file read, or None."""
    from dotenv import load_dotenv

    path = path or Path.cwd() / ".env"
    if not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path


class ConfigError(ValueError):
    """A setting has a value the bridge cannot run with; the message names it."""


def secret_env_name(slug: str) -> str:
    """``sunshine-conversations`` → ``SUNSHINE_CONVERSATIONS_WEBHOOK_SECRET``."""
    return slug.upper().replace("-", "_") + "_WEBHOOK_SECRET"


def api_url_env_name(slug: str) -> str:
    return slug.upper().replace("-", "_") + "_API_URL"


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a comma-separated list of seconds") from None
    if any(v < 0 for v in values):
        raise ConfigError(f"{name} must not contain negative numbers")
    return values


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _loopback(host: str) -> bool:
    """``localhost`` or a loopback address (any of 127.0.0.0/8, ::1); ``127.evil.example`` is a name."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_vendor_url(name: str, url: str) -> str:
    """Vendor endpoints must be https, except plain http on loopback (local mocks)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and _loopback(parts.hostname or ""):
        return url
    raise ConfigError(f"{name} must be an https:// URL (plain http only for loopback), got {url!r}")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str = ""
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    timestamp_tolerance: int = 300
    queue_name: str = "bridge"
    retry_intervals: tuple[int, ...] = (10, 30, 60, 300, 900, 1800, 3600)
    sweep_interval: int = 15
    sweep_age: int = 30
    job_timeout: int = 120
    lease_seconds: int = 300
    shutdown_grace: int = 25  # seconds `bridge serve` lets running jobs finish after SIGTERM
    webhook_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Everything else (vendor credentials and endpoints, platform API URLs) by env name.
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def max_attempts(self) -> int:
        """First try plus one retry per interval."""
        return len(self.retry_intervals) + 1

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bridge.db').resolve()}"

    @property
    def base_url(self) -> str:
        """Where people open the bridge: ``BRIDGE_PUBLIC_URL``, or the address ``bridge serve`` binds."""
        public = self.extra.get("BRIDGE_PUBLIC_URL", "").strip().rstrip("/")
        if public:
            return public
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def secrets_for(self, slug: str) -> tuple[str, ...]:
        return self.webhook_secrets.get(slug, ())

    def get(self, name: str, default: str = "") -> str:
        return self.extra.get(name, default)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        secrets: dict[str, tuple[str, ...]] = {}
        for name, value in env.items():
            if name.endswith("_WEBHOOK_SECRET"):
                slug = name[: -len("_WEBHOOK_SECRET")].lower().replace("_", "-")
                values = tuple(s.strip() for s in value.split(",") if s.strip())
                if not values:
                    raise ConfigError(f"{name} is set but empty")
                secrets[slug] = values
        retry = env.get("BRIDGE_RETRY_INTERVALS", "").strip()
        for name in ("ZENDESK_URL", "JIRA_URL", "SLACK_API_URL", "OPENAI_BASE_URL"):
            if env.get(name):
                check_vendor_url(name, env[name])
        if env.get("BRIDGE_JUDGE", "").strip().lower() not in ("", "local", "llm", "both"):
            raise ConfigError(f"BRIDGE_JUDGE must be local, llm or both, got {env['BRIDGE_JUDGE']!r}")
        return cls(
            data_dir=Path(env.get("BRIDGE_DATA_DIR") or "var"),
            database_url=env.get("DATABASE_URL", "").strip(),
            redis_url=env.get("REDIS_URL", "").strip(),
            host=env.get("BRIDGE_HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=_int(env, "PORT", 8000, 1),
            admin_token=env.get("BRIDGE_ADMIN_TOKEN", "").strip(),
            max_body_bytes=_int(env, "BRIDGE_MAX_BODY_BYTES", 1024 * 1024, 1024),
            max_json_depth=_int(env, "BRIDGE_MAX_JSON_DEPTH", 64, 4),
            timestamp_tolerance=_int(env, "BRIDGE_TIMESTAMP_TOLERANCE", 300, 1),
            queue_name=env.get("BRIDGE_QUEUE", "bridge").strip() or "bridge",
            retry_intervals=_ints(retry, "BRIDGE_RETRY_INTERVALS") if retry else Settings.retry_intervals,
            sweep_interval=_int(env, "BRIDGE_SWEEP_INTERVAL", 15, 1),
            sweep_age=_int(env, "BRIDGE_SWEEP_AGE", 30, 0),
            job_timeout=_int(env, "BRIDGE_JOB_TIMEOUT", 120, 1),
            lease_seconds=_int(env, "BRIDGE_LEASE_SECONDS", 300, 1),
            shutdown_grace=_int(env, "BRIDGE_SHUTDOWN_GRACE", 25, 0),
            webhook_secrets=secrets,
            extra={k: v for k, v in env.items() if not k.endswith("_WEBHOOK_SECRET")},
        )
