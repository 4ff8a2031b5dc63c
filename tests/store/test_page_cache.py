"""A web process's SQLite connections keep a small page cache (bridge/store/db.py, wsgi.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bridge.store import db


def _cache_size(url: str) -> int:
    engine = db._create(url)  # an engine of its own: the process's cached ones keep their pragmas
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("PRAGMA cache_size")).scalar_one())
    finally:
        engine.dispose()


def test_limit_applies_to_connections_made_afterwards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    monkeypatch.setattr(db, "_cache_kib", 0)
    assert _cache_size(url) == -2000  # SQLite's default: 2000 KiB
    db.limit_page_cache(256)
    assert _cache_size(url) == -256
    db.limit_page_cache(0)
    assert _cache_size(url) == -2000


@pytest.mark.parametrize(("value", "kib"), [(None, 256), ("512", 512), ("0", 0), ("lots", 256)])
def test_the_web_entry_point_sets_it_from_the_environment(tmp_path: Path, value: str | None, kib: int) -> None:
    """``wsgi`` (the Procfile's web process) reads ``BRIDGE_WEB_SQLITE_CACHE_KIB``; a bad value is the default."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("BRIDGE_WEB_SQLITE_CACHE_KIB", "DATABASE_URL", "REDIS_URL")}
    env["BRIDGE_DATA_DIR"] = str(tmp_path)
    if value is not None:
        env["BRIDGE_WEB_SQLITE_CACHE_KIB"] = value
    root = str(Path(__file__).resolve().parents[2])  # this tree's wsgi.py, whatever is installed
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    code = "import wsgi; from bridge.store import db; print(db._cache_kib)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True, timeout=60)
    assert int(out.stdout.split()[-1]) == kib
