"""The README's readiness table is filled from facts: its event lists are the adapters' own, and
"tested with SDK: yes" only where a conformance test posts that platform's payloads."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.adapters import ADAPTERS, PATHS

ROOT = Path(__file__).resolve().parents[1]


def table() -> dict[str, list[str]]:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Readiness per platform", 1)[1]
    rows = {}
    for line in section.split("Unknown but valid event types", 1)[0].splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


def test_every_platform_has_a_row() -> None:
    assert set(table()) == set(PATHS)


def test_event_lists_are_the_adapters_own() -> None:
    rows = table()
    assert set(rows) == set(PATHS)
    for slug, cells in rows.items():
        declared = set(ADAPTERS[slug].handlers)
        named = set(re.findall(r"`([^`]+)`", cells[1]))
        # Two adapters have no vendor event names to list: the generic format names the canonical
        # types it accepts, and Rasa's one kind (``action_call``) is the action server call itself.
        if slug == "generic":
            assert named == set(ADAPTERS[slug].emits), slug
        elif slug == "rasa":
            assert declared == {"action_call"} and named == set() and "action server call" in cells[1]
        else:
            assert named == declared, slug


def test_the_sdk_column_matches_the_conformance_tests() -> None:
    tests = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "conformance").glob("test_*.py"))
    for slug, cells in table().items():
        said = cells[5].startswith("yes")
        posted = f'app_for(settings, "{slug}"' in tests or f'SLUG = "{slug}"' in tests
        assert said == posted, slug
