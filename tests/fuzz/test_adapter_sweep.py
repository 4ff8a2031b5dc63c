"""Every field of every adapter fixture, replaced by every JSON type: ``parse`` raises only the adapter
errors that map to a clear 4xx (issue 20, item 5).

Deterministic and exhaustive over the fields (long arrays are sampled at their first items and
their last, which share a shape): where tests/fuzz/test_inbound.py samples through HTTP, this sweeps
the adapters directly, so no field of any fixture is left untried with a wrong type.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from bridge.adapters import ADAPTERS
from bridge.adapters.base import AdapterError, Handshake, Inbound, UnsupportedEvent
from bridge.config import Settings
from bridge.runtime import Runtime, install
from tests.fuzz.platforms import ROUTES
from tests.fuzz.strategies import DELETE, paths, replaced
from tests.fuzz.tally import record

# One value per JSON type, plus the shapes that broke adapters before: removal, a Unicode digit,
# a list of objects, an object of lists.
VALUES: list[Any] = [DELETE, None, True, 1.5, "²", [], {}, [{}]]
if os.environ.get("BRIDGE_FUZZ_PROFILE") == "nightly":
    VALUES += [False, 0, -1, 2**70, "", "x" * 5000, [[]], {"a": []}, ["x"], [None]]


@pytest.mark.parametrize("slug", sorted(ADAPTERS))
def test_every_field_with_every_type(slug: str, settings: Settings) -> None:
    route = ROUTES[slug]
    install(Runtime.build(settings.with_overrides(extra={**settings.extra, **route.extra})))
    adapter = ADAPTERS[slug]
    problems: dict[str, str] = {}
    for raw in route.bodies:
        doc = route.prepare(json.loads(raw))
        headers, query = route.sign(raw)  # parse reads headers (delivery ids), never the signature
        lowered = {k.lower(): v for k, v in headers.items()}
        for path in paths(doc, per_list=3):
            for value in VALUES:
                body = json.dumps(replaced(doc, path, value), ensure_ascii=False).encode()
                inbound = Inbound(body=body, headers=lowered, query=query, now=time.time())
                where = ".".join(map(str, path)) + (" removed" if value is DELETE else f" = {value!r:.20}")
                try:
                    for event in adapter.parse(inbound, 64):
                        json.dumps(event.to_json(), allow_nan=False)
                    outcome = "accepted"
                except (AdapterError, Handshake, UnsupportedEvent):
                    outcome = "refused"
                except Exception as exc:  # what the sweep is for: a shape the adapter did not check
                    problems.setdefault(f"{type(exc).__name__}: {str(exc)[:80]}", where)
                    outcome = "5xx"
                record("sweep", slug, outcome)
    assert not problems, f"{slug}.parse raised on: {problems}"
