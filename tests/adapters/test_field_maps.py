"""Every row of a platform's field map (``docs/platforms/<slug>.md``, section "Field map") is a test.

A row names a fact, a fixture, the path in its payload where the platform's documentation puts that
fact, and the canonical field the adapter must read it into. The test writes a fresh value at that
path, parses the payload with the platform's adapter and finds the value in the canonical field: a
row that names the wrong place, or an adapter that stops reading it, fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bridge.adapters import ADAPTERS
from tests.adapters.support import inbound, load

DOCS = Path(__file__).resolve().parents[2] / "docs" / "platforms"
FACTS = ("turn", "attachment", "identity", "confidence", "sentiment", "language", "handoff reason", "priority")
# A value of the kind the platform sends, that no fixture holds and the adapter keeps as it is.
SENTINELS = {"turn": "field map turn 7f3a", "attachment": "https://files.example.com/field-map-7f3a.png",
             "identity": "field.map.7f3a@example.com", "confidence": 0.4242, "sentiment": -0.4242,
             "language": "pt-BR", "handoff reason": "field map reason 7f3a", "priority": "urgent"}
ROW = re.compile(r"^\|\s*(?P<fact>[^|]+?)\s*\|\s*(?P<where>[^|]*?)\s*\|\s*`(?P<fixture>[^`]+)`\s*\|"
                 r"\s*`(?P<path>[^`]+)`\s*\|\s*`(?P<reads>[^`]+)`\s*\|\s*$")


def rows() -> list[tuple[str, str, str, str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        if "## Field map" not in text:
            continue
        section = text.split("## Field map", 1)[1].split("\n## ", 1)[0]
        for line in section.splitlines():
            if match := ROW.match(line):
                found.append((page.stem, match["fact"], match["fixture"], match["path"], match["reads"]))
    return found


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.lstrip("-").isdigit() else p for p in path.split(".")]


def put(data: Any, path: str, value: Any) -> None:
    *head, last = _steps(path)
    for step in head:
        data = data[step]
    data[last] = value


def _has(item: Any, step: str | int) -> bool:
    if isinstance(item, dict):
        return step in item
    return isinstance(item, list) and isinstance(step, int) and -len(item) <= step < len(item)


def values(data: Any, path: str) -> list[Any]:
    found = [data]
    for step in _steps(path):
        nxt: list[Any] = []
        for item in found:
            if step == "*" and isinstance(item, list):
                nxt += item
            elif _has(item, step):
                nxt.append(item[step])
        found = nxt
    return found


def test_the_maps_exist_and_use_the_fact_vocabulary() -> None:
    table = rows()
    assert len({slug for slug, *_ in table}) >= 4
    assert {fact for _, fact, *_ in table} <= set(FACTS)


@pytest.mark.parametrize("slug, fact, fixture, path, reads", rows(),
                         ids=[f"{r[0]}:{r[1]}:{r[3]}" for r in rows()])
def test_field_map_row(slug: str, fact: str, fixture: str, path: str, reads: str) -> None:
    body, _ = load(slug, fixture)
    data = json.loads(body)
    sentinel = SENTINELS[fact]
    put(data, path, sentinel)
    events = ADAPTERS[slug].parse(inbound(json.dumps(data).encode()))
    found = [v for event in events for v in values(event.to_json(), reads)]
    if isinstance(sentinel, str):
        assert any(isinstance(v, str) and sentinel.lower() in v.lower() for v in found), (reads, found)
    else:
        assert any(isinstance(v, int | float) and abs(v - sentinel) < 1e-6 for v in found), (reads, found)
