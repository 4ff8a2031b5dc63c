"""A local OpenAI-compatible server for tests: records what it receives, answers what the test queues.

The openai client speaks HTTP through httpx, so ``responses`` cannot intercept it; the stub is a real
``http.server`` on 127.0.0.1. ``Reply.hook`` runs in the server thread before the answer is sent (to
look at the world while the client waits); what it raises is kept in ``Stub.errors``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant message content
    raw: bytes | None = None  # or a raw HTTP body
    delay: float = 0.0
    hook: Callable[[], None] | None = None


@dataclass
class Stub:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def answer(self, **fields: Any) -> None:
        self.replies.append(Reply(content=json.dumps(fields)))


def completion(content: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "stub-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content, "refusal": None}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


@contextmanager
def running_stub() -> Iterator[Stub]:
    state = Stub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
            reply = state.replies.pop(0) if state.replies else Reply(status=500, raw=b'{"error":"no reply"}')
            if reply.hook:
                try:
                    reply.hook()
                except BaseException as exc:  # noqa: BLE001 - reported to the test, not to the client
                    state.errors.append(exc)
            time.sleep(reply.delay)
            payload = reply.raw if reply.raw is not None else completion(reply.content or "")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
