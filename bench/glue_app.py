"""BASELINE, NOT THE BRIDGE: the naive "glue" integration people write today.

One Flask view that verifies the webhook and then calls Zendesk, Jira and Slack inline, inside the
request, one after another; any vendor error becomes a 5xx to the sender and nothing is stored or
retried. It exists only so ``bench/run`` can compare ack latency and lost events against it.
Vendors: GLUE_VENDOR_URL (the bench stub: Zendesk /api/v2, Jira /rest/api/2, Slack /api).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

import requests
from flask import Flask, abort, request

app = Flask(__name__)
VENDOR = os.environ.get("GLUE_VENDOR_URL", "http://127.0.0.1:9")
KEY = base64.b64decode(os.environ["GENERIC_WEBHOOK_SECRET"].removeprefix("whsec_"))
session = requests.Session()


@app.post("/webhooks/generic")
def webhook() -> tuple[dict[str, object], int]:
    body = request.get_data()
    signed = f"{request.headers.get('webhook-id')}.{request.headers.get('webhook-timestamp')}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, request.headers.get("webhook-signature", "")):
        abort(401)
    event = json.loads(body)
    conv = event["conversation"]
    transcript = "\n".join(f"{m['role']}: {m['text']}" for m in conv["messages"])
    customer = event.get("customer") or {}
    ticket = session.post(f"{VENDOR}/api/v2/tickets.json", timeout=10, auth=("bench@example.com/token", "x"), json={
        "ticket": {"subject": "Chatbot handoff", "comment": {"body": transcript, "public": False},
                   "requester": {"email": customer.get("email"), "name": customer.get("name")},
                   "external_id": conv["id"]}})
    ticket.raise_for_status()
    ticket_id = ticket.json()["ticket"]["id"]
    session.post(f"{VENDOR}/rest/api/2/issue", timeout=10, auth=("bench@example.com", "x"), json={
        "fields": {"project": {"key": "BUG"}, "summary": "Chatbot handoff", "issuetype": {"name": "Bug"},
                   "description": f"Zendesk ticket {ticket_id}\n{transcript}"}}).raise_for_status()
    session.post(f"{VENDOR}/api/chat.postMessage", timeout=10, headers={"Authorization": "Bearer xoxb-bench"}, json={
        "channel": "#support", "text": f"Handoff: ticket {ticket_id}",
        "metadata": {"event_type": "bridge_case", "event_payload": {"case_id": conv["id"]}}}).raise_for_status()
    return {"ok": True, "ticket": ticket_id}, 200
