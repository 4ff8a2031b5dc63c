"""Bug fingerprints: the same bug reported by many customers gets one fingerprint, so one Jira issue.

A fingerprint is made of three parts, each normalised so that what differs between two reports of
the same bug (ids, numbers, hashes, uuids, timestamps, e-mail addresses, tenants' host names, query
strings) does not count, and what tells two bugs apart does:

- the top error: the first error/fatal console message; else the first failing network request
  (method, route, status); else an error code the customer quoted (``E1042``, ``ERR_EXPORT_3``);
- the failing endpoint (method and route of the first failing request) or, without one, the
  page route (path, and a ``#/hash`` route of a single-page app);
- the app's major version (``4.2.1`` → ``4``), since a bug fixed in 5.x is a new bug there.

Without an error (top error empty) there is no fingerprint: two unrelated complaints about the same
page must never be merged into one bug. Pure functions only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bridge.events import Evidence, Package

VERSION = "v1"  # bump when the normalisation changes (old fingerprints then stop matching)

_SEVERITY = {"fatal": 0, "critical": 0, "error": 1}
_UUID = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I)
_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    re.I,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.I)
_HEX = re.compile(r"\b(?:0x[0-9a-f]+|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}|[0-9a-f]{16,})\b", re.I)
# A token with letters and a long run of digits is an id (user_8723423, ord-88231, tok4f9a2c8e1).
_MIXED_ID = re.compile(r"\b(?=\w*[a-z])\w*\d{4,}\w*\b|\b(?=[\w-]*\d)(?=[\w-]*[a-z])[\w-]{20,}\b", re.I)
# An error code (E1042, ERR_502, AUTH-17) names the bug class: kept although it has digits.
_ERROR_CODE = re.compile(r"\b(?:[A-Z]{1,5}[-_]?\d{1,4}|[A-Z]+(?:_[A-Z0-9]+)+)\b")
_CODE_IN_TEXT = re.compile(
    r"\b(?:error|code|err|fehler|erreur|código|codice)\s*[:#]?\s*([A-Z]{1,5}[-_]?\d{1,4})\b", re.I
)
_NUMBER = re.compile(r"(?<![a-z])\d+(?:[.,]\d+)*(?![a-z])", re.I)
_QUOTED = re.compile(r"(['\"`])(?:(?!\1).){1,200}\1")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Fingerprint:
    value: str  # "bf-" + 32 hex characters
    error: str  # the normalised parts, shown to engineers so they can see why reports were merged
    route: str
    major: str

    @property
    def label(self) -> str:
        """Jira label carrying the fingerprint (searchable even if the store lost its map)."""
        return "rb-bug-" + self.value[3:19]


def normalize_text(text: str) -> str:
    """An error message with everything that varies between occurrences replaced by a placeholder."""
    out = text.strip()
    out = _URL.sub(lambda m: normalize_route(m.group(0)), out)
    out = _UUID.sub("<uuid>", out)
    out = _TIMESTAMP.sub("<ts>", out)
    out = _EMAIL.sub("<email>", out)
    codes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        codes.append(match.group(0))
        return "\x00" + chr(0xE000 + len(codes) - 1) + "\x00"

    out = _ERROR_CODE.sub(keep, out)
    out = _HEX.sub("<hex>", out)
    out = _MIXED_ID.sub("<id>", out)
    out = _NUMBER.sub("<n>", out)
    out = _QUOTED.sub(lambda m: m.group(0) if len(m.group(0)) <= 40 and "<" not in m.group(0) else "<str>", out)
    out = re.sub("\x00(.)\x00", lambda m: codes[ord(m.group(1)) - 0xE000], out)
    return _SPACE.sub(" ", out).strip().lower()[:300]


def _segment(segment: str) -> str:
    if not segment:
        return segment
    if _UUID.fullmatch(segment):
        return "{uuid}"
    if segment.isdigit():
        return "{n}"
    if _HEX.fullmatch(segment):
        return "{hex}"
    if _MIXED_ID.fullmatch(segment) or (len(segment) >= 12 and any(c.isdigit() for c in segment)):
        return "{id}"
    if _EMAIL.fullmatch(segment):
        return "{email}"
    return segment.lower()


def normalize_route(url: str) -> str:
    """Path of a URL (no host, query or ids); a ``#/…`` single-page-app route is kept."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    path = parts.path or "/"
    if parts.fragment.startswith("/"):
        path = path.rstrip("/") + "/#" + parts.fragment.split("?", 1)[0]
    segments = [_segment(s) for s in path.split("/")]
    return "/".join(segments)[:200] or "/"


def major_version(version: str | None) -> str:
    match = re.search(r"\d+", version or "")
    return str(int(match.group(0))) if match else ""


def top_error(evidence: Evidence | None, customer_texts: list[str]) -> str:
    """The normalised top error of a report, or "" when the report names no error."""
    ev = evidence or Evidence()
    errors = sorted(
        (c for c in ev.console_logs if (c.level or "").lower() in _SEVERITY and (c.message or "").strip()),
        key=lambda c: _SEVERITY[(c.level or "").lower()],
    )
    if errors:
        return normalize_text(errors[0].message or "")
    failing = [r for r in ev.network_requests if r.url and (r.status is None or r.status >= 400)]
    if failing:
        r = failing[0]
        return f"{(r.method or 'GET').upper()} {normalize_route(r.url or '')} → {r.status or 'no response'}"
    for text in customer_texts:
        match = _CODE_IN_TEXT.search(text)
        if match:
            return "code " + match.group(1).upper().replace("_", "-")
    return ""


def failing_route(evidence: Evidence | None) -> str:
    ev = evidence or Evidence()
    failing = [r for r in ev.network_requests if r.url and (r.status is None or r.status >= 400)]
    if failing:
        return f"{(failing[0].method or 'GET').upper()} {normalize_route(failing[0].url or '')}"
    return normalize_route(ev.page_url) if ev.page_url else ""


def fingerprint(package: Package) -> Fingerprint | None:
    """The package's bug fingerprint, or None when it names no error to match on."""
    customer_texts = [m.text for m in package.conversation.messages if m.role == "customer"]
    error = top_error(package.evidence, customer_texts)
    if not error:
        return None
    device = package.evidence.device if package.evidence else None
    route = failing_route(package.evidence)
    major = major_version(device.app_version if device else None)
    digest = hashlib.sha256("|".join((VERSION, error, route, major)).encode()).hexdigest()[:32]
    return Fingerprint(value="bf-" + digest, error=error, route=route, major=major)
