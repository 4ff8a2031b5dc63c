"""The request path's one write: insert accepted deliveries into the inbox, in SQLAlchemy Core.

The web process serving webhooks never loads the ORM: this module describes the inbox table with
the columns the insert writes (``inbox_columns``, held to ``InboxRow`` by tests/web/test_lean_path.py)
and the group committer runs ``insert_all`` on a plain connection (``GroupCommit.run_core``).

On that connection the insert goes to the driver itself: the statement is compiled and its
parameters' converters looked up once per dialect and set of columns, so a request pays the
driver's execute and nothing of SQLAlchemy's per-statement machinery (about a tenth of a
millisecond of CPU per request). Errors are SQLAlchemy's all the same (``DBAPIError.instance``), so
the view's 503 and the group commit's retry-alone see what they always saw.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, column, table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError

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

# An inbox row whose body is the event itself (the generic webhook: the body is validated as the event,
# and nothing in it is masked) keeps it once: its ``event`` column holds this marker instead of a second,
# re-serialized copy (issue 19: validated once, the raw bytes stored). ``inbox_event`` reads either.
EVENT_IN_BODY: dict[str, str] = {"stored_in": "body"}
EVENT_IN_BODY_TEXT = json.dumps(EVENT_IN_BODY, separators=(",", ":"))


def inbox_event(event: Any, body: bytes | memoryview | None) -> dict[str, Any]:
    """An inbox row's event as JSON: its ``event`` column, or its body where the column says so."""
    if event == EVENT_IN_BODY:
        return json.loads(bytes(body)) if body else {}
    return event or {}


def _statement(dialect: str) -> Any:
    stmt = _INBOX_INSERT.get(dialect)
    if stmt is None:
        # The dialect's own INSERT (for ON CONFLICT), imported for the store in use only: SQLAlchemy's
        # PostgreSQL dialect is 20 modules (its asyncpg, pg8000 and psycopg2 variants, asyncio with
        # them) that a web process on SQLite would otherwise hold for ever.
        name = "postgresql" if dialect == "postgresql" else "sqlite"
        module = importlib.import_module(f"sqlalchemy.dialects.{name}")
        stmt = module.insert(INBOX).on_conflict_do_nothing(index_elements=["key"]).returning(INBOX.c.id)
        _INBOX_INSERT[dialect] = stmt
    return stmt


def insert_inbox(executor: Any, values: dict[str, Any]) -> bool:
    """Insert an accepted delivery; False when its key is already stored (a duplicate).

    ``executor`` is a Core connection (the request path: see ``_insert_on_driver``) or an ORM
    session (workers, tools). The statement is built once per dialect and run with parameters.
    RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    """
    if isinstance(executor, Connection):
        return _insert_on_driver(executor, values)
    return executor.execute(_statement(executor.get_bind().dialect.name), values).first() is not None


@dataclass(frozen=True)
class _Compiled:
    """The insert as its driver takes it, for one dialect and one set of columns."""

    sql: str
    names: tuple[str, ...]  # the parameters, in the order of a positional paramstyle
    convert: dict[str, Callable[[Any], Any]]  # SQLAlchemy's bind processors (JSON, datetimes), by column
    positional: bool

    def parameters(self, values: dict[str, Any]) -> Any:
        convert = self.convert
        out = {name: convert[name](values[name]) if name in convert else values[name] for name in self.names}
        return tuple(out.values()) if self.positional else out


_COMPILED: dict[tuple[str, tuple[str, ...]], _Compiled] = {}


def _compiled(dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
    found = _COMPILED.get((dialect.name, names))
    if found is None:
        compiled = _statement(dialect.name).compile(dialect=dialect, column_keys=list(names))
        order = tuple(compiled.positiontup or names)
        convert = {name: proc for name in order
                   if (proc := INBOX.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        found = _Compiled(compiled.string, order, convert, bool(compiled.positiontup))
        _COMPILED[(dialect.name, names)] = found
    return found


def _insert_on_driver(conn: Connection, values: dict[str, Any]) -> bool:
    """``insert_inbox`` on the driver's own connection, inside ``conn``'s transaction."""
    dialect = conn.dialect
    plan = _compiled(dialect, tuple(values))
    params = plan.parameters(values)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(plan.sql, params)
        return cursor.fetchone() is not None
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(plan.sql, params, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  dialect=dialect) from exc
    finally:
        cursor.close()


def insert_all(rows: Sequence[dict[str, Any]]) -> Callable[[Any], list[bool]]:
    """A group-commit unit inserting these accepted events: per row, False for a duplicate."""
    def unit(executor: Any) -> list[bool]:
        return [insert_inbox(executor, row) for row in rows]
    return unit
