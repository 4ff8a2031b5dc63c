"""Baseline server for the ingest comparison: a bare Flask app that reads the body and answers 202.

Same gunicorn configuration as the Procfile's ``web`` line: ``gunicorn ... bench.bare_app:app``.
"""

from flask import Flask, request

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def accept(path: str = "") -> tuple[str, int]:
    request.get_data()
    return "", 202
