"""Settings from the environment (12-factor). Every name here is in the README's table.

``Settings.from_env()`` reads a mapping (``os.environ`` by default) once; nothing else in the
bridge reads the environment. Tests build ``Settings`` with explicit overrides. Every other value
is a typed field (``settings.openai``, ``settings.routing_file``, …) parsed from ``extra`` when the
settings are built (sections.py), so the bridge never looks a variable up by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bridge.config import parse as p
from bridge.config.parse import ConfigError, check_vendor_url
from bridge.config.sections import (
    BotCallbackSettings,
    JiraSettings,
    OpenAIConfig,
    PlatformCredentials,
    SlackSettings,
    ZendeskSettings,
    parse,
)

__all__ = ["ConfigError", "Settings", "api_url_env_name", "check_vendor_url", "load_dotenv_file",
           "secret_env_name"]


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


def secret_env_name(slug: str) -> str:
    """``sunshine-conversations`` → ``SUNSHINE_CONVERSATIONS_WEBHOOK_SECRET``."""
    return slug.upper().replace("-", "_") + "_WEBHOOK_SECRET"


def api_url_env_name(slug: str) -> str:
    return slug.upper().replace("-", "_") + "_API_URL"


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
    # Everything else as written, by env name; the typed fields below are parsed from it.
    extra: Mapping[str, str] = field(default_factory=dict)

    # Parsed from ``extra`` when built (bridge/config/sections.py); ``with_overrides`` re-parses.
    routing_file: Path | None = field(init=False, repr=False, compare=False)
    triggers_file: Path | None = field(init=False, repr=False, compare=False)
    public_url: str = field(init=False, repr=False, compare=False)  # no trailing "/"; "" when unset
    production: bool = field(init=False, repr=False, compare=False)  # BRIDGE_ENV=production
    judge_mode: str = field(init=False, repr=False, compare=False)  # local, llm or both
    low_confidence_threshold: float | None = field(init=False, repr=False, compare=False)
    retention_days: int = field(init=False, repr=False, compare=False)
    dedupe_days: int = field(init=False, repr=False, compare=False)
    users: Mapping[str, str] = field(init=False, repr=False, compare=False)  # name → password hash
    secret_key: str = field(init=False, repr=False, compare=False)  # "" → the data dir's development key
    case_link_ttl: int = field(init=False, repr=False, compare=False)  # seconds
    csat_baseline: float | None = field(init=False, repr=False, compare=False)  # a share (0.82)
    worker_processes: int = field(init=False, repr=False, compare=False)
    dispatch_interval: float = field(init=False, repr=False, compare=False)
    holding_phrases: tuple[str, ...] | None = field(init=False, repr=False, compare=False)  # lower-case
    fetch_allow: str = field(init=False, repr=False, compare=False)  # BRIDGE_FETCH_ALLOW as written
    openai: OpenAIConfig = field(init=False, repr=False, compare=False)
    zendesk: ZendeskSettings = field(init=False, repr=False, compare=False)
    jira: JiraSettings = field(init=False, repr=False, compare=False)
    slack: SlackSettings = field(init=False, repr=False, compare=False)
    bot_callback: BotCallbackSettings = field(init=False, repr=False, compare=False)
    platforms: PlatformCredentials = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, value in parse(self.extra).items():
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what it is built from (the typed groups hold read-only mappings)."""
        return _rebuild, ({f.name: getattr(self, f.name) for f in fields(self) if f.init},)

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
        if self.public_url:
            return self.public_url
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def secrets_for(self, slug: str) -> tuple[str, ...]:
        return self.webhook_secrets.get(slug, ())

    def api_url(self, slug: str) -> str:
        """``<SLUG>_API_URL`` as written ("" when unset): a platform's API endpoint."""
        return self.platforms.api_urls.get(slug, "")

    def get(self, name: str, default: str = "") -> str:
        """A raw variable by name; the bridge reads the typed fields (tests/test_settings_typed.py)."""
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
        return cls(
            data_dir=Path(env.get("BRIDGE_DATA_DIR") or "var"),
            database_url=env.get("DATABASE_URL", "").strip(),
            redis_url=env.get("REDIS_URL", "").strip(),
            host=env.get("BRIDGE_HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=p.integer(env, "PORT", 8000, 1),
            admin_token=env.get("BRIDGE_ADMIN_TOKEN", "").strip(),
            max_body_bytes=p.integer(env, "BRIDGE_MAX_BODY_BYTES", 1024 * 1024, 1024),
            max_json_depth=p.integer(env, "BRIDGE_MAX_JSON_DEPTH", 64, 4),
            timestamp_tolerance=p.integer(env, "BRIDGE_TIMESTAMP_TOLERANCE", 300, 1),
            queue_name=env.get("BRIDGE_QUEUE", "bridge").strip() or "bridge",
            retry_intervals=p.ints(retry, "BRIDGE_RETRY_INTERVALS") if retry else Settings.retry_intervals,
            sweep_interval=p.integer(env, "BRIDGE_SWEEP_INTERVAL", 15, 1),
            sweep_age=p.integer(env, "BRIDGE_SWEEP_AGE", 30, 0),
            job_timeout=p.integer(env, "BRIDGE_JOB_TIMEOUT", 120, 1),
            lease_seconds=p.integer(env, "BRIDGE_LEASE_SECONDS", 300, 1),
            shutdown_grace=p.integer(env, "BRIDGE_SHUTDOWN_GRACE", 25, 0),
            webhook_secrets=secrets,
            extra={k: v for k, v in env.items() if not k.endswith("_WEBHOOK_SECRET")},
        )


def _rebuild(values: dict[str, Any]) -> Settings:
    return Settings(**values)
