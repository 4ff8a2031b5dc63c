"""The pages: ``/dashboard``, ``/cases``, ``/cases/<id>``, ``/login`` and ``/logout``.

Server-rendered (Jinja2, autoescaped), readable without JavaScript; charts are inline SVG.
The dashboard and the case list need a login; a case page opens with a login or a signed,
expiring link (``bridge.config.keys.case_link``), which is how Zendesk, Jira and Slack link to it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from bridge.errors import plain_error
from bridge.events import TRIGGERS
from bridge.web import auth, sessions
from bridge.web.safeint import ascii_int

if TYPE_CHECKING:
    from bridge.metrics.model import RecoveryReport
    from bridge.store.models import CaseRow

# The store, the ownership loop, the connectors and the pages' builders (package, case view, charts,
# metrics model) are imported by the views that use them: a web process that serves webhooks and
# Slack clicks never loads them (issue 19: every web worker kept them, for pages a few people open).

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/bridge")
bp.record_once(lambda state: auth.init_app(state.app))

PERIODS = (7, 30, 90, 180, 365)
STATUSES = ("escalated", "acknowledged", "resolved", "open", "closed")
PAGE_SIZE = 50
_VALUE = re.compile(r"^[\w .:@/+-]{1,100}$")

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["Referrer-Policy"] = "no-referrer"  # signed links must not leak to vendors
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    from bridge.web import case_view, charts

    return {"csrf_token": auth.csrf_token, "current_user": auth.current_user, "fmt": charts.fmt,
            "metric_info": charts.info, "safe_url": case_view.safe_url, "slack_html": case_view.slack_html,
            "plain_error": plain_error, "step_label": case_view.step_label}


@bp.errorhandler(HTTPException)
def _page_error(exc: HTTPException) -> ResponseReturnValue:
    return render_template("pages/error.html", code=exc.code, name=exc.name, message=exc.description), exc.code or 500


def _rt() -> Any:
    return current_app.extensions["bridge.runtime"]


def _arg(name: str, allowed: tuple[str, ...] | None = None) -> str:
    value = request.args.get(name, "").strip()
    if not value or (allowed is not None and value not in allowed) or not _VALUE.match(value):
        return ""
    return value


# --- login -------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = auth.safe_next(request.values.get("next"))
    error = ""
    headers: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        auth.check_csrf()
        given = request.form.get("name", "")
        throttle = sessions.keys(given, request.remote_addr)
        wait = sessions.retry_after(_rt(), throttle, _rt().clock())
        if wait:  # the password is not even checked: guessing stays as slow as the window
            error, status, headers = (f"Too many failed sign-ins; try again in {wait} seconds.", 429,
                                      {"Retry-After": str(wait)})
        elif name := auth.authenticate(_rt().settings, given, request.form.get("password", "")):
            sessions.succeeded(_rt(), throttle[-1])
            auth.login(name)
            return redirect(target)
        else:
            sessions.failed(_rt(), throttle, _rt().clock())
            error, status = "Wrong name, password or token.", 401
    configured = auth.login_configured(_rt().settings)
    return render_template("pages/login.html", next=target, error=error, configured=configured), status, headers


@bp.get("/login/link/<token>")
def login_with_link(token: str) -> ResponseReturnValue:
    """The one-time link `bridge serve` prints on the embedded defaults (no login configured)."""
    if auth.redeem_login_token(_rt().settings, token, _rt().clock()):
        auth.login(auth.ADMIN, via="link")
        return redirect(url_for("pages.dashboard"))
    message = ("This bridge has a login configured: sign in with your name and password or the admin token."
               if auth.login_configured(_rt().settings) else
               "This login link was already used or has expired. Run `bridge login-link` for a new one "
               "(or restart `bridge serve`, which prints one).")
    return render_template("pages/error.html", code=403, name="Login link not valid", message=message), 403


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    auth.check_csrf()
    auth.logout()
    return redirect(url_for("pages.login"))


# --- dashboard ---------------------------------------------------------------------------------

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 30)  # `until` + 1 day must still be a date
MAX_PERIOD = timedelta(days=3 * 366)  # longer periods are cut to their last three years


def _parse_date(text: str) -> date | None:
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return min(max(day, FIRST_DAY), LAST_DAY) if day else None


def period_from_args(now: datetime) -> tuple[datetime, datetime, int | None]:
    """``since``/``until`` dates (inclusive days, UTC) or the last ``days`` days (default 30).

    Dates are clamped to 2000..2999 and the period to three years: a chart of weekly points over
    millennia would only burn CPU, and a date at the edge of the calendar has no day after it."""
    since_day, until_day = _parse_date(_arg("since")), _parse_date(_arg("until"))
    if since_day:
        until = datetime.combine(until_day, time(), UTC) + timedelta(days=1) if until_day else now
        since = max(datetime.combine(since_day, time(), UTC), until - MAX_PERIOD)
        return (since, until, None) if since < until else (until - timedelta(days=1), until, None)
    days = int(_arg("days", tuple(map(str, PERIODS))) or 30)
    return now - timedelta(days=days), now, days


def _options(column: str) -> list[str]:
    from bridge.store import case_list

    with _rt().store.session() as s:
        return case_list.options(s, column)


def _report(since: datetime, until: datetime, filters: dict[str, str], granularity: str) -> RecoveryReport:
    from bridge.metrics.report import build_report  # looked up per call: tests stand a fake report in

    with _rt().store.session() as s:
        return build_report(s, since, until, filters, granularity)  # type: ignore[no-any-return]


@bp.get("/dashboard")
@auth.login_required
def dashboard() -> ResponseReturnValue:
    from bridge.metrics.model import DIMENSIONS, METRICS
    from bridge.store import case_list
    from bridge.web import charts
    from connectors.names import people_for

    now = _rt().clock()
    since, until, days = period_from_args(now)
    # `?by=day|week` (or `granularity=`) chooses the points; `?breakdown=` (or a dimension in `by`) the bars.
    chosen = _arg("granularity", ("day", "week")) or _arg("by", ("day", "week"))
    filters = {name: _arg(name) for name in ("team", "trigger", "platform") if _arg(name)}
    if filters.get("trigger") and filters["trigger"] not in TRIGGERS:
        filters.pop("trigger")
    if chosen:
        granularity, automatic = chosen, False
    else:
        with _rt().store.session() as s:
            seen = case_list.created_between(s, since, until)
        granularity, automatic = charts.auto_granularity(seen, (until - since).total_seconds() / 86400), True
    report = _report(since, until, filters, granularity)
    dimensions = charts.dimensions_present(report, DIMENSIONS) or ["trigger"]
    by = _arg("breakdown", DIMENSIONS) or _arg("by", DIMENSIONS)
    by = by if by in dimensions else dimensions[0]
    labels: dict[str, str] = {}
    if by == "owner":  # owners are keyed by Slack id: show their names
        people = people_for(_rt().settings, _rt().routing())
        labels = {row.key: people.slack_name(row.key) for b in report.breakdowns if b.dimension == "owner"
                  for row in b.rows}
    table_metrics, table_rows = charts.breakdown_table(report, by, labels)
    # The breakdown links set `breakdown` themselves; `by` stays only when it chose day or week points.
    query = {k: v for k, v in request.args.items() if k != "breakdown" and (k != "by" or v in ("day", "week"))}
    return render_template(
        "pages/dashboard.html",
        report=report, since=since, until=until, days=days, periods=PERIODS, granularity=granularity,
        filters=filters, teams=_options("team"), platforms=_options("platform"), triggers=TRIGGERS,
        metrics=METRICS, trends=[charts.line_chart(spec, report) for spec in charts.TREND_CHARTS],
        periods_list=charts.periods_of(report), series={s.metric: s for s in report.series},
        dimensions=dimensions, by=by, bars=charts.breakdown_charts(report, by, labels),
        table_metrics=table_metrics, table_rows=table_rows, cohort=charts.cohort_bar(report.cohorts),
        query=query, until_day=(until - timedelta(seconds=1)).date(), automatic=automatic, count=charts.count,
    )


# --- cases -------------------------------------------------------------------------------------

@bp.get("/cases")
@auth.login_required
def cases() -> ResponseReturnValue:
    from bridge.config.people import customer_name
    from bridge.store import case_list
    from bridge.web import case_view
    from connectors.names import people_for

    status = _arg("status", (*STATUSES, "all"))
    filters = {name: _arg(name) for name in ("team", "platform", "owner") if _arg(name)}
    trigger = _arg("trigger", TRIGGERS)
    page = max(1, ascii_int(_arg("page"), 100) or 1)
    with _rt().store.session() as s:
        total, page, rows = case_list.page_of_cases(s, status, filters, trigger, page, PAGE_SIZE)
    query = {k: v for k, v in request.args.items() if k != "page"}
    people = people_for(_rt().settings, _rt().routing())
    listed = [
        {"case": c, "customer": customer_name((c.event or {}).get("customer") or {"email": c.customer_email}),
         "topic": case_view.topic_of(c), "owner": people.owner(c.owner, (c.route or {}).get("owner_name"))
         if c.owner else None, "team": (c.route or {}).get("team_name") or c.team}
        for c in rows
    ]
    return render_template(
        "pages/cases.html", rows=listed, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        status=status, statuses=STATUSES, filters=filters, trigger=trigger, triggers=TRIGGERS,
        teams=_options("team"), platforms=_options("platform"), query=query,
    )


def _may_view(case_id: str) -> bool:
    if auth.current_user() is not None:
        return True
    sig, exp = request.args.get("sig", ""), request.args.get("exp", "")
    return bool(sig) and auth.verify_case_link(_rt().settings, case_id, sig, exp, _rt().clock())


@bp.get("/cases/<case_id>")
def case(case_id: str) -> ResponseReturnValue:
    from bridge.config.people import customer_name
    from bridge.events import Decision, Event, RouteInfo, Summary
    from bridge.pipeline.package import build_package
    from bridge.pipeline.sanitize import sanitize_event
    from bridge.store import case_list, repo
    from bridge.web import case_view
    from connectors.names import people_for

    if not _may_view(case_id):
        if "sig" in request.args:
            return render_template("pages/error.html", code=403, name="Link expired or invalid",
                                   message="This case link is no longer valid. Sign in to open the case."), 403
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    settings = _rt().settings
    with _rt().store.session() as s:
        row = repo.get_case(s, case_id)
        if row is None:
            return render_template("pages/error.html", code=404, name="No such case",
                                   message=f"There is no case {case_id}."), 404
        deliveries = repo.deliveries_of(s, case_id)
        inbox = case_list.received_of(s, case_id)
        received = [(at, kind, platform) for at, kind, platform, _ in inbox]
        unused = case_view.unused_fields([(platform, body) for _, _, platform, body in inbox])
        timeline_rows = repo.timeline_of(s, case_id)
    package = None
    if row.decision:
        package = build_package(
            row.id, row.platform, Event.from_json(row.event), Decision.model_validate(row.decision),
            summary=Summary.model_validate(row.summary) if row.summary else None,
            route=RouteInfo.model_validate(row.route) if row.route else None,
        )
    event = sanitize_event(Event.from_json(row.event))  # no card number or token on the page either
    channel = package.route.channel if package and package.route else None
    highlighted = {hit.message_index for hit in package.decision.triggers} if package else set()
    people = people_for(settings, _rt().routing())
    route = package.route if package else None
    keep = {k: request.args[k] for k in ("sig", "exp") if k in request.args}
    return render_template(
        "pages/case.html", case=row, package=package, event=event, deliveries=deliveries,
        links=case_view.links_out(settings, row.refs or {}, channel),
        timeline=case_view.timeline(settings, timeline_rows, received, row.escalated_at, channel, people),
        timings=_timings(row), highlighted=highlighted, signed_view=auth.current_user() is None,
        unused=unused, tab="outbox" if request.args.get("tab") == "outbox" else "package", keep=keep,
        outbox=case_view.outbox(settings, row.id, people), outbox_dir=settings.outbox_dir,
        owner=people.owner(row.owner, route.owner_name if route else None) if row.owner else None,
        team=(route.team_name if route else None) or row.team,
        reason=case_view.priority_reason(package.priority, package.priority_reason) if package else "",
        customer_label=customer_name((row.event or {}).get("customer")),
        members=_members(row) if auth.current_user() else [],
        me=_me(_members(row)) if auth.current_user() else "",
    )


# --- ownership from the case page: the same compare-and-set writes as the Slack buttons ------------

def _members(case: CaseRow) -> list[tuple[str, str, str]]:
    """(key, name, team name) of everyone the case can go to: its team first, then the others."""
    routing = _rt().routing()
    teams = sorted(routing.teams, key=lambda t: t.id != case.team)
    return [(m.key, m.name, t.display_name) for t in teams for m in t.members]


def _me(members: list[tuple[str, str, str]]) -> str:
    """The roster member the signed-in user is, by Slack id or name (first name or whole); else the
    login name itself (a roster-less setup takes cases under the login)."""
    user = (auth.current_user() or "").strip()
    lowered = user.lower()
    for key, name, _ in members:
        if lowered in (key.lower(), name.lower(), name.split()[0].lower()):
            return key
    return user


@bp.post("/cases/<case_id>/take")
@auth.login_required
def take_case(case_id: str) -> ResponseReturnValue:
    from bridge.loop import ownership
    from bridge.store import repo
    from connectors.names import people_for

    auth.check_csrf()
    with _rt().store.session() as s:
        row = repo.get_case(s, case_id)
        if row is None:
            return render_template("pages/error.html", code=404, name="No such case",
                                   message=f"There is no case {case_id}."), 404
        members = _members(row)
    who = request.form.get("member", "").strip() or _me(members)
    if members and who not in {key for key, _, _ in members}:
        flash("Pick someone from the roster.", "error")
        return redirect(url_for("pages.case", case_id=case_id))
    result = ownership.take(_rt(), case_id, who, via="web", actor=auth.current_user())
    people = people_for(_rt().settings, _rt().routing())
    if result.ok:
        flash(f"{people.slack_name(who)} owns the case now.", "ok")
    else:
        winner = people.slack_name(result.owner) if result.owner else None
        flash(f"Not taken: {winner} took it first." if winner else f"Not taken: {result.message}.", "error")
    return redirect(url_for("pages.case", case_id=case_id))


@bp.post("/cases/<case_id>/reassign")
@auth.login_required
def reassign_case(case_id: str) -> ResponseReturnValue:
    from bridge.loop import ownership
    from bridge.store import repo
    from connectors.names import people_for

    auth.check_csrf()
    with _rt().store.session() as s:
        row = repo.get_case(s, case_id)
        if row is None:
            return render_template("pages/error.html", code=404, name="No such case",
                                   message=f"There is no case {case_id}."), 404
        members = _members(row)
    to = request.form.get("to", "").strip()
    expected = request.form.get("expected_owner", "").strip() or None  # the owner the page showed
    if to and members and to not in {key for key, _, _ in members}:
        flash("Pick someone from the roster.", "error")
        return redirect(url_for("pages.case", case_id=case_id))
    by = _me(members)
    result = ownership.reassign(_rt(), case_id, to or None, by=by, reason="reassign" if to else "not_mine",
                                expected_owner=expected, via="web")
    people = people_for(_rt().settings, _rt().routing())
    if result.ok:
        flash(f"Reassigned to {people.slack_name(result.owner)}.", "ok")
    elif "owner changed" in result.message:
        now = people.slack_name(result.owner) if result.owner else "nobody"
        flash(f"Not reassigned: the owner changed meanwhile (now {now}); look again and retry.", "error")
    else:
        flash(f"Not reassigned: {result.message}.", "error")
    return redirect(url_for("pages.case", case_id=case_id))


def _timings(row: CaseRow) -> list[tuple[str, str]]:
    from bridge.web.charts import duration
    start = row.escalated_at
    found = []
    for label, at in (("Acknowledged", row.acknowledged_at), ("First useful response", row.first_response_at),
                      ("Solved", row.resolved_at)):
        if start and at:
            found.append((label, f"{duration(max(0.0, (at - start).total_seconds()))} after escalation"))
        else:
            found.append((label, "not yet" if start else "—"))
    return found
