"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (see Procfile)."""

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime, install

runtime = install(Runtime.build(Settings.from_env()))
app = create_app(rt=runtime)
