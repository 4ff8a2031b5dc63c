"""Suite-wide, for every adapter in the registry: what its fixtures make it do.

- Every event a fixture yields is of a type the adapter declares in ``emits``.
- Every vendor event type the adapter has a handler for is dispatched by at least one fixture, except
  the gaps listed in ``UNCOVERED``: each is a handler no recorded (or documented) vendor payload in
  the repository exercises yet. The list must be exact, so a new handler without a fixture fails here,
  and so does a fixture that closes a gap until its line is removed. A gap is closed with a fixture
  built from the vendor's documented payload, never with an invented shape.
- A fixture that is not an inbound delivery (a golden outbound shape, an API answer) is refused.

The fixtures are the adapters' own (``tests/adapters/fixtures/<slug>/``) and the examples
(``examples/<slug>/``, where the generic format's live).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.adapters import ADAPTERS
from bridge.adapters.base import Adapter, AdapterError, Delivery, Handler, Handshake, UnsupportedEvent
from bridge.events import Event
from tests.adapters.support import FIXTURES, headers_of, inbound

ROOT = Path(__file__).resolve().parents[2]

# Handlers no fixture exercises (tests/adapters/test_<platform>.py covers each with a payload it
# builds from a fixture, but no recorded delivery of that type is in the repository). The fixtures
# here are byte-for-byte copies of the shared set (tests/test_shared_extras.py), so a gap is closed by
# adding the documented payload to the shared set first, then copying it here.
UNCOVERED: dict[str, set[str]] = {
    "ada": {"v1.conversation.ended"},
    "amazon-lex-v2": {"DialogCodeHook"},
    "botframework": {"message"},
    "botpress": {"botSendsMessage", "closeRemoteTicket", "ping"},
    "chatwoot": {"conversation_created", "conversation_updated", "message_updated"},
    "crisp": {"message:received", "session:removed", "session:set_email", "session:set_state"},
    "drift": {"conversation_participant_added", "conversation_status_updated"},
    "freshchat": {"conversation_assignment", "conversation_reopen", "conversation_resolution"},
    "intercom": {"conversation.admin.closed", "conversation.admin.noted", "conversation.admin.open.assigned",
                 "conversation.admin.replied", "conversation.admin.single.created", "conversation.operator.replied",
                 "conversation.user.created"},
    "sunshine-conversations": {"switchboard:acceptControl", "switchboard:offerControl",
                               "switchboard:releaseControl"},
}


@dataclass(frozen=True)
class Fixture:
    slug: str
    path: Path
    meta: Mapping[str, Any]

    @property
    def inbound(self) -> bool:
        # Examples carry no meta file: they are deliveries by definition.
        return not self.meta or str(self.meta.get("direction", "")).lower().startswith("inbound")

    def request(self) -> Any:
        query = (self.meta.get("transport") or {}).get("query") or {}
        return inbound(self.path.read_bytes(), headers_of(dict(self.meta)), query=query)


def fixtures(slug: str) -> list[Fixture]:
    found = []
    for path in sorted((FIXTURES / slug).glob("*.json")):
        if not path.name.endswith(".meta.json"):
            meta = json.loads(path.with_name(path.stem + ".meta.json").read_text())
            found.append(Fixture(slug, path, meta))
    found += [Fixture(slug, path, {}) for path in sorted((ROOT / "examples" / slug).glob("*.json"))]
    return found


def recording(adapter: Adapter) -> tuple[Adapter, list[str]]:
    """A copy of ``adapter`` whose handlers note the vendor event type they were dispatched for."""
    seen: list[str] = []

    def noting(kind: str, handler: Handler) -> Handler:
        def handle(subject: dict[str, Any], delivery: Delivery) -> Event:
            seen.append(kind)
            return handler(subject, delivery)
        return handle

    probe = copy.copy(adapter)
    probe.handlers = {kind: noting(kind, handler) for kind, handler in adapter.handlers.items()}  # type: ignore[misc]
    return probe, seen


def run(adapter: Adapter, fixture: Fixture) -> list[Event]:
    try:
        return adapter.parse(fixture.request())
    except Handshake:
        return []  # answered in the request itself (an id, a ping): no event


SLUGS = sorted(ADAPTERS)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_emitted_event_type_is_declared(slug: str) -> None:
    adapter = ADAPTERS[slug]
    inbound_fixtures = [f for f in fixtures(slug) if f.inbound]
    assert inbound_fixtures, f"{slug} has no inbound fixture"
    emitted = {f.path.name: [e.type for e in run(adapter, f)] for f in inbound_fixtures}
    undeclared = {name: types for name, types in emitted.items() if not set(types) <= adapter.emits}
    assert undeclared == {}, f"{slug} declares emits={sorted(adapter.emits)}"
    assert any(emitted.values()), f"no fixture of {slug} yields an event"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_handler_is_exercised_by_a_fixture_or_a_listed_gap(slug: str) -> None:
    probe, seen = recording(ADAPTERS[slug])
    for fixture in fixtures(slug):
        if fixture.inbound:
            run(probe, fixture)
    assert set(seen) <= set(probe.handlers)
    assert set(probe.handlers) - set(seen) == UNCOVERED.get(slug, set())


def test_the_gap_list_names_only_real_handlers() -> None:
    assert set(UNCOVERED) <= set(ADAPTERS)
    for slug, kinds in UNCOVERED.items():
        assert kinds and kinds <= set(ADAPTERS[slug].handlers), slug


@pytest.mark.parametrize("fixture", [f for slug in SLUGS for f in fixtures(slug) if not f.inbound],
                         ids=lambda f: f"{f.slug}/{f.path.stem}")
def test_a_fixture_that_is_not_a_delivery_is_refused(fixture: Fixture) -> None:
    with pytest.raises((UnsupportedEvent, AdapterError)):
        ADAPTERS[fixture.slug].parse(fixture.request())
