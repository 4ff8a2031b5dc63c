"""One platform, one slug, three places: adapter module, fixture folder and test file line up."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.adapters import ADAPTERS
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = SHARED / "fixtures" / "chatbots"
PLATFORMS = sorted(slug for slug in ADAPTERS if slug != "generic")


@pytest.mark.parametrize("slug", PLATFORMS)
def test_slug_module_fixtures_and_tests_line_up(slug: str) -> None:
    name = slug.replace("-", "_")
    adapter = ADAPTERS[slug]
    assert adapter.slug == slug
    assert type(adapter).__module__ == f"bridge.adapters.{name}"
    assert (ROOT / "bridge" / "adapters" / f"{name}.py").is_file()
    assert (ROOT / "tests" / "adapters" / f"test_{name}.py").is_file()
    assert any((FIXTURES / slug).glob("*.meta.json")), f"no fixtures for {slug}"


def test_every_fixture_folder_has_an_adapter() -> None:
    folders = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
    assert [f for f in folders if f not in ADAPTERS] == []


def test_every_fixture_has_its_meta_file() -> None:
    for body in FIXTURES.glob("*/*.json"):
        if not body.name.endswith(".meta.json"):
            assert body.with_name(body.stem + ".meta.json").is_file(), body
