"""The adapter test base, modelled on Zulip's ``WebhookTestCase``.

A platform's test module declares one ``WebhookCase``: its slug, the secret the tests sign with, and
how the platform authenticates a delivery (``sign``: body and secret → headers and query). The case
then loads fixtures by name from ``tests/adapters/fixtures/<slug>/``, parses them (or any body)
through the registry's adapter, and posts them, signed the platform's way, through the real Flask
app. Every parse through the case also checks that each event it yields is of a type the adapter
declares in ``emits``; ``test_emits.py`` runs the same check over every fixture of every adapter.

Zulip's names, for orientation: ``WEBHOOK_DIR_NAME`` is ``slug``, ``get_body`` is ``body``,
``check_webhook`` is ``check_webhook`` (it asserts the answer's status and returns the response;
the test asserts on the events, the answer or the outbox it cares about).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.adapters import ADAPTERS
from bridge.adapters.base import Adapter, Inbound
from bridge.config import Settings
from bridge.events import Event
from tests.adapters import support

Credentials = tuple[dict[str, str], dict[str, str]]  # headers, query
# How a platform authenticates ``body`` with ``secret``; keyword options are the platform's own
# (a timestamp, a message id, a delivery id).
Signer = Callable[..., Credentials]
Body = str | bytes | Mapping[str, Any] | list[Any]


def unsigned(body: bytes, secret: str, **options: Any) -> Credentials:
    return {}, {}


@dataclass(frozen=True)
class WebhookCase:
    slug: str
    secret: str = ""  # what ``post`` signs with unless told otherwise
    sign: Signer = unsigned
    secrets: tuple[str, ...] = ()  # configured on the app by ``app``; default: (secret,)

    # ---- fixtures ------------------------------------------------------------------------------

    @property
    def adapter(self) -> Adapter:
        return ADAPTERS[self.slug]

    @property
    def url(self) -> str:
        return f"/webhooks/{self.slug}"

    def fixture_names(self) -> set[str]:
        return support.fixture_names(self.slug)

    def load(self, name: str) -> tuple[bytes, dict[str, Any]]:
        """A fixture's exact bytes and its meta file."""
        return support.load(self.slug, name)

    def body(self, name: str) -> bytes:
        return self.load(name)[0]

    def meta(self, name: str) -> dict[str, Any]:
        return self.load(name)[1]

    def data(self, name: str) -> Any:
        """A fixture's body decoded, to change a field of and parse again."""
        return json.loads(self.body(name))

    def headers(self, name: str) -> dict[str, str]:
        """The headers the fixture was delivered with (lower-cased)."""
        return support.headers_of(self.meta(name))

    # ---- parsing -------------------------------------------------------------------------------

    def inbound(self, body: Body, headers: Mapping[str, str] | None = None, *, query: Mapping[str, str] | None = None,
                now: float = 0.0) -> Inbound:
        """A delivery of ``body``: a fixture name comes with its recorded headers and query unless
        they are given; bytes go as they are; anything else is encoded as JSON."""
        if isinstance(body, str):
            raw, meta = self.load(body)
            recorded_query = (meta.get("transport") or {}).get("query") or {}
            return support.inbound(raw, dict(support.headers_of(meta) if headers is None else headers), now,
                                   dict(recorded_query if query is None else query))
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return support.inbound(raw, dict(headers or {}), now, dict(query or {}))

    def parse(self, body: Body, headers: Mapping[str, str] | None = None, *, query: Mapping[str, str] | None = None,
              now: float = 0.0) -> list[Event]:
        """The adapter's events for ``body`` (see ``inbound``), each checked against ``emits``."""
        events = self.adapter.parse(self.inbound(body, headers, query=query, now=now))
        undeclared = [e.type for e in events if e.type not in self.adapter.emits]
        assert not undeclared, f"{self.slug} emitted {undeclared}, not in its emits {sorted(self.adapter.emits)}"
        return events

    def parse_one(self, body: Body, headers: Mapping[str, str] | None = None, *,
                  query: Mapping[str, str] | None = None, now: float = 0.0) -> Event:
        [event] = self.parse(body, headers, query=query, now=now)
        return event

    def parse_fixture(self, name: str) -> tuple[list[Event], dict[str, Any]]:
        """A fixture parsed as delivered, with its meta file (for its ``expected`` facts)."""
        return self.parse(name), self.meta(name)

    def verify(self, body: Body, headers: Mapping[str, str] | None = None, secrets: tuple[str, ...] | list[str] = (),
               *, query: Mapping[str, str] | None = None, now: float = 0.0, tolerance: int = 300) -> None:
        """The adapter's verdict on a delivery (raises ``Unauthorized``); secrets default to the case's."""
        request = self.inbound(body, headers, query=query, now=now)
        self.adapter.verify(request, list(secrets or self.secrets or (self.secret,)), tolerance)

    # ---- HTTP through the real app -------------------------------------------------------------

    def app(self, settings: Settings, secrets: tuple[str, ...] | None = None,
            **extra: str) -> tuple[support.Runtime, FlaskClient]:
        """A migrated app + runtime with the platform's secrets (and ``extra`` settings) configured."""
        return support.app_for(settings, self.slug, secrets or self.secrets or (self.secret,), **extra)

    def post(self, client: FlaskClient, body: Body, secret: str | None = None, *,
             headers: Mapping[str, str] | None = None, query: Mapping[str, str] | None = None,
             **options: Any) -> TestResponse:
        """POST ``body`` (a fixture name, bytes or JSON) to the platform's URL, authenticated the
        platform's way with ``secret`` (the case's by default). ``headers`` and ``query`` are added
        to (and win over) the signed ones; ``options`` go to the signer."""
        raw = self.body(body) if isinstance(body, str) else self.inbound(body).body
        signed_headers, signed_query = self.sign(raw, self.secret if secret is None else secret, **options)
        sent: dict[str, str] = {}
        for given in ({"Content-Type": "application/json"}, signed_headers, headers or {}):
            sent |= {name.lower(): value for name, value in given.items()}  # HTTP names are case-blind
        return client.post(self.url, data=raw, headers=sent, query_string={**signed_query, **(query or {})})

    def post_as_recorded(self, client: FlaskClient, name: str, *, headers: Mapping[str, str] | None = None,
                         query: Mapping[str, str] | None = None) -> TestResponse:
        """POST a fixture with the headers and query it was recorded with (its own credentials)."""
        raw, meta = self.load(name)
        recorded_query = (meta.get("transport") or {}).get("query") or {}
        sent = {**support.headers_of(meta), **(headers or {})}
        return client.post(self.url, data=raw, headers=sent, query_string={**recorded_query, **(query or {})})

    def check_webhook(self, client: FlaskClient, body: Body, status: int = 202, secret: str | None = None,
                      **options: Any) -> TestResponse:
        """``post`` and assert the answer's status (the answer's text is the failure message)."""
        response = self.post(client, body, secret, **options)
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
        return response
