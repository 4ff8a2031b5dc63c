"""What every ``bridge`` command shares: settings from the environment, a checked runtime, and
the exit-2 failure line."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NoReturn

import click

from bridge.config import ConfigError, Settings, load_dotenv_file

if TYPE_CHECKING:
    from bridge.runtime import Runtime


def load_settings() -> Settings:
    """The settings of ``.env`` and the environment; a bad value exits naming it."""
    load_dotenv_file()
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def checked(rt: Runtime) -> Runtime:
    """Refuse to start on unsafe configuration, naming the reason."""
    # Imported here, for start-up speed: `bridge --help` loads no queue or routing code.
    from bridge.config.secret_policy import refusal
    from bridge.pipeline.route_config import RoutingError
    from bridge.queue import RQQueue

    weak = refusal(rt.settings)
    if weak:
        raise click.ClickException(weak)
    try:
        rt.routing()
    except RoutingError as exc:
        raise click.ClickException(f"invalid ROUTING_FILE:\n{exc}") from None
    if isinstance(rt.queue, RQQueue):
        policy = rt.queue.eviction_policy()
        if policy not in (None, "noeviction"):
            raise click.ClickException(
                f"Redis maxmemory-policy is {policy!r}: Redis may evict queued jobs under memory pressure. "
                "Set it to 'noeviction' (CONFIG SET maxmemory-policy noeviction).")
    return rt


def runtime(migrate: bool = False) -> Runtime:
    """The installed runtime of these settings, checked; with ``migrate``, the schema upgraded first."""
    # Imported here, for start-up speed (the runtime pulls in the store and the queue).
    from bridge.runtime import Runtime, install

    rt = checked(install(Runtime.build(load_settings())))
    if migrate:
        from bridge.store.migrate import upgrade

        upgrade(rt.store)
    return rt


def fail(message: str, *, one_line: bool = True) -> NoReturn:
    """Say why on stderr and exit 2 (a usage or input problem, not a crash)."""
    click.echo(message.replace("\n", " ") if one_line else message, err=True)
    sys.exit(2)


_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``--since``: a number and a unit (30d, 12h, 2w, 90m)."""
    match = _SINCE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r}: use a number and a unit, e.g. 30d, 12h, 2w, 90m", param_hint="--since")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_at(text: str | None) -> datetime:
    """``--at``: an ISO 8601 date-time with its UTC offset; none means now."""
    if not text:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date-time", param_hint="--at") from None
    if at.tzinfo is None:
        raise click.BadParameter(f"{text!r} needs a UTC offset, e.g. 2026-03-28T09:00:00+01:00", param_hint="--at")
    return at
