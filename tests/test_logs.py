"""Logs are JSON lines carrying the case key, and hold no secrets or bodies."""

from __future__ import annotations

import io
import json
import logging

from flask.testing import FlaskClient

from bridge.logs import CaseFilter, JSONFormatter, case_context
from bridge.runtime import Runtime
from bridge.worker.runner import run_due
from tests.helpers import OTHER_SECRET, SECRET, dumps, generic_event, signed_headers


def _capture() -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CaseFilter())
    handler.setFormatter(JSONFormatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    return stream, handler


def test_json_lines_with_the_case_key_inside_a_job(client: FlaskClient, rt: Runtime, monkeypatch: object) -> None:
    stream, handler = _capture()
    try:
        body = dumps(generic_event())
        case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
        with case_context("c-explicit"):
            logging.getLogger("bridge.test").info("inside", extra={"step": "x"})
        run_due(rt)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    explicit = next(line for line in lines if line["msg"] == "inside")
    assert explicit["case"] == "c-explicit" and explicit["step"] == "x" and explicit["level"] == "info"
    assert any(line.get("case") == case_id for line in lines)


def test_rejected_requests_leave_no_secret_or_body_in_the_logs(client: FlaskClient) -> None:
    stream, handler = _capture()
    try:
        event = generic_event()
        event["customer"]["email"] = "private.person@example.com"
        body = dumps(event)
        client.post("/webhooks/generic", data=body, headers=signed_headers(body, secret=OTHER_SECRET))
        client.post("/webhooks/generic", data=b"{bad json", headers=signed_headers(b"{bad json"))
        bad = generic_event()
        bad["conversation"]["messages"][0]["role"] = "robot"
        client.post("/webhooks/generic", data=dumps(bad), headers=signed_headers(dumps(bad)))
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "bridge.inbound.rejected" in text
    for secret in (SECRET, OTHER_SECRET, SECRET.removeprefix("whsec_"), "private.person@example.com"):
        assert secret not in text
