"""Logging: JSON lines with the case key on every line written while a job works on a case.

``BRIDGE_LOG_FORMAT=json`` (the default when stderr is not a terminal) or ``text``. Extra fields
passed with ``extra=`` become JSON keys; secrets and bodies are never passed to the logger.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_case: contextvars.ContextVar[str | None] = contextvars.ContextVar("bridge_case", default=None)
_STANDARD = set(vars(logging.LogRecord("x", 0, "", 0, "", None, None))) | {"message", "asctime", "case"}


@contextmanager
def case_context(case_id: str | None) -> Iterator[None]:
    token = _case.set(case_id)
    try:
        yield
    finally:
        _case.reset(token)


class CaseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.case = getattr(record, "case", None) or _case.get()
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if getattr(record, "case", None):
            line["case"] = record.case  # type: ignore[attr-defined]
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: int = logging.INFO, fmt: str | None = None) -> None:
    fmt = fmt or ("text" if sys.stderr.isatty() else "json")
    handler = logging.StreamHandler()
    handler.addFilter(CaseFilter())
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries' own chatter: Alembic announces its plugins and dialect on every start, waitress
    # repeats the banner `bridge serve` prints. Warnings still show; `bridge.db` says when it migrates.
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


QUIET = ("alembic", "waitress")
