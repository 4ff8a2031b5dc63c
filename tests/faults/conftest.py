"""Fixtures of the fault suite, and the recorder behind the table in docs/reliability.md.

Each test is decorated with ``@case(id, fault, expected)``; what it observed goes into the
``observed`` fixture (the final tally line at least). With ``BRIDGE_FAULT_REPORT=1``, the run then
writes ``tests/faults/results.json``: one entry per test, merged with earlier runs, so running one
test updates one row. ``python -m tests.faults.report`` renders it into docs/reliability.md.
Without the variable nothing is written: a plain test run leaves the tracked file alone.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_TEST_URL, require_service
from tests.faults.harness import Bridge, RedisServer, kill_marked
from tests.faults.jira_stub import JiraStub
from tests.faults.stubs import SlackStub, ZendeskStub

RESULTS = Path(__file__).with_name("results.json")
_observed: dict[str, list[str]] = {}
_outcomes: dict[str, dict[str, Any]] = {}


def case(ident: str, fault: str, expected: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Name a fault case for the generated table."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._fault_case = {"id": ident, "fault": fault, "expected": expected}  # type: ignore[attr-defined]
        return fn

    return mark


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:  # the soak uses the suite's deployment but is opt-in on its own (-m soak)
        if here in Path(str(item.fspath)).parents and item.get_closest_marker("soak") is None:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def observed(request: pytest.FixtureRequest) -> list[str]:
    notes: list[str] = []
    _observed[request.node.nodeid] = notes
    return notes


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    meta = getattr(getattr(item, "function", None), "_fault_case", None)
    if meta is None:
        return
    if report.when == "setup" and report.outcome != "passed":
        state = "skipped" if report.skipped else "error"
    elif report.when == "call":
        state = "xfailed" if hasattr(report, "wasxfail") and report.skipped else (
            "xpassed" if hasattr(report, "wasxfail") else report.outcome)
    else:
        return
    param = getattr(item, "callspec", None)
    ident = meta["id"] + (f" [{param.id}]" if param is not None else "")
    reason = getattr(report, "wasxfail", "") or (str(report.longrepr)[-300:] if report.skipped else "")
    notes = list(_observed.get(item.nodeid, []))
    # A parametrized test names its row's own fault and expectation with "fault: …" / "expected: …" notes.
    fault = next((n.removeprefix("fault: ") for n in notes if n.startswith("fault: ")), meta["fault"])
    expected = next((n.removeprefix("expected: ") for n in notes if n.startswith("expected: ")), meta["expected"])
    notes = [n for n in notes if not n.startswith(("fault: ", "expected: "))]
    order = item.session.items.index(item) if item in item.session.items else 0
    _outcomes[item.nodeid] = {
        "id": ident, "test": item.nodeid.split("::", 1)[-1], "fault": fault, "expected": expected,
        "order": order, "outcome": state, "observed": notes, "reason": reason,
        "seconds": round(report.duration, 1), "at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The results file is tracked (the reliability page is generated from it): refresh it only on request.
    if not _outcomes or os.environ.get("BRIDGE_FAULT_REPORT") != "1":
        return
    try:
        previous = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        previous = {}
    previous.update(_outcomes)
    RESULTS.write_text(json.dumps(dict(sorted(previous.items())), indent=1, ensure_ascii=False) + "\n")


# --- fixtures ----------------------------------------------------------------------------------

@contextmanager
def deployment(tmp: Path) -> Iterator[Callable[..., Bridge]]:
    """Stubs, a private Redis and a builder of bridges; everything started is stopped on exit."""
    run_id = uuid.uuid4().hex
    zendesk, slack = ZendeskStub().start(), SlackStub().start()
    redis = RedisServer({**os.environ, "FAULTS_RUN_ID": run_id})
    built: list[Bridge] = []
    schemas: list[str] = []
    jiras: list[JiraStub] = []

    def build(database_url: str | None = None, workers: int = 1, web: bool = True, jira: bool = False,
              **env: str) -> Bridge:
        if database_url is None:
            require_service("PostgreSQL", POSTGRES_TEST_URL, 5432)
            database_url = _pg_schema()
            schemas.append(database_url)
        if redis.proc is None:
            redis.start()
        if jira and not jiras:
            stub = JiraStub()  # started only for the deployments that file bugs
            stub.start()
            jiras.append(stub)
        bridge = Bridge(tmp, database_url, redis, zendesk, slack, run_id,  # type: ignore[arg-type]
                        jira=jiras[0] if jira else None, **env)
        built.append(bridge)
        bridge.start(workers=workers, web=web)
        return bridge

    try:
        yield build
    finally:
        for bridge in built:
            bridge.stop()
        kill_marked(run_id)
        redis.stop()
        zendesk.stop()
        slack.stop()
        for stub in jiras:
            stub.stop()
        _drop_schemas(schemas)


@pytest.fixture
def make_bridge(tmp_path: Path) -> Iterator[Callable[..., Bridge]]:
    with deployment(tmp_path) as build:
        yield build


@pytest.fixture(scope="module")
def shared_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """One deployment (gunicorn + two workers) for the vendor-fault tests of a module."""
    with deployment(tmp_path_factory.mktemp("shared")) as build:
        yield build(workers=2)


@pytest.fixture
def vendor_bridge(shared_bridge: Bridge) -> Iterator[Bridge]:
    """The shared deployment with both stubs answering normally again, and a fresh tally scope."""
    yield shared_bridge.recover()
    shared_bridge.recover(scope=False)


def _pg_schema() -> str:
    """A fresh schema in the shared test PostgreSQL (only created and dropped, never restarted)."""
    from sqlalchemy import create_engine, text

    from tests.conftest import POSTGRES_TEST_URL

    schema = f"f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_TEST_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{POSTGRES_TEST_URL}?options=-csearch_path%3D{schema}"


def _drop_schemas(urls: list[str]) -> None:
    from sqlalchemy import create_engine, text

    from bridge.store.db import dispose_all

    dispose_all()
    if not urls:
        return
    admin = create_engine(POSTGRES_TEST_URL)
    with admin.begin() as conn:
        for url in urls:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{url.rsplit("%3D", 1)[1]}" CASCADE'))
    admin.dispose()
