"""Small helpers shared by the vendor adapters: tolerant accessors and the transcript-fetch HTTP client.

Accessors never index vendor JSON blindly: a required field that is missing raises
``MalformedPayload`` naming it, an optional one comes back as ``None``. The fetch client follows the
rules for platform APIs: https (plain http only on loopback), timeouts of at most 10 s, no redirects,
no proxies from the environment, and every failure classified as retryable or permanent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from bridge.adapters.base import InvalidPayload, MalformedPayload
from bridge.config import ConfigError, check_vendor_url
from bridge.errors import RetryableError
from bridge.events import Customer

TIMEOUT = (5, 10)  # connect, read (seconds)
MAX_TEXT = 100_000
MAX_MESSAGES = 5000
USER_AGENT = "recovery-bridge/0.1 (transcript fetcher)"


class FetchFailed(Exception):
    """The platform API answered in a way retrying cannot fix (401, 404, bad JSON, no config)."""


# ---- accessors ---------------------------------------------------------------------------------

def dig(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]…`` or ``None`` as soon as a step is missing or of the wrong type."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(data, list) or not -len(data) <= key < len(data):
                return None
        elif not isinstance(data, Mapping):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
        if data is None:
            return None
    return data


def items(value: Any) -> list[Any]:
    """An optional JSON array: the array, or ``[]`` when the sender put anything else there.

    ``payload.get("labels") or []`` iterates a string, and raises on ``true`` or a number: every
    optional list of a vendor body goes through here instead."""
    return value if isinstance(value, list) else []


def mapping(value: Any) -> dict[str, Any]:
    """An optional JSON object: the object, or ``{}`` when the sender put anything else there."""
    return value if isinstance(value, dict) else {}


def word(value: Any) -> str | None:
    """A string to look up in a table of the vendor's words (a list or an object is unhashable)."""
    return value if isinstance(value, str) else None


def obj(data: Any, name: str) -> dict[str, Any]:
    """A required JSON object (400 when the body is not the platform's shape)."""
    if not isinstance(data, dict):
        raise MalformedPayload(f"{name} must be a JSON object")
    return data


def text_id(data: Any, *path: str, field: str | None = None) -> str:
    """A required identifier (string or integer, as vendors mix them); 422 naming the field."""
    value = dig(data, *path)
    name = field or ".".join(path)
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise InvalidPayload(f"{name}: a non-empty id is required", field=name)
    return str(value)


def opt_str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None
    return float(value)


def confidence(value: Any) -> float | None:
    number = opt_float(value)
    return number if number is not None and 0 <= number <= 1 else None


def clip(text: str | None, limit: int = MAX_TEXT) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/h\d)\s*/?>", re.I)


def html_to_text(value: Any) -> str:
    """Intercom-style HTML bodies as plain text (tags dropped, entities decoded, paragraphs kept)."""
    if not isinstance(value, str):
        return ""
    text = _BREAKS.sub("\n", value)
    text = html.unescape(_TAGS.sub("", text))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# ---- time --------------------------------------------------------------------------------------

_FRACTION = re.compile(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$")


def iso(value: Any) -> str | None:
    """An RFC 3339 string from the forms vendors send (ISO with 7-digit fractions, unix s or ms)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if value > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _FRACTION.match(value.strip())
    if not match:
        return None
    head, fraction, zone = match.groups()
    zone = zone or "Z"
    if zone not in ("Z", "z") and not re.fullmatch(r"[+-]\d{2}:\d{2}", zone):
        return None
    fraction = (fraction or "")[:7]  # at most microseconds
    candidate = f"{head}{fraction}{zone}"
    try:
        datetime.fromisoformat(candidate.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return candidate


# ---- building ----------------------------------------------------------------------------------

def message(
    role: str, text: str | None, *, id: Any = None, sent_at: Any = None,
    attachments: list[dict[str, Any]] | None = None, **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {"role": role, "text": clip(text)}
    if opt_str(id):
        data["id"] = clip(opt_str(id), 200)
    if iso(sent_at):
        data["sent_at"] = iso(sent_at)
    if attachments:
        data["attachments"] = attachments[:50]
    data.update({k: v for k, v in extra.items() if v not in (None, [], {})})
    return data


def file_kind(content_type: str | None, name: str | None = None) -> str:
    ctype = (content_type or "").lower()
    if ctype.startswith("image/") or ctype == "image":
        return "screenshot"
    if ctype.startswith("video/") or ctype == "video":
        return "video"
    if (name or "").lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".webp")):
        return "screenshot"
    return "document" if ctype else "other"


def attachment(url: Any, name: Any = None, content_type: Any = None, size: Any = None) -> dict[str, Any] | None:
    if not opt_str(url):
        return None
    data: dict[str, Any] = {"url": clip(opt_str(url), 2000), "kind": file_kind(opt_str(content_type), opt_str(name))}
    if opt_str(name):
        data["name"] = clip(opt_str(name), 255)
    if opt_str(content_type):
        data["content_type"] = clip(opt_str(content_type), 100)
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        data["size_bytes"] = size
    return data


def evidence_from(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any] | None:
    """Screenshots and files found in the transcript, plus whatever else the payload told us."""
    screenshots: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for item in messages:
        for att in item.get("attachments", []):
            (screenshots if att.get("kind") == "screenshot" else files).append(att)
    data = {k: v for k, v in extra.items() if v not in (None, [], {})}
    if screenshots:
        data["screenshots"] = screenshots[:20]
    if files:
        data["files"] = files[:20]
    return data or None


def trim_transcript(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Very long transcripts keep their most recent messages (the ones that led to the handoff)."""
    return messages[-MAX_MESSAGES:]


def drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


# ---- fetching ----------------------------------------------------------------------------------

def base_url(env_name: str, configured: str, default: str) -> str:
    """``configured`` (the value of ``env_name``) or ``default``, checked as a vendor endpoint."""
    url = (configured or default).rstrip("/")
    try:
        return check_vendor_url(env_name, url)
    except ConfigError as exc:
        raise FetchFailed(str(exc)) from None


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # never env proxies or .netrc credentials
    s.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return s


def get_json(
    http: requests.Session, url: str, *, params: Any = None, headers: Mapping[str, str] | None = None,
    auth: Any = None,
) -> Any:
    """GET one JSON document; transient failures raise ``RetryableError``, the rest ``FetchFailed``."""
    try:
        response = http.get(url, params=params, headers=dict(headers or {}), auth=auth, timeout=TIMEOUT,
                            allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RetryableError(f"transcript fetch: {type(exc).__name__}") from None
    except requests.RequestException as exc:
        raise FetchFailed(f"transcript fetch: {type(exc).__name__}") from None
    status = response.status_code
    if status == 429 or status >= 500:
        retry_after = opt_float(response.headers.get("Retry-After"))
        raise RetryableError(f"transcript fetch: HTTP {status}", retry_after=retry_after)
    if status != 200:
        raise FetchFailed(f"transcript fetch: HTTP {status}")
    try:
        return response.json()
    except ValueError:
        raise FetchFailed("transcript fetch: the answer is not JSON") from None


def get_dict(http: requests.Session, url: str, params: Any = None) -> dict[str, Any]:
    """GET one JSON object, raising ``requests`` errors as they come (for fetchers that catch them)."""
    response = http.get(url, params=params, timeout=TIMEOUT, allow_redirects=False)
    response.raise_for_status()
    body = response.json()
    return body if isinstance(body, dict) else {}


def mark_partial(event: Any, reason: str, url: str | None = None) -> Any:
    """The event as it is, flagged so the package says the transcript is partial (and links to it)."""
    customer = event.customer or Customer()
    attributes = {**customer.attributes, "transcript_partial": True, "transcript_error": reason[:300]}
    conversation = event.conversation
    if url and not conversation.url:
        conversation = conversation.model_copy(update={"url": url})
    return event.model_copy(update={
        "customer": customer.model_copy(update={"attributes": attributes}),
        "conversation": conversation,
    })


# ---- identity carried in parameters ----------------------------------------------------------------

# Bots that have no user object keep what they learned about the customer in free-form parameters
# (Dialogflow CX session and form parameters, Lex slots and session attributes, Rasa slots, Ada
# metadata), under names the bot's author chose: ``email``, ``customer-email``, ``userEmail``,
# ``Email Address``… Names are compared with case, ``-``, ``_`` and spaces removed.
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[A-Za-z]{2,}$")
_IDENTITY_NAMES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "customeremail", "useremail", "contactemail", "clientemail", "mail"),
    "name": ("customername", "name", "username", "fullname", "contactname", "clientname", "displayname",
             "person"),
    "phone": ("phone", "phonenumber", "customerphone", "userphone", "mobile", "mobilenumber", "telephone"),
    "id": ("customerid", "userid", "contactid", "clientid", "externalid", "externaluserid"),
}


def _flat_name(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def param_value(value: Any) -> str | None:
    """A parameter's value as text: plain, or the shapes platforms wrap one in (Dialogflow's
    ``@sys.person`` ``{"name": …}``, Lex's ``{"value": {"interpretedValue": …}}``, ``{"resolvedValue": …}``)."""
    if isinstance(value, dict):
        for key in ("interpretedValue", "resolvedValue", "originalValue", "value", "name", "original"):
            if (found := param_value(value.get(key))) is not None:
                return found
        return None
    if isinstance(value, list) and len(value) == 1:
        return param_value(value[0])
    return opt_str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def identity_from_params(*sources: Any) -> dict[str, str]:
    """``{"email", "name", "phone", "id"}`` found in parameter mappings, the first source winning.

    A known name wins; failing that, the first value shaped like an e-mail address is the e-mail
    (an ``@sys.email`` parameter may be called anything). An e-mail must look like one.
    """
    found: dict[str, str] = {}
    for source in sources:
        if not isinstance(source, Mapping):
            continue
        flat = {_flat_name(k): val for k, val in source.items()}
        for fact, names in _IDENTITY_NAMES.items():
            if fact in found:
                continue
            for name in names:
                text = param_value(flat.get(name))
                if text and (fact != "email" or _EMAIL.match(text)):
                    found[fact] = text[:320 if fact == "email" else 200]
                    break
    if "email" not in found:
        for source in sources:
            for val in (source.values() if isinstance(source, Mapping) else []):
                text = param_value(val)
                if text and _EMAIL.match(text):
                    found["email"] = text[:320]
                    break
            if "email" in found:
                break
    return found


# ---- turns that are not plain text -------------------------------------------------------------

def ssml_text(value: Any) -> str:
    """A voice turn's SSML (``<speak>…</speak>``) as the words said."""
    if not isinstance(value, str):
        return ""
    return " ".join(html.unescape(_TAGS.sub(" ", value)).split())


_CARD_TEXT_KEYS = ("title", "subtitle", "text", "speak")


def card_text(content: Any, depth: int = 0) -> str:
    """The words of a rich message (hero/thumbnail cards, adaptive cards' ``TextBlock``s, button titles):
    what the customer read, in order, without the layout."""
    if depth > 8:
        return ""
    words: list[str] = []
    if isinstance(content, list):
        words = [card_text(item, depth + 1) for item in content]
    elif isinstance(content, dict):
        words = [ssml_text(content[k]) if k == "speak" else (opt_str(content[k]) or "")
                 for k in _CARD_TEXT_KEYS if isinstance(content.get(k), str)]
        for key in ("body", "items", "columns", "buttons", "actions", "elements", "facts"):
            words.append(card_text(content.get(key), depth + 1))
    return " ".join(w for w in words if w).strip()
