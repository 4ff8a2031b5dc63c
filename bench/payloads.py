"""Deterministic, signed generic webhooks (Standard Webhooks) for the load generator.

Every request carries a unique ``event_id`` and conversation id (a repeat would be a cheaper
duplicate path: 200, no store, no enqueue), so the pools are pre-built and pre-signed: fixed-size
records (8-byte length + raw HTTP/1.1 request + padding) that ``req.lua`` can seek into, so each
wrk run uses its own unused slice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

SECRET = "whsec_" + base64.b64encode(b"recovery-bridge-benchmark-secret").decode()
_KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
_EVT = "EVTPLACEHOLDER000000000"  # fixed width: substitution keeps the body length constant
_CONV = "CONVPLACEHOLDER00000000"

LINES = [
    ("customer", "Hi, my export to CSV keeps failing with error E-4012 since this morning."),
    ("bot", "Sorry about that! Could you try clearing the cache and exporting again? See our article on exports."),
    ("customer",
     "Tried that twice, still failing. Also the invoice for March looks wrong — déjà vu from last month 😤"),
    ("bot", "I understand. Here is how invoices are calculated: usage is billed monthly in arrears."),
    ("customer", "That doesn't answer my question. The amount is doubled. Zürich office can't close the books."),
    ("bot", "I'm not fully sure about that. Let me look for more information on billing adjustments."),
]


def event_template(target_bytes: int, tag: str) -> bytes:
    """A handoff.requested event of about ``target_bytes`` with placeholder ids."""
    messages: list[dict[str, object]] = []
    event: dict[str, object] = {
        "schema_version": 1,
        "event_id": _EVT,
        "type": "handoff.requested",
        "occurred_at": "2026-11-28T10:00:00Z",
        "bot": {"platform": "bench-bot", "name": "Benchmark bot"},
        "conversation": {"id": _CONV, "channel": "web_chat", "language": "en", "messages": messages},
        "customer": {"id": "cust-1", "email": "ana.bench@example.com", "name": "Ana Bench", "plan": "business"},
        "handoff": {"requested_by": "customer", "reason": f"Customer asked for a person ({tag})"},
    }
    i = 0
    while len(json.dumps(event, ensure_ascii=False).encode()) < target_bytes:
        role, text = LINES[i % len(LINES)]
        messages.append({"id": f"m{i}", "role": role, "text": f"{text} [{i}]", "sent_at": "2026-11-28T09:59:00Z"})
        i += 1
    messages.append({"id": "last", "role": "customer", "text": "Can I talk to a human please?"})
    return json.dumps(event, ensure_ascii=False).encode()


def sign(body: bytes, msg_id: str, ts: int) -> str:
    digest = hmac.new(_KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def body_for(template: bytes, idx: int, prefix: str) -> bytes:
    evt = f"{prefix}{idx:0{len(_EVT) - len(prefix)}d}"
    return template.replace(_EVT.encode(), evt.encode()).replace(_CONV.encode(), ("c" + evt[1:]).encode())


def signed_headers(body: bytes, idx: int, prefix: str, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    mid = f"msg_{prefix}{idx}"
    return {"Content-Type": "application/json", "webhook-id": mid, "webhook-timestamp": str(ts),
            "webhook-signature": sign(body, mid, ts)}


def raw_request(body: bytes, headers: dict[str, str], path: str = "/webhooks/generic") -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def write_pool(path: Path, target_bytes: int, count: int, prefix: str) -> tuple[int, int]:
    """Write ``count`` signed requests; returns (record size, body size)."""
    template = event_template(target_bytes, prefix)
    ts = int(time.time())
    first = raw_request(body_for(template, 0, prefix), signed_headers(body_for(template, 0, prefix), 0, prefix, ts))
    record = len(first) + 64 + 8
    with path.open("wb") as out:
        for i in range(count):
            body = body_for(template, i, prefix)
            req = raw_request(body, signed_headers(body, i, prefix, ts))
            out.write(b"%08d" % len(req) + req + b" " * (record - 8 - len(req)))
    return record, len(template)
