"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (see Procfile).

Reads ``.env`` from the working directory first, exactly as the ``bridge`` command does, so the
web processes and ``bridge worker`` run with the same settings.

A web process's SQLite connections keep a small page cache (``BRIDGE_WEB_SQLITE_CACHE_KIB``, default
256; 0 keeps SQLite's 2 MB): see ``bridge.store.db.limit_page_cache`` (issue 19, the web's RSS).
"""

import contextlib
import os

from bridge import create_app
from bridge.config import Settings, load_dotenv_file
from bridge.runtime import Runtime, install
from bridge.store.db import limit_page_cache


def _cache_kib() -> int:
    try:
        return int(os.environ.get("BRIDGE_WEB_SQLITE_CACHE_KIB", "") or 256)
    except ValueError:
        return 256  # a typo must not keep the web from starting: the default


load_dotenv_file()
limit_page_cache(_cache_kib())
runtime = install(Runtime.build(Settings.from_env()))
app = create_app(rt=runtime)

# Open the store once while the worker boots: otherwise the first webhook after a deploy pays for
# the engine and its first connection (15-25 ms idle, 100-300 ms on a busy machine: a quiet hour's
# slowest requests). A store that is down now is for /readyz and the requests to report; boot goes on.
with contextlib.suppress(Exception):
    runtime.store.ping()
