"""Parsing one setting's raw text into a typed value; a value the bridge cannot use raises
``ConfigError`` naming the variable."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting has a value the bridge cannot run with; the message names it."""


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def text(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The value stripped of surrounding blanks, or ``default`` when unset or blank."""
    return env.get(name, "").strip() or default


def listed(env: Mapping[str, str], name: str, sep: str = ",") -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(sep) if part.strip())


def path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else None


def ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a comma-separated list of seconds") from None
    if any(v < 0 for v in values):
        raise ConfigError(f"{name} must not contain negative numbers")
    return values


def integer(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
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


def number(env: Mapping[str, str], name: str) -> float | None:
    """A finite number, or None when unset (each use keeps its own default and bounds)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    return value


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def duration(env: Mapping[str, str], name: str, default: int) -> int:
    """Seconds, or with a unit: ``90``, ``45m``, ``12h``, ``30d``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    match = _DURATION.match(raw.lower())
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds (or 12h, 30d), got {raw!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


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
