"""One platform, one slug, three places: adapter module, fixture folder and test file line up."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bridge.adapters import ADAPTERS
from tests.adapters.support import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = sorted(slug for slug in ADAPTERS if slug != "generic")
BODIES = sorted(p for p in FIXTURES.glob("*/*.json") if not p.name.endswith(".meta.json"))


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
    assert folders
    assert [f for f in folders if f not in ADAPTERS] == []


def test_every_fixture_has_its_meta_file() -> None:
    assert BODIES
    for body in BODIES:
        assert body.with_name(body.stem + ".meta.json").is_file(), body


@pytest.mark.parametrize("body", BODIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_body_is_byte_exact(body: Path) -> None:
    # Signatures are computed over the exact bytes: a reformatted or re-encoded copy would make the
    # signature tests fail for a reason that has nothing to do with the adapter.
    recorded = json.loads(body.with_name(body.stem + ".meta.json").read_text())["body_bytes"]
    data = body.read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (recorded["length"], recorded["sha256"])
