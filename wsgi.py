"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (see Procfile).

Reads ``.env`` from the working directory first, exactly as the ``bridge`` command does, so the
web processes and ``bridge worker`` run with the same settings.
"""

import contextlib

from bridge import create_app
from bridge.config import Settings, load_dotenv_file
from bridge.runtime import Runtime, install

load_dotenv_file()
runtime = install(Runtime.build(Settings.from_env()))
app = create_app(rt=runtime)

# Open the store once while the worker boots: otherwise the first webhook after a deploy pays for
# the engine and its first connection (15-25 ms idle, 100-300 ms on a busy machine: a quiet hour's
# slowest requests). A store that is down now is for /readyz and the requests to report; boot goes on.
with contextlib.suppress(Exception):
    runtime.store.ping()
