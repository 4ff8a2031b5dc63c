"""The request path's one write: insert accepted deliveries into the inbox, in SQLAlchemy Core.

The web process serving webhooks never loads the ORM: this module describes the inbox table with
the columns the insert writes (``inbox_columns``, held to ``InboxRow`` by tests/web/test_lean_path.py)
and the group committer runs ``insert_all`` on a plain connection (``GroupCommit.run_core``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, column, table

from bridge.store.types import UTCDateTime

_TZ = UTCDateTime()
INBOX = table(
    "inbox",
    column("id", BigInteger), column("key", String), column("platform", String),
    column("sender_event_id", String), column("event_type", String), column("case_id", String),
    column("body", LargeBinary), column("headers", JSON), column("event", JSON),
    column("received_at", _TZ), column("state", String), column("attempts", Integer),
    column("next_attempt_at", _TZ), column("updated_at", _TZ),
)
_INBOX_INSERT: dict[str, Any] = {}


def insert_inbox(executor: Any, values: dict[str, Any]) -> bool:
    """Insert an accepted delivery; False when its key is already stored (a duplicate).

    ``executor`` is a Core connection (the request path) or an ORM session (workers, tools). The
    statement is built once per dialect and run with parameters. RETURNING, not rowcount: drivers
    disagree on rowcount for ON CONFLICT DO NOTHING.
    """
    dialect = executor.dialect.name if hasattr(executor, "dialect") else executor.get_bind().dialect.name
    stmt = _INBOX_INSERT.get(dialect)
    if stmt is None:
        # The dialect's own INSERT (for ON CONFLICT), imported for the store in use only: SQLAlchemy's
        # PostgreSQL dialect is 20 modules (its asyncpg, pg8000 and psycopg2 variants, asyncio with
        # them) that a web process on SQLite would otherwise hold for ever.
        name = "postgresql" if dialect == "postgresql" else "sqlite"
        module = importlib.import_module(f"sqlalchemy.dialects.{name}")
        stmt = module.insert(INBOX).on_conflict_do_nothing(index_elements=["key"]).returning(INBOX.c.id)
        _INBOX_INSERT[dialect] = stmt
    return executor.execute(stmt, values).first() is not None


def insert_all(rows: Sequence[dict[str, Any]]) -> Callable[[Any], list[bool]]:
    """A group-commit unit inserting these accepted events: per row, False for a duplicate."""
    def unit(executor: Any) -> list[bool]:
        return [insert_inbox(executor, row) for row in rows]
    return unit
