"""The README and docs/ link only to files in the repository (a clone has nothing beside it), a
link to a heading names one that exists, and a page named in code is a file here too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
NAMED_PAGE = re.compile(r"`([^`\s]+/[^`\s]*\.md)`")  # a page named in code, e.g. `docs/metrics.md`
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", FENCE.sub("", page.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository(page: Path) -> None:
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: — not a file of ours
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{target}: no such heading"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_named_in_code_are_files_here(page: Path) -> None:
    # "see `../shared/DESIGN.md`" is a dead end in a clone just as a broken link is.
    for name in NAMED_PAGE.findall(FENCE.sub("", page.read_text())):
        candidates = [(base / name).resolve() for base in (page.parent, ROOT)]
        assert any(c.is_relative_to(ROOT) and c.exists() for c in candidates), f"{name} is not in the repository"


def test_the_architecture_page_is_linked_from_the_readme() -> None:
    assert "docs/architecture.md" in _links(ROOT / "README.md")
