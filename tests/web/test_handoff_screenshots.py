"""The handoff as its readers see it, in Debian's Chromium: a rubric scenario (the follow-up that
narrows an export failure) run through the real pipeline, then its case page served by the app and
its ticket, bug and Slack post rendered from the dry-run outbox.

Skips like tests/web/test_pages_browser.py without Chromium or playwright (fails under CI=true).
UPDATE_SCREENSHOTS=1 writes docs/handoff-case.png, handoff-ticket.png, handoff-bug.png and
handoff-alert.png.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.rubric import harness
from tests.web import vendor_render
from tests.web.test_pages_browser import ADMIN, DOCS, _page, browser  # noqa: F401 - the browser fixture

SCENARIO = "09-followup-narrows-problem"
NAMES = {"U01ANA": "Ana Souza", "U01JONAS": "Jonas Weber", "U01CLAIRE": "Claire Martin", "U01KEIKO": "Keiko Tanaka",
         "U01SAM": "Sam Rivera"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    [scenario] = [s for s in harness.scenarios() if s.name == SCENARIO]
    clock = harness._Clock()
    rt, app = harness.runtime(tmp_path_factory.mktemp("handoff"), clock)
    case_id, _ = harness.play(scenario, rt, app, clock)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", rt.settings.outbox_dir / case_id, case_id
    finally:
        server.shutdown()


def _shoot(page: Any, path: Path, name: str, height: int) -> None:
    size = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": size[0], "height": min(size[1], height)})
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / name)


def test_the_case_page_shows_where_the_customer_waits_and_the_follow_up(browser: Any, served: Any,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    base, _, case_id = served
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{base}/cases/{case_id}")
    page.fill("input[name=password]", ADMIN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/cases/{case_id}")
    assert "web chat" in page.locator("#waiting").inner_text()
    followup = page.locator("ol.timeline li[data-kind='customer.followup']")
    assert followup.count() == 1 and "night-shift allowance" in followup.inner_text()
    assert not errors, errors
    _shoot(page, tmp_path / "case.png", "handoff-case.png", 2600)


@pytest.mark.parametrize(("name", "must_show"), [
    ("ticket", ["Where the customer is waiting", "Customer follow-up #1", "night-shift allowance"]),
    ("bug", ["Steps to reproduce", "Requests that explain the failure", "night-shift allowance"]),
    ("alert", ["Lakeview Dental", "Reply due", "What makes it urgent", "3 hours"]),
])
def test_the_ticket_bug_and_alert_as_their_readers_see_them(browser: Any, served: Any, tmp_path: Path,  # noqa: F811
                                                           name: str, must_show: list[str]) -> None:
    _, folder, _ = served
    rendered = {"ticket": lambda: vendor_render.zendesk(folder), "bug": lambda: vendor_render.jira(folder),
                "alert": lambda: vendor_render.slack(folder, NAMES)}[name]()
    html_file = tmp_path / f"{name}.html"
    html_file.write_text(rendered, encoding="utf-8")
    errors: list[str] = []
    page = _page(browser, errors)
    page.set_viewport_size({"width": 1040, "height": 900})
    page.goto(html_file.as_uri())
    text = page.locator("body").inner_text()
    for part in must_show:
        assert part in text, part
    if name != "ticket":  # the ticket is where the agent needs the address; the others must not show it
        assert "daniel.mwangi@" not in text
    _shoot(page, tmp_path / f"{name}.png", f"handoff-{name}.png", 2400 if name != "alert" else 1800)
