"""Apply Alembic migrations programmatically (``bridge db upgrade`` and on serve/worker start)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from bridge.store.db import Store

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


log = logging.getLogger("bridge.db")


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the schema to ``revision``; one log line when that changed something, none otherwise."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    before = current_revision(store)
    cfg = alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    after = current_revision(store)
    if after != before:
        log.info("bridge.db.migrated", extra={"from": before or "empty", "to": after, "store": store.dialect})


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return row[0] if row else None
