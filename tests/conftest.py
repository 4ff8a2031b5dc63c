"""Fixtures: settings on a temp dir, a migrated store (SQLite, or PostgreSQL in its own schema),
the Flask app and client, and real Redis for the RQ tests.

Redis and PostgreSQL tests skip with a reason on a laptop without them, and fail under CI=true.
The project's shared material (vendor specs, evaluation sets, the shared chatbot fixtures) is an
extra found through ``BRIDGE_SHARED_DIR``: ``shared_path`` skips without it, and fails under CI=true.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from tests.helpers import SECRET

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
POSTGRES_TEST_URL = os.environ.get("POSTGRES_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI") == "true"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, port: int) -> None:
    if _reachable(url, port):
        return
    message = f"{name} is not reachable at {url}"
    if CI:
        pytest.fail(f"{message} (CI=true: tests that need it must not skip)")
    pytest.skip(f"{message}; start it to run this test")


def shared_dir() -> Path:
    """The project's shared material: ``BRIDGE_SHARED_DIR``, by default ``../shared`` beside the repository.

    A relative value is taken from the repository root, like the default, so it means the same
    whichever folder pytest is started from."""
    return (ROOT / os.environ.get("BRIDGE_SHARED_DIR", "../shared")).resolve()


def shared_path(relative: str) -> Path:
    """``relative`` inside the shared material. A fresh clone has none: the test skips, naming the
    variable that finds it; under CI=true the material must be there and the test fails instead."""
    path = shared_dir() / relative
    if path.exists():
        return path
    message = f"needs {relative} from the shared material, not found under BRIDGE_SHARED_DIR={shared_dir()}"
    if CI:
        pytest.fail(f"{message} (CI=true: the shared extras must run)")
    pytest.skip(f"{message}; set BRIDGE_SHARED_DIR to the shared folder to run it")


def vendor_mock_url(vendor: str) -> str:
    """URL of a Prism vendor mock (``$BRIDGE_SHARED_DIR/mock-vendors/start``); .ci/run starts them."""
    name = f"{vendor.upper()}_MOCK_URL"
    url = os.environ.get(name, "")
    state = ROOT / ".mock-vendors" / "env"
    if not url and state.exists():
        for line in state.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == name:
                url = value.strip()
    if url and _reachable(url, 80):
        return url.rstrip("/")
    # The mocks are built from the vendors' specs in the shared material: without it, say so.
    shared_path("mock-vendors/start")
    message = (f"the {vendor} mock server is not running "
               f"(start it with bash $BRIDGE_SHARED_DIR/mock-vendors/start; BRIDGE_SHARED_DIR={shared_dir()})")
    if CI:
        pytest.fail(f"{message} (CI=true: contract tests must not skip)")
    pytest.skip(message)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        webhook_secrets={"generic": (SECRET,)},
        retry_intervals=(0, 0),
        sweep_age=0,
        admin_token="admin-test-token-0123456789",
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    require_service("PostgreSQL", POSTGRES_TEST_URL, 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_TEST_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_TEST_URL}?options=-csearch_path%3D{schema}"
    finally:
        from bridge.store.db import dispose_all

        dispose_all()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_TEST_URL, 6379)
    return REDIS_TEST_URL


@pytest.fixture(params=["sqlite", "postgres"])
def any_store_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        return settings.with_overrides(database_url=request.getfixturevalue("pg_url"))
    return settings


@pytest.fixture
def rt(settings: Settings) -> Runtime:
    runtime = install(Runtime.build(settings))
    upgrade(runtime.store)
    return runtime


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return create_app(rt=rt)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rq_settings(settings: Settings, redis_url: str) -> Settings:
    """RQ on the real Redis, with a queue name of its own so parallel runs never meet."""
    return settings.with_overrides(redis_url=redis_url, queue_name=f"test-{uuid.uuid4().hex[:10]}")
