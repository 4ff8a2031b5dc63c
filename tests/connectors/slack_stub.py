"""A local Slack Web API stub: records every call, keeps posted messages, fails on demand."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SlackStub:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self.lock = threading.Lock()
        self.ts = 1_700_000_000
        self.users: dict[str, str] = {}  # users.info: id → display name

    def fail(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None,
             times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([(status, body, headers or {})] * times)

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def handle(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.calls.append((method, args))
            queued = self.failures.get(method)
            if queued:
                return queued.pop(0)
            if method == "chat.postMessage":
                self.ts += 1
                channel = str(args["channel"])
                channel = "C" + channel.lstrip("#").upper() if channel.startswith("#") else channel
                message = {"ts": f"{self.ts}.000100", "text": args.get("text"), "metadata": args.get("metadata")}
                self.messages.setdefault(channel, []).append(message)
                return 200, {"ok": True, "channel": channel, "ts": message["ts"]}, {}
            if method == "chat.update":
                return 200, {"ok": True, "channel": args["channel"], "ts": args["ts"]}, {}
            if method == "conversations.history":
                return 200, {"ok": True, "messages": list(reversed(self.messages.get(args["channel"], [])))}, {}
            if method == "chat.postEphemeral":
                return 200, {"ok": True, "message_ts": "1.2"}, {}
            if method == "conversations.list":
                channels = [{"id": key, "name": key[1:].lower()} for key in self.messages if key.startswith("C")]
                return 200, {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}, {}
            if method == "users.info":
                name = self.users.get(str(args.get("user")))
                if name is None:
                    return 200, {"ok": False, "error": "user_not_found"}, {}
                return 200, {"ok": True, "user": {"id": args.get("user"), "profile": {"display_name": name}}}, {}
            return 200, {"ok": False, "error": "unknown_method"}, {}


def _args(handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
    kind = handler.headers.get("Content-Type", "")
    if "json" in kind:
        return json.loads(body or b"{}")
    parsed = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    for key in ("blocks", "metadata"):
        if isinstance(parsed.get(key), str):
            parsed[key] = json.loads(parsed[key])
    return parsed


@contextmanager
def slack_stub() -> Iterator[tuple[SlackStub, str]]:
    stub = SlackStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            args = _args(self, body)
            args.update({k: v[0] for k, v in parse_qs(self.path.partition("?")[2]).items()})
            status, answer, headers = stub.handle(self.path.split("?")[0].strip("/").split("/")[-1], args)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield stub, f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
