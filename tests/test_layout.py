"""The layout the architecture page draws, checked: imports point one way (import-linter's
contracts in ``.importlinter``), the ``bridge/`` root holds only what every layer shares, no module
grows past ~400 lines, SQL stays in the store, and ruff is clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("bridge", "connectors") for p in sorted((ROOT / d).rglob("*.py"))]
MAX_LINES = 400
MAX_ROOT_MODULES = 8


def _tool(name: str) -> str:
    """A console script installed beside this interpreter (the README's venv), else on PATH."""
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def test_imports_point_one_way() -> None:
    run = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_ruff_is_clean() -> None:
    run = subprocess.run([_tool("ruff"), "check", "--no-cache", "bridge", "connectors", "tests", "bench"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:]


def test_the_root_holds_only_what_every_layer_shares() -> None:
    modules = sorted(p.name for p in (ROOT / "bridge").glob("*.py"))
    assert len(modules) <= MAX_ROOT_MODULES, f"bridge/ root has {len(modules)} modules: {modules}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_grows_past_the_limit(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (split it by concern)"


def _imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for p in SOURCES if "store" not in p.relative_to(ROOT).parts],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_sql_stays_in_the_store(path: Path) -> None:
    orm = {n for n in _imported(ast.parse(path.read_text())) if n == "sqlalchemy" or n.startswith("sqlalchemy.")}
    assert not orm, f"{path.relative_to(ROOT)} imports {sorted(orm)}: queries belong in bridge/store"
