"""A case's handoff package, built once per version of what it is built from and reused by the
steps of one handoff (the escalation, the ticket, the alert, the bug, the link…) in this process.

``build_package`` is pure, and all but three of its fields (summary, route, earlier tickets of the
customer) come from the case's stored transcript and decision alone. Those are the key: the case
id, the platform and a digest of the transcript and decision as stored. A follow-up that changes
the transcript (or a new decision) changes the digest, so the next step builds afresh; nothing
has to be invalidated. The other three fields are set on a copy for each step.

A small LRU per process, shared by the in-process runner's threads (packages are never mutated:
builders read them).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from bridge.events import Decision, Event, Package, RouteInfo, Summary
from bridge.pipeline.package import build_package

# Cases. A job process works on a handful at a time: a hand-off's steps go to the front of the
# queue, so they run right after its event, and a step retried minutes later has seen more cases
# pass than any size worth holding. A package with its transcript and evidence is ~25 KB: at 256
# the cache was the job process's largest growth during a drain (+6.4 MB over 300 hand-offs,
# bench.drain_memory); at 32 it holds what runs together for a fraction of that.
SIZE = 32

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str, str], Package] = OrderedDict()


def _digest(event: dict[str, Any], decision: dict[str, Any]) -> str:
    text = json.dumps([event, decision], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def base_package(case_id: str, platform: str, event: dict[str, Any], decision: dict[str, Any]) -> Package:
    """The package with no route, no earlier tickets and the extractive summary (``build_package``
    without those arguments), from the stored transcript and decision (their JSON form)."""
    key = (case_id, platform, _digest(event, decision))
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    package = build_package(case_id, platform, Event.from_json(event), Decision.model_validate(decision))
    with _lock:
        _cache[key] = package
        while len(_cache) > SIZE:
            _cache.popitem(last=False)
    return package


def package_for(
    case_id: str,
    platform: str,
    event: dict[str, Any],
    decision: dict[str, Any],
    *,
    summary: Summary | None = None,
    route: RouteInfo | None = None,
    previous_tickets: list[str] | None = None,
) -> Package:
    """What ``build_package`` returns for these arguments, reusing the case's base package."""
    update: dict[str, Any] = {"route": route, "previous_tickets": list(previous_tickets or [])}
    if summary is not None:
        update["summary"] = summary
    return base_package(case_id, platform, event, decision).model_copy(update=update)


def clear() -> None:
    with _lock:
        _cache.clear()
