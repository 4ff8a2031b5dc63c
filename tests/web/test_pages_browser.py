"""The pages in a real browser: Debian's Chromium driven by Playwright, against the app served on
127.0.0.1 with a month of cases made through the real pipeline.

Needs /usr/bin/chromium (apt-get install chromium) and the playwright package (never
``playwright install``). Skips with the reason when either is missing; fails under CI=true.
Set UPDATE_SCREENSHOTS=1 to write docs/dashboard.png and docs/case.png for the README.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from bridge import create_app
from bridge.config import keys
from bridge.metrics.model import METRICS, RecoveryReport
from bridge.runtime import Runtime
from bridge.web.charts import TREND_CHARTS
from tests.web.pages_seed import NOW, close_loop, install_fake_report, seed_case, with_pages

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = Path(__file__).resolve().parents[2] / "docs"
ADMIN = "admin-test-token-0123456789"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must not skip; .ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    # Playwright gives the profile a temp folder, but Chromium still writes its crash database under
    # ~/.config/chromium and GTK its dconf cache under ~/.cache: give the browser a home of its own.
    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True, env=env)
        yield launched
        launched.close()


BUG = [{"id": "m1", "role": "customer", "text": "The CSV export crashes with error E500 every time I click Download"},
       {"id": "m2", "role": "bot", "text": "Try clearing your browser cache.", "confidence": 0.4,
        "sources": [{"title": "Exporting data", "url": "https://help.example.com/export"}]},
       {"id": "m3", "role": "customer", "text": "Still broken, same error."}]
BILLING = [{"id": "m1", "role": "customer",
            "text": "You charged me twice this month, I want a refund of the second charge"},
           {"id": "m2", "role": "bot", "text": "Refunds are handled by our billing team.", "confidence": 0.3}]
ANGRY = [{"id": "m1", "role": "customer",
          "text": "This is ridiculous. Third time asking. I will cancel my subscription."},
         {"id": "m2", "role": "bot", "text": "I understand. Could you tell me more?", "confidence": 0.6}]
EVIDENCE = {"page_url": "https://app.example.com/reports/export", "session_replay_url": "https://replay.example.com/s/9",
            "device": {"os": "macOS 15", "browser": "Chrome 140", "app_version": "4.12.1"},
            "console_logs": [{"level": "error",
                              "message": "TypeError: cannot read properties of undefined (reading 'rows')"}],
            "network_requests": [{"method": "POST", "url": "https://api.example.com/v1/exports", "status": 500}],
            "steps_to_reproduce": ["Open Reports", "Click Export → CSV", "See error E500"]}


HAPPY = [{"id": "m1", "role": "customer", "text": "How do I change the email on my invoices?"},
         {"id": "m2", "role": "bot", "text": "Go to Settings → Billing → Invoice email and save.", "confidence": 0.92},
         {"id": "m3", "role": "customer", "text": "Found it, thanks!"}]


def seed_month(app: Flask, rt: Runtime) -> str:
    """A month of conversations (some solved by the bot, 2-4 escalations a day), most with the loop
    closed by a human; returns a product-bug case id with a closed loop."""
    client = app.test_client()
    rng = random.Random(8)
    bug_case = ""
    for day in range(30):
        for n in range(rng.randint(3, 6)):
            at = NOW - timedelta(days=30 - day, hours=-9 + 2 * n, minutes=rng.randint(0, 59))
            number = day * 10 + n
            customer = {"id": f"cus-{number}", "email": f"user{number}@example.com", "name": f"Customer {number}",
                        "plan": rng.choice(["pro", "pro", "enterprise", "starter"]),
                        "account": {"name": f"Account {number}", "mrr": rng.randint(50, 4000), "currency": "USD",
                                    "sla": "gold"}}
            kind = rng.choice(["happy", "happy", "bug", "billing", "angry", "human"])
            if kind == "happy":
                seed_case(client, rt, at, f"conv-{number}", HAPPY, type_="conversation.updated", customer=customer)
                continue
            messages = {"bug": BUG, "billing": BILLING, "angry": ANGRY, "human": None}[kind]
            evidence = {"evidence": EVIDENCE} if kind == "bug" else {}
            case_id = seed_case(client, rt, at, f"conv-{number}", messages, customer=customer, **evidence)
            if day >= 28 and n % 2:
                continue  # still waiting for a human
            solve = rng.randint(1, 30) * 1800
            close_loop(rt, case_id, ack=rng.randint(60, 1500), holding=rng.choice([None, 240]),
                       reply=rng.randint(600, 5400), solve=solve,
                       csat=rng.choice([None, "good", "good", "good", "bad"]),
                       reopen=solve + 7200 if rng.random() < 0.12 else None)
            if kind == "bug" and day < 27:
                bug_case = case_id
    rt.clock = lambda: NOW
    return bug_case


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime, str, Any]]:
    from bridge.config import Settings
    from bridge.runtime import install
    from bridge.store.migrate import upgrade
    from tests.helpers import SECRET

    settings = Settings(data_dir=tmp_path_factory.mktemp("pages") / "var", webhook_secrets={"generic": (SECRET,)},
                        retry_intervals=(0, 0), sweep_age=0, admin_token=ADMIN,
                        extra={"ZENDESK_SUBDOMAIN": "acme", "BRIDGE_PUBLIC_URL": "http://127.0.0.1"})
    rt = install(Runtime.build(settings))
    upgrade(rt.store)
    monkeypatch = pytest.MonkeyPatch()
    try:
        from bridge.metrics.report import build_report  # the real metrics when they exist
    except ImportError:
        install_fake_report(monkeypatch)
        from bridge.metrics.report import build_report
    app = with_pages(create_app(rt=rt))
    bug_case = seed_month(app, rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", rt, bug_case, build_report
    finally:
        server.shutdown()
        monkeypatch.undo()


def _page(browser: Any, errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def _keep(path: Path, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / name)


def test_dashboard_charts_render_in_chromium(browser: Any, served: Any, tmp_path: Path) -> None:
    base, rt, _, build_report = served
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{base}/dashboard?days=30&by=day")
    assert page.url.startswith(f"{base}/login")
    page.fill("input[name=password]", ADMIN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard?days=30&by=day")

    with rt.store.session() as s:
        report: RecoveryReport = build_report(s, NOW - timedelta(days=30), NOW, {}, "day")
    drawn = {m for spec in TREND_CHARTS for m in spec.metrics}
    assert drawn == set(METRICS)
    expected_dots = sum(1 for series in report.series if series.metric in drawn
                        for point in series.points if point.value is not None)

    charts = page.locator("svg.trend")
    assert charts.count() == len(TREND_CHARTS)
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 250 and box["height"] > 100  # laid out, not collapsed
    assert page.locator("svg.trend g.series circle").count() == expected_dots
    assert page.locator("svg.trend g.series").count() == len(METRICS)
    if expected_dots:
        assert page.locator("svg.trend polyline").count() >= 1
        first = page.locator("svg.trend g.series circle").first
        assert first.is_visible() and ":" in first.locator("title").text_content()
    bars = sum(len(b.rows[:12]) for b in report.breakdowns if b.dimension == page.locator(
        "nav.tabs a[aria-current]").inner_text().replace(" ", "_") and b.rows)
    assert page.locator("svg.breakdown g.bar").count() == bars
    assert page.locator("table#totals tbody tr").count() == len(METRICS)
    assert not errors, errors  # no CSP violations, no script errors
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1440, "height": 1720})  # tiles, trends, first breakdowns
    _keep(tmp_path / "dashboard.png", "dashboard.png")


def test_case_page_and_timeline_render_from_a_signed_link(browser: Any, served: Any, tmp_path: Path) -> None:
    base, rt, bug_case, _ = served
    errors: list[str] = []
    page = _page(browser, errors)  # a fresh context: no login, only the signed link
    page.goto(base + keys.case_link(rt.settings, bug_case, NOW).removeprefix("http://127.0.0.1"))
    assert page.locator("h1").inner_text() == f"Case {bug_case}"
    kinds = page.locator("ol.timeline li").evaluate_all("items => items.map(i => i.dataset.kind)")
    for kind in ("event.received", "case.escalated", "case.routed", "delivery.done", "case.acknowledged",
                 "agent.replied", "ticket.solved", "csat.rated"):
        assert kind in kinds, kind
    assert page.locator("ol.timeline li").first.is_visible()
    assert page.locator("#evidence").inner_text().count("E500") >= 1
    assert page.locator("#why .chip", has_text="product bug").count() == 1
    assert page.locator("a[href='https://acme.zendesk.com/agent/tickets/4242']").count() >= 1
    assert not errors, errors
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1440, "height": 2200})
    _keep(tmp_path / "case.png", "case.png")


# --- honest charts and readable pages at 1280 px and 800 px --------------------------------------------

WIDTHS = (1280, 800)
ROUND_TICK = r"^(0|\d+(\.5)?%|\d{1,3}(,\d{3})*|\d+ (min|h|d|s))$"


def _signed_in(browser: Any, base: str, width: int, errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=password]", ADMIN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    return page


def _layout_is_honest(page: Any, width: int) -> None:
    """Nothing is cut at the right edge: the page itself never scrolls sideways, and every table
    either fits its box or sits in a box that scrolls; every table has column headers."""
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width, "the page scrolls sideways"
    tables = page.locator("main table")
    for i in range(tables.count()):
        table = tables.nth(i)
        assert table.locator("thead th").count() >= 2, f"table {table.get_attribute('id')} has no header row"
        fits = table.evaluate("""t => {
            let box = t.parentElement;
            while (box && getComputedStyle(box).overflowX === 'visible' && box.tagName !== 'MAIN') {
                box = box.parentElement;
            }
            const scrolls = box && ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
            const right = t.getBoundingClientRect().right, edge = (box || document.body).getBoundingClientRect().right;
            return scrolls || right <= edge + 1;
        }""")
        assert fits, f"table {table.get_attribute('id')} is cut at the right edge"


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_is_honest_at_each_width(browser: Any, served: Any, tmp_path: Path, width: int) -> None:
    base, rt, _, build_report = served
    errors: list[str] = []
    page = _signed_in(browser, base, width, errors)
    page.goto(f"{base}/dashboard?days=30")
    # About four conversations a day: weekly points unless the reader asks for days.
    assert "by week" in page.locator(".heading .range").inner_text()
    ticks = page.locator("svg.trend text.tick").all_text_contents()
    y_ticks = [t for t in ticks if not re.match(r"^[A-Z][a-z]{2} \d{2}$", t)]
    assert y_ticks and all(re.match(ROUND_TICK, t) for t in y_ticks), y_ticks
    _layout_is_honest(page, width)
    by_trigger = page.locator("table#by-dimension")
    headers = by_trigger.locator("thead th").all_inner_texts()
    assert "Conversations" not in headers and "Helpdesk CSAT (non-bridge)" not in headers
    assert "Share of escalations" in headers
    cells = page.locator("table#totals tbody td").all_inner_texts()
    assert not any(re.search(r"\d\.0\b", c) for c in cells), cells  # counts are integers
    assert page.locator("table#cohorts thead th").all_inner_texts() == ["Outcome", "Cases", "Share"]
    assert not errors, errors
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    _keep(tmp_path / "dashboard.png", f"dashboard-{width}.png")
    daily = page.goto(f"{base}/dashboard?days=30&by=day")
    assert daily and daily.ok and "by day" in page.locator(".heading .range").inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_case_page_and_outbox_tab_at_each_width(browser: Any, served: Any, tmp_path: Path, width: int) -> None:
    base, rt, bug_case, _ = served
    errors: list[str] = []
    page = _signed_in(browser, base, width, errors)
    page.goto(f"{base}/cases")
    _layout_is_honest(page, width)
    assert "Subject" in page.locator("table#cases thead").inner_text()
    page.screenshot(path=str(tmp_path / "cases.png"), full_page=False)
    _keep(tmp_path / "cases.png", f"cases-{width}.png")
    page.goto(f"{base}/cases/{bug_case}")
    _layout_is_honest(page, width)
    assert page.locator("#ownership").count() == 0 or page.locator("#ownership button").count() >= 1
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
    _keep(tmp_path / "case.png", f"case-{width}.png")
    page.click("nav.casetabs a:has-text('Outbox')")
    assert page.locator("article.rendering").count() >= 2
    assert page.locator("article.rendering h2", has_text="Zendesk ticket").count() == 1
    assert page.locator(".slack-buttons .sbutton", has_text="Take case").count() >= 1
    _layout_is_honest(page, width)
    assert not errors, errors
    page.screenshot(path=str(tmp_path / "outbox.png"), full_page=True)
    _keep(tmp_path / "outbox.png", f"case-outbox-{width}.png")
