"""Recording stub vendors on one loopback port: Zendesk (/api/v2), Jira (/rest/api/2), Slack (/api).

They answer instantly or after ``delay`` seconds, or fail (503) for the vendors listed in ``fail``,
and count every request per vendor and endpoint. Control (bench only):
  POST /_bench/config {"delay": 0.3, "fail": ["zendesk"]}   POST /_bench/reset
  GET  /_bench/stats                                        GET  /_bench/wait?ticket=<external id>&timeout=10
Run: python -m bench.stubs PORT
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STATE: dict = {}
LOCK = threading.Condition()


def reset() -> None:
    with LOCK:
        STATE.update(delay=0.0, fail=[], calls={}, tickets={}, slack={}, jira=0, next_id=1000)


def vendor_of(path: str) -> str:
    if path.startswith("/api/v2/"):
        return "zendesk"
    if path.startswith("/rest/api/"):
        return "jira"
    return "slack"


def endpoint(method: str, path: str) -> str:
    return f"{method} " + re.sub(r"/\d+", "/{id}", path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; on a kept-alive connection Nagle then holds the body
    # until the client's delayed ACK (40 ms on Linux), which a real vendor's server does not cost.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, doc: object) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if parts.path.startswith("/_bench/"):
            return self._control(parts, raw)
        vendor = vendor_of(parts.path)
        with LOCK:
            key = f"{vendor} {endpoint(method, parts.path)}"
            STATE["calls"][key] = STATE["calls"].get(key, 0) + 1
            delay, failing = STATE["delay"], vendor in STATE["fail"]
        if delay:
            time.sleep(delay)
        if failing:
            return self._send(503, {"error": "Unavailable"})
        body = json.loads(raw) if raw else {}
        query = parse_qs(parts.query)
        if vendor == "zendesk":
            return self._zendesk(method, parts.path, body, query)
        if vendor == "jira":
            with LOCK:
                STATE["jira"] += 1
                n = STATE["jira"]
            return self._send(201, {"id": str(10000 + n), "key": f"BUG-{n}", "self": f"/rest/api/2/issue/{n}"})
        if parts.path.endswith("chat.postMessage"):
            case = ((body.get("metadata") or {}).get("event_payload") or {}).get("case_id")
            with LOCK:
                STATE["slack"].setdefault(str(case), time.time())
                LOCK.notify_all()
            return self._send(200, {"ok": True, "channel": "C0BENCH", "ts": f"{time.time():.6f}"})
        return self._send(200, {"ok": True})

    def _zendesk(self, method: str, path: str, body: dict, query: dict) -> None:
        if path == "/api/v2/tickets.json" and method == "GET":
            ext = (query.get("external_id") or [""])[0]
            with LOCK:
                found = STATE["tickets"].get(ext)
            tickets = [{"id": found[0], "external_id": ext}] if found else []
            return self._send(200, {"tickets": tickets, "next_page": None, "previous_page": None,
                                    "count": len(tickets)})
        if path == "/api/v2/tickets.json" and method == "POST":
            ticket = body.get("ticket") or {}
            ext = str(ticket.get("external_id"))
            with LOCK:
                if ext not in STATE["tickets"]:
                    STATE["next_id"] += 1
                    STATE["tickets"][ext] = (STATE["next_id"], time.time(), 1)
                else:  # a duplicate create: counted, so the bench can report it
                    tid, t, n = STATE["tickets"][ext]
                    STATE["tickets"][ext] = (tid, t, n + 1)
                tid = STATE["tickets"][ext][0]
                LOCK.notify_all()
            return self._send(201, {"ticket": {"id": tid, "external_id": ext, "subject": ticket.get("subject")}})
        if path.endswith("/create_or_update.json"):
            user = body.get("user") or {}
            return self._send(200, {"user": {"id": 7, "email": user.get("email"), "name": user.get("name")}})
        if path.endswith("/comments.json"):
            return self._send(200, {"comments": [], "next_page": None, "previous_page": None, "count": 0})
        if path.endswith("/uploads.json"):
            return self._send(201, {"upload": {"token": "tok", "attachments": []}})
        return self._send(200, {"ticket": {"id": 1}})

    def _control(self, parts, raw: bytes) -> None:  # type: ignore[no-untyped-def]
        if parts.path == "/_bench/reset":
            reset()
            return self._send(200, {"ok": True})
        if parts.path == "/_bench/config":
            with LOCK:
                STATE.update(json.loads(raw or b"{}"))
            return self._send(200, {"ok": True})
        if parts.path == "/_bench/stats":
            with LOCK:
                doc = {"calls": dict(STATE["calls"]), "tickets": len(STATE["tickets"]),
                       "duplicate_creates": sum(n - 1 for _, _, n in STATE["tickets"].values()),
                       "slack_posts": len(STATE["slack"]), "jira_issues": STATE["jira"],
                       "tickets_by_prefix": {}}
                for ext in STATE["tickets"]:
                    doc["tickets_by_prefix"][ext[:2]] = doc["tickets_by_prefix"].get(ext[:2], 0) + 1
            return self._send(200, doc)
        if parts.path == "/_bench/wait":
            q = parse_qs(parts.query)
            deadline = time.time() + float((q.get("timeout") or ["10"])[0])
            ticket, slack = (q.get("ticket") or [None])[0], (q.get("slack") or [None])[0]
            with LOCK:
                while True:
                    t = STATE["tickets"].get(ticket)[1] if ticket and ticket in STATE["tickets"] else None
                    s = STATE["slack"].get(slack) if slack else None
                    if (not ticket or t) and (not slack or s):
                        return self._send(200, {"ticket_at": t, "slack_at": s})
                    left = deadline - time.time()
                    if left <= 0:
                        return self._send(408, {"ticket_at": t, "slack_at": s})
                    LOCK.wait(left)
        return self._send(404, {})


def main() -> None:
    reset()
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.serve_forever()


if __name__ == "__main__":
    main()
