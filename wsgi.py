"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (see Procfile).

Reads ``.env`` from the working directory first, exactly as the ``bridge`` command does, so the
web processes and ``bridge worker`` run with the same settings.
"""

from bridge import create_app
from bridge.config import Settings, load_dotenv_file
from bridge.runtime import Runtime, install

load_dotenv_file()
runtime = install(Runtime.build(Settings.from_env()))
app = create_app(rt=runtime)
