"""Bug fingerprints: the same bug with different ids and timestamps matches; different bugs do not."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.events import Event
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from connectors.jira.fingerprint import (
    fingerprint,
    major_version,
    normalize_route,
    normalize_text,
)
from tests.helpers import generic_event


def package(evidence: dict[str, Any] | None = None, text: str = "The export is broken, can a person help?") -> Any:
    event = Event.from_json(generic_event(messages=[{"role": "customer", "text": text}], evidence=evidence or {}))
    return build_package("c-1", "generic", event, decide(event))


def report(error: str, url: str, version: str = "4.2.1", page: str = "https://acme.app.example.com/reports/1") -> Any:
    return package({
        "console_logs": [{"level": "log", "message": "boot 12:00:01"}, {"level": "error", "message": error}],
        "network_requests": [{"method": "POST", "url": url, "status": 502}],
        "device": {"app_version": version}, "page_url": page,
    })


@pytest.mark.parametrize(("one", "other"), [
    ("Request 5f1c2a9e-1b2c-4d3e-8f9a-0b1c2d3e4f5a failed", "Request 0b1c2d3e-4f5a-4d3e-8f9a-5f1c2a9e1b2c failed"),
    ("Timeout at 2026-01-02T10:11:12Z after 3000 ms", "Timeout at 2026-03-04T08:00:00.123+02:00 after 2999 ms"),
    ("bad hash 9f86d081884c7d65 for user_8723423", "bad hash 60303ae22b998861 for user_1200007"),
    ("cannot load https://cdn.acme.com/app/main.3f9a2c1b.js?v=77", "cannot load https://cdn.other.io/app/main.77aa01ff.js"),
    ("no row 12 for ana@example.com at 10:11:12", "no row 99 for li@example.org at 23:59:01"),
])
def test_what_varies_between_occurrences_is_stripped(one: str, other: str) -> None:
    assert normalize_text(one) == normalize_text(other)


def test_error_codes_survive_normalisation() -> None:
    assert normalize_text("Export E1042 failed") != normalize_text("Export E1043 failed")
    assert "err_connection_reset" in normalize_text("net::ERR_CONNECTION_RESET 200 times")


def test_routes_lose_hosts_queries_and_ids() -> None:
    assert normalize_route("https://acme.app.com/api/v1/exports/123?x=1") == "/api/v1/exports/{n}"
    assert normalize_route("https://b.app.com/api/v1/exports/5f1c2a9e-1b2c-4d3e-8f9a-0b1c2d3e4f5a") \
        == "/api/v1/exports/{uuid}"
    assert normalize_route("https://app.com/#/workspaces/ab12cd34ef56gh78/settings") == "/#/workspaces/{id}/settings"
    assert major_version("v4.2.1") == "4" and major_version("10") == "10" and major_version(None) == ""


def test_same_bug_with_different_ids_and_timestamps_has_one_fingerprint() -> None:
    a = fingerprint(report("TypeError: rows is null (row 12) at 2026-01-02T10:11:12Z",
                           "https://api.example.com/v1/exports/123?session=abc"))
    b = fingerprint(report("TypeError: rows is null (row 4711) at 2026-05-06T01:02:03Z",
                           "https://api.example.com/v1/exports/98765", version="4.9.0",
                           page="https://other.app.example.com/reports/2"))
    assert a is not None and b is not None
    assert a.value == b.value and a.label == b.label and a.label.startswith("rb-bug-")
    assert a.route == "POST /v1/exports/{n}" and a.major == "4"


@pytest.mark.parametrize("change", [
    {"error": "RangeError: invalid date (row 12)"},  # another error
    {"url": "https://api.example.com/v1/imports/123"},  # another endpoint
    {"version": "5.0.0"},  # another major version
])
def test_different_bugs_have_different_fingerprints(change: dict[str, str]) -> None:
    base = {"error": "TypeError: rows is null (row 12)", "url": "https://api.example.com/v1/exports/123"}
    a = fingerprint(report(**base))
    b = fingerprint(report(**{**base, **change}))
    assert a is not None and b is not None and a.value != b.value


def test_without_console_errors_the_failing_request_or_a_quoted_code_is_the_error() -> None:
    a = package({"network_requests": [{"method": "GET", "url": "https://x.io/api/items/1", "status": 500}]})
    b = package({"network_requests": [{"method": "GET", "url": "https://y.io/api/items/2", "status": 500}]})
    assert fingerprint(a) == fingerprint(b) and fingerprint(a) is not None
    coded = fingerprint(package(text="The export crashes with error E1042 since the update"))
    assert coded is not None and coded.error == "code E1042"


def test_a_complaint_without_an_error_has_no_fingerprint() -> None:
    assert fingerprint(package({"page_url": "https://app.example.com/reports"})) is None
