"""Shared helpers for the adapter tests: fixtures by relative path, a frozen-clock Inbound, a local stub
HTTP server for the transcript fetchers, and an app + runtime with the platform's secret configured.

The fixtures are the tests' own copies in ``tests/adapters/fixtures/<slug>/``; ``load`` reads any
fixture folder (the extras read the shared set through it too)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from bridge import create_app
from bridge.adapters.base import Inbound
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_names(slug: str, root: Path = FIXTURES) -> set[str]:
    return {p.name[: -len(".json")] for p in (root / slug).glob("*.json") if not p.name.endswith(".meta.json")}


def load(slug: str, name: str, root: Path = FIXTURES) -> tuple[bytes, dict[str, Any]]:
    folder = root / slug
    return (folder / f"{name}.json").read_bytes(), json.loads((folder / f"{name}.meta.json").read_text())


def headers_of(meta: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (meta.get("headers") or {}).items()}


def inbound(body: bytes, headers: dict[str, str] | None = None, now: float = 0.0,
            query: dict[str, str] | None = None) -> Inbound:
    return Inbound(body=body, headers={k.lower(): v for k, v in (headers or {}).items()}, query=query or {}, now=now)


class Stub:
    """A loopback HTTP server answering GETs from ``routes[path](query) -> (status, json)``."""

    def __init__(self, routes: dict[str, Callable[[dict[str, list[str]]], tuple[int, Any]]]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                stub.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers.items())})
                route = stub.routes.get(parts.path)
                status, payload = route(query) if route else (404, {"error": "not found"})
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def app_for(settings: Settings, slug: str, secrets: tuple[str, ...], **extra: str) -> tuple[Runtime, FlaskClient]:
    configured = settings.with_overrides(
        webhook_secrets={**settings.webhook_secrets, slug: secrets}, extra={**settings.extra, **extra})
    rt = install(Runtime.build(configured))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def ticket(rt: Runtime, case_id: str) -> dict[str, Any]:
    path = rt.settings.outbox_dir / case_id / "zendesk.ticket.json"
    assert path.exists(), f"no dry-run ticket at {path}"
    return json.loads(path.read_text())


def spec(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]
