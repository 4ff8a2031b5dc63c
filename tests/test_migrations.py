"""The migrations build exactly the schema the models describe (on both stores): a column, index
or table added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Float

from bridge.config import Settings
from bridge.store.db import Store
from bridge.store.migrate import upgrade
from bridge.store.models import Base


def _real_difference(diff: Any) -> bool:
    """Column changes come as a list of ``modify_*`` tuples. SQLite and PostgreSQL report a Float
    column back as FLOAT/REAL/DOUBLE: the same column, not a difference."""
    if isinstance(diff, list):
        return any(_real_difference(d) for d in diff)
    if diff[0] == "modify_type":
        return not (isinstance(diff[-2], Float) and isinstance(diff[-1], Float))
    return True


def test_migrations_match_the_models(any_store_settings: Settings) -> None:
    store = Store(any_store_settings.store_url)
    upgrade(store)
    with store.engine.connect() as conn:
        diffs = [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata) if _real_difference(d)]
    assert diffs == []
