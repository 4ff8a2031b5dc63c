"""Recording, programmable vendor stubs (Zendesk, Slack) that run as threads in the test process.

Every call is recorded. Each operation (``tickets.create``, ``chat.postMessage``, …) answers
normally unless a test programmed it: a queue of one-shot ``Act`` answers, consumed in order, then
an optional ``always`` answer (a vendor that stays down until the test says it recovered).

An ``Act`` can answer a status with headers (429 + Retry-After, 5xx), delay the answer, hang
(never answer; the connection is closed when the hang ends or the stub stops), answer a garbage
200, or "commit then drop": perform the effect, then reset the connection without answering.
``on_commit`` runs after the effect and before the answer, e.g. to ``kill -9`` the caller.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Act:
    status: int = 0  # 0: the normal answer of the operation
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (after the effect, if any)
    hang: float = 0.0  # seconds to hold the connection without answering, then drop it (no effect)
    garbage: bool = False  # perform the effect, then answer 200 with an HTML page
    drop_after_commit: bool = False  # perform the effect, then reset the connection
    on_commit: Callable[[Any], None] | None = None  # called with the request handler after the effect
    answer: dict[str, Any] | None = None  # answer this body (with ``status`` or 200) without any effect

    @property
    def commits(self) -> bool:
        return not self.hang and self.answer is None and (self.status == 0 or 200 <= self.status < 300)


@dataclass
class Call:
    op: str
    at: float
    peer_port: int
    args: dict[str, Any]
    answered: str  # "ok", "status 429", "dropped", "hung", "garbage"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class VendorStub:
    """Base: an HTTP server on a free loopback port, a call log and the programmable answers."""

    name = "vendor"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.queued: dict[str, list[Act]] = {}
        self.always: dict[str, Act] = {}
        self.stopping = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                stub._dispatch(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                stub._dispatch(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                stub._dispatch(self, "PUT")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"{self.name}-stub", daemon=True)

    # --- programming -----------------------------------------------------------------------
    def program(self, op: str, *acts: Act) -> None:
        with self.lock:
            self.queued.setdefault(op, []).extend(acts)

    def down(self, op: str, act: Act) -> None:
        """Answer ``act`` to every call of ``op`` until ``recover(op)``."""
        with self.lock:
            self.always[op] = act

    def recover(self, op: str | None = None) -> None:
        with self.lock:
            if op is None:
                self.always.clear()
                self.queued.clear()
            else:
                self.always.pop(op, None)
                self.queued.pop(op, None)

    def _next_act(self, op: str) -> Act:
        with self.lock:
            queue = self.queued.get(op)
            if queue:
                return queue.pop(0)
            return self.always.get(op) or Act()

    def count(self, op: str) -> int:
        with self.lock:
            return sum(1 for c in self.calls if c.op == op)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> VendorStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    # --- request handling ------------------------------------------------------------------
    def route(self, method: str, path: str) -> str:
        raise NotImplementedError

    def perform(self, op: str, args: dict[str, Any], path: str) -> tuple[int, Any]:
        raise NotImplementedError

    def parse_args(self, handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        kind = handler.headers.get("Content-Type", "")
        args: dict[str, Any] = {}
        if body and "json" in kind:
            try:
                args = json.loads(body)
            except ValueError:
                args = {}
        elif body:
            args = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            for key in ("blocks", "metadata"):
                if isinstance(args.get(key), str):
                    with contextlib.suppress(ValueError):
                        args[key] = json.loads(args[key])
        return {**query, **args}

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = urlsplit(handler.path).path
        op = self.route(method, path)
        args = self.parse_args(handler, body)
        if handler.headers.get("Idempotency-Key"):
            args["_idempotency_key"] = handler.headers["Idempotency-Key"]
        act = self._next_act(op)
        peer = int(handler.client_address[1])
        record = Call(op=op, at=time.time(), peer_port=peer, args=args, answered="ok")
        with self.lock:
            self.calls.append(record)
        if act.hang:
            record.answered = "hung"
            self.stopping.wait(act.hang)
            _reset(handler)
            return
        if not act.commits:
            status = act.status or 200
            record.answered = f"status {status}" + (f" {act.answer}" if act.answer else "")
            if act.delay:
                self.stopping.wait(act.delay)
            self._answer(handler, status, act.answer or {"error": f"stub {status}"}, act.headers)
            return
        status, answer = self.perform(op, args, path)
        if act.on_commit is not None:
            act.on_commit(handler)
        if act.delay:
            self.stopping.wait(act.delay)
        if act.drop_after_commit:
            record.answered = "dropped"
            _reset(handler)
            return
        if act.garbage:
            record.answered = "garbage"
            self._raw(handler, 200, b"<html><body>502 Bad Gateway (upstream)</body></html>", "text/html", {})
            return
        self._answer(handler, act.status or status, answer, act.headers)

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, answer: Any, headers: dict[str, str]) -> None:
        self._raw(handler, status, json.dumps(answer).encode(), "application/json", headers)

    @staticmethod
    def _raw(handler: BaseHTTPRequestHandler, status: int, data: bytes, kind: str, headers: dict[str, str]) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the caller is gone (e.g. killed by the test)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP reset, without answering."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
    except OSError:
        pass


class ZendeskStub(VendorStub):
    """The Zendesk endpoints the live connector calls; tickets keyed by their external_id.

    Each ticket keeps its audits as Zendesk lists them (``GET tickets/{id}/audits``, cursor
    pagination with opaque base64 cursors, pages of at most ``audit_page_size``): the API user's
    creation and notes are logged as the connector makes them; ``add_audit`` writes what people did
    in Zendesk. ``users`` holds roles for the author lookup (anyone else is an end user)."""

    name = "zendesk"
    API_USER = 777  # the bridge's API user: the author of what the connector does

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[int, str] = {self.API_USER: "agent"}
        self.audit_page_size = 100
        self.idempotency: dict[str, int] = {}  # Idempotency-Key → ticket id (Zendesk keeps keys for hours)
        self.idempotency_hits = 0
        self.next_id = 1000
        self.next_audit = 90_000

    def add_audit(self, ticket_id: int, author: int, events: list[dict[str, Any]], at: datetime | None = None,
                  channel: str = "web") -> int:
        """Log one update of the ticket (events in Zendesk's audit shape); returns the audit id."""
        with self.lock:
            self.next_audit += 10
            ident = self.next_audit
            when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.audits.setdefault(ticket_id, []).append(
                {"id": ident, "ticket_id": ticket_id, "created_at": when, "author_id": author,
                 "via": {"channel": channel}, "metadata": {"system": {}, "custom": {}}, "events": events})
            return ident

    @staticmethod
    def _cursor(index: int) -> str:
        return base64.b64encode(f"after:{index:04d}".encode()).decode()  # ends in '=': must survive the query

    def _audit_page(self, ticket_id: int, args: dict[str, Any]) -> dict[str, Any]:
        audits = self.audits.get(ticket_id, [])
        after = str(args.get("page[after]") or "")
        start = int(base64.b64decode(after).decode().split(":")[1]) if after else 0
        size = min(int(args.get("page[size]") or 100), self.audit_page_size)
        end = min(start + size, len(audits))
        return {"audits": audits[start:end],
                "meta": {"has_more": end < len(audits), "after_cursor": self._cursor(end),
                         "before_cursor": self._cursor(start)},
                "links": {"next": None, "prev": None}}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str) -> str:
        p = path.removeprefix("/api/v2/")
        if p == "tickets.json":
            return "tickets.list" if method == "GET" else "tickets.create"
        if p == "users/create_or_update.json":
            return "users.create_or_update"
        if p == "uploads.json":
            return "uploads"
        if p.endswith("/comments.json"):
            return "tickets.comments"
        if p.endswith("/audits.json"):
            return "tickets.audits"
        if p.startswith("users/") and method == "GET":
            return "users.show"
        if p.startswith("tickets/") and method == "PUT":
            return "tickets.update"
        return f"{method} {p}"

    def perform(self, op: str, args: dict[str, Any], path: str) -> tuple[int, Any]:
        with self.lock:
            if op == "tickets.list":
                found = [t for t in self.tickets.values() if t.get("external_id") == args.get("external_id")]
                return 200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}
            if op == "users.create_or_update":
                user = dict(args.get("user") or {})
                return 200, {"user": {"id": 77, **user}}
            if op == "uploads":
                self.next_id += 1
                return 201, {"upload": {"token": f"tok-{self.next_id}", "attachments": []}}
            if op == "tickets.create":
                key = args.get("_idempotency_key")
                if key and key in self.idempotency:
                    self.idempotency_hits += 1
                    return 201, {"ticket": self.tickets[self.idempotency[key]]}
                self.next_id += 1
                if key:
                    self.idempotency[key] = self.next_id
                ticket = {**(args.get("ticket") or {}), "id": self.next_id}
                if isinstance(ticket.get("requester"), dict):  # as Zendesk: the inline requester becomes a user id
                    ticket["requester_id"] = 77
                    del ticket["requester"]
                comment = ticket.pop("comment", None) or {}
                ticket.pop("_idempotency_key", None)
                self.tickets[self.next_id] = ticket
                self.add_audit(self.next_id, self.API_USER, [
                    {"id": self.next_id * 10, "type": "Comment", "author_id": self.API_USER,
                     "public": bool(comment.get("public")), "body": str(comment.get("body", ""))[:200]},
                    {"id": self.next_id * 10 + 1, "type": "Create", "field_name": "status", "value": "open"}],
                    channel="api")
                return 201, {"ticket": ticket}
            if op == "tickets.audits":
                return 200, self._audit_page(int(path.split("/")[-2]), args)
            if op == "users.show":
                user = int(path.rsplit("/", 1)[-1].removesuffix(".json"))
                return 200, {"user": {"id": user, "role": self.users.get(user, "end-user")}}
            if op == "tickets.comments":
                ticket_id = int(path.split("/")[-2])
                return 200, {"comments": self.comments.get(ticket_id, []), "next_page": None}
            if op == "tickets.update":
                ticket_id = int(path.rsplit("/", 1)[-1].removesuffix(".json"))
                comment = (args.get("ticket") or {}).get("comment")
                if comment:
                    self.next_id += 1
                    self.comments.setdefault(ticket_id, []).append({"id": self.next_id, **comment})
                    self.add_audit(ticket_id, self.API_USER, [
                        {"id": self.next_id, "type": "Comment", "author_id": self.API_USER,
                         "public": bool(comment.get("public")), "body": str(comment.get("body", ""))[:200]}],
                        channel="api")
                return 200, {"ticket": self.tickets.get(ticket_id, {"id": ticket_id})}
            return 404, {"error": "RecordNotFound"}

    def tickets_for(self, external_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [t for t in self.tickets.values() if t.get("external_id") == external_id]

    def external_ids(self) -> list[str]:
        with self.lock:
            return [str(t.get("external_id")) for t in self.tickets.values()]


class SlackStub(VendorStub):
    """The Slack Web API methods the live connector calls; messages keyed by channel id."""

    name = "slack"

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ts = 1_700_000_000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def route(self, method: str, path: str) -> str:
        return path.rstrip("/").rsplit("/", 1)[-1]

    @staticmethod
    def channel_id(channel: str) -> str:
        """Slack answers with the channel id even when the post named ``#channel``."""
        return "C" + channel.lstrip("#").upper().replace("-", "") if channel.startswith("#") else channel

    def perform(self, op: str, args: dict[str, Any], path: str) -> tuple[int, Any]:
        with self.lock:
            if op == "chat.postMessage":
                self.ts += 1
                channel = self.channel_id(str(args.get("channel", "")))
                message = {"ts": f"{self.ts}.000100", "text": args.get("text"), "metadata": args.get("metadata"),
                           "thread_ts": args.get("thread_ts")}
                self.messages.setdefault(channel, []).append(message)
                return 200, {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
            if op == "chat.update":
                return 200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
            if op == "conversations.history":
                found = list(reversed(self.messages.get(str(args.get("channel")), [])))
                return 200, {"ok": True, "messages": found, "has_more": False}
            if op == "chat.postEphemeral":
                return 200, {"ok": True, "message_ts": "1.2"}
            if op == "conversations.list":
                names = {"support", *(str(c)[1:].lower() for c in ("#" + k[1:].lower() for k in self.messages))}
                channels = [{"id": self.channel_id(f"#{name}"), "name": name} for name in sorted(names)]
                return 200, {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
            return 200, {"ok": False, "error": "unknown_method"}

    def posts_with_key(self, key: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for msgs in self.messages.values() for m in msgs
                    if ((m.get("metadata") or {}).get("event_payload") or {}).get("key") == key]

    def all_keys(self) -> list[str]:
        with self.lock:
            return [str(((m.get("metadata") or {}).get("event_payload") or {}).get("key"))
                    for msgs in self.messages.values() for m in msgs]
