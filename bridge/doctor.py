"""``bridge doctor``: one line per dependency saying what works and what does not."""

from __future__ import annotations

from collections.abc import Iterator

import connectors
from bridge.adapters import ADAPTERS
from bridge.config import ConfigError, Settings, secret_env_name
from bridge.pipeline import trigger_config
from bridge.runtime import Runtime


def run_checks(settings: Settings) -> Iterator[tuple[str, bool, str]]:
    rt = Runtime.build(settings)
    try:
        rt.store.ping()
        yield "store", True, f"{rt.store.dialect} reachable"
    except Exception as exc:
        yield "store", False, f"{rt.store.dialect} unreachable: {type(exc).__name__}: {str(exc)[:120]}"
    if settings.redis_url:
        try:
            rt.queue.ping()
            yield "redis", True, "reachable; jobs run on RQ workers (`bridge worker`)"
        except Exception as exc:
            yield "redis", False, f"unreachable: {type(exc).__name__}"
    else:
        yield "redis", True, "REDIS_URL unset; `bridge serve` runs the in-process worker"
    try:
        cfg = trigger_config.from_settings(settings)
        yield "triggers", True, f"configuration loaded (low confidence below {cfg.low_confidence_threshold})"
    except ConfigError as exc:
        yield "triggers", False, str(exc)
    for vendor, names in connectors.CREDENTIALS.items():
        if connectors.is_configured(vendor, settings):
            live = vendor in connectors.LIVE
            yield vendor, live, "credentials set" + ("" if live else ", but the live connector is not built yet")
        else:
            yield vendor, True, f"dry run to the outbox (set {', '.join(names)} to go live)"
    for slug in ADAPTERS:
        env = secret_env_name(slug)
        if settings.secrets_for(slug):
            yield f"webhook {slug}", True, f"{len(settings.secrets_for(slug))} secret(s) configured"
        elif slug == "generic":
            yield f"webhook {slug}", True, f"{env} unset; `bridge serve` uses a development secret"
        else:
            yield f"webhook {slug}", True, f"{env} unset; deliveries from {slug} are refused (401)"
