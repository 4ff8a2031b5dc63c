"""The README's readiness table is filled from facts: its event lists are the adapters' own, and
"tested with SDK: yes" only where a conformance test posts that platform's payloads."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from bridge.adapters import PATHS

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
    for slug, cells in table().items():
        module = importlib.import_module(f"bridge.adapters.{PATHS[slug].split(':')[0]}")
        declared = set(getattr(module, "SUPPORTED_EVENTS", ()))
        named = set(re.findall(r"`([^`]+)`", cells[1]))
        if declared and declared != {"action_call"}:
            assert named == declared, slug


def test_the_sdk_column_matches_the_conformance_tests() -> None:
    tests = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "conformance").glob("test_*.py"))
    for slug, cells in table().items():
        said = cells[5].startswith("yes")
        posted = f'app_for(settings, "{slug}"' in tests or f'SLUG = "{slug}"' in tests
        assert said == posted, slug
