"""The ``bridge`` command."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bridge.config import ConfigError, Settings, load_dotenv_file, secret_env_name
from bridge.errors import plain_error

if TYPE_CHECKING:
    from bridge.runtime import Runtime

log = logging.getLogger("bridge.cli")


def _settings() -> Settings:
    load_dotenv_file()
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _checked(rt: Runtime) -> Runtime:
    """Refuse to start on unsafe configuration, naming the reason."""
    from bridge.config.secret_policy import refusal
    from bridge.pipeline.route_config import RoutingError
    from bridge.queue import RQQueue

    weak = refusal(rt.settings)
    if weak:
        raise click.ClickException(weak)
    try:
        rt.routing()
    except RoutingError as exc:
        raise click.ClickException(f"invalid ROUTING_FILE:\n{exc}") from None
    if isinstance(rt.queue, RQQueue):
        policy = rt.queue.eviction_policy()
        if policy not in (None, "noeviction"):
            raise click.ClickException(
                f"Redis maxmemory-policy is {policy!r}: Redis may evict queued jobs under memory pressure. "
                "Set it to 'noeviction' (CONFIG SET maxmemory-policy noeviction).")
    return rt


def _runtime(migrate: bool = False) -> Runtime:
    from bridge.runtime import Runtime, install

    rt = _checked(install(Runtime.build(_settings())))
    if migrate:
        from bridge.store.migrate import upgrade

        upgrade(rt.store)
    return rt


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """Recovery Bridge: chatbot escalations into Zendesk, Jira and Slack."""
    import os

    from bridge.logs import configure

    configure(logging.DEBUG if verbose else logging.INFO, os.environ.get("BRIDGE_LOG_FORMAT") or None)


def new_whsec() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@main.command("secret")
@click.option("--plain", is_flag=True,
              help="A random token instead (BRIDGE_SECRET_KEY, BRIDGE_ADMIN_TOKEN, a platform's shared token).")
def secret_command(plain: bool) -> None:
    """Print a fresh secret: a Standard Webhooks `whsec_…` secret for GENERIC_WEBHOOK_SECRET (or
    BOT_CALLBACK_SECRET); with --plain, a random token."""
    if plain:
        click.echo(secrets.token_urlsafe(32))
        click.echo("use it as BRIDGE_SECRET_KEY, BRIDGE_ADMIN_TOKEN or a platform's shared token", err=True)
        return
    click.echo(new_whsec())
    click.echo("set it as GENERIC_WEBHOOK_SECRET in the bridge's environment and give the same value to the "
               "bot that signs its events (or use it as BOT_CALLBACK_SECRET)", err=True)


def _dev_generic_secret(settings: Settings) -> Settings:
    """Embedded default: without GENERIC_WEBHOOK_SECRET, use one kept in the data dir."""
    if settings.secrets_for("generic"):
        return settings
    path = settings.data_dir / "generic-webhook-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_whsec() + "\n")
        path.chmod(0o600)
    click.echo(f"GENERIC_WEBHOOK_SECRET is not set; using the development secret in {path}", err=True)
    merged = {**settings.webhook_secrets, "generic": (path.read_text().strip(),)}
    return settings.with_overrides(webhook_secrets=merged)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default BRIDGE_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PORT or 8000).")
@click.option("--threads", type=int, default=8, show_default=True)
def serve(host: str | None, port: int | None, threads: int) -> None:
    """Run the web app (and, without REDIS_URL, the in-process worker)."""
    import waitress

    from bridge import create_app
    from bridge.runtime import Runtime, install
    from bridge.store.migrate import upgrade
    from bridge.worker.runner import Runner

    settings = _dev_generic_secret(_settings())
    rt = _checked(install(Runtime.build(settings)))
    upgrade(rt.store)
    app = create_app(rt=rt)
    runner = None
    if rt.queue.kind == "in-process":
        runner = Runner(rt)
        app.extensions["bridge.runner"] = runner
        runner.start()
    host, port = host or settings.host, port or settings.port
    rt.settings = settings = settings.with_overrides(host=host, port=port)  # links name the address served
    click.echo(f"Recovery Bridge on http://{host}:{port} (store: {rt.store.dialect}, queue: {rt.queue.kind})", err=True)
    click.echo(_login_hint(rt), err=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="recovery-bridge",
                       max_request_body_size=settings.max_body_bytes + 1)
    finally:
        # A platform stopping the process (a deploy, a scale-down) sends SIGTERM and waits before
        # SIGKILL (Heroku 30 s): finish the running jobs rather than leave their claims to expire.
        signal.signal(signal.SIGTERM, previous)
        if runner and not runner.stop(settings.shutdown_grace):
            # A job outlasted the grace: its pool thread would hold the interpreter's exit. Leave
            # now; the job's claim runs out with its lease and another pass runs it again.
            sys.stderr.flush()
            os._exit(0)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: leave the server loop as Ctrl-C does. waitress's loop ends on SystemExit (asyncore
    re-raises it where it swallows other exceptions from a handler) and closes its sockets."""
    click.echo("SIGTERM: finishing the running jobs", err=True)
    raise SystemExit(0)


def _login_hint(rt: Runtime) -> str:
    """How to get into the dashboard: the configured login, or a fresh one-time link."""
    from bridge.web import auth

    if auth.login_configured(rt.settings):
        how = "BRIDGE_USERS" if rt.settings.get("BRIDGE_USERS").strip() else "the BRIDGE_ADMIN_TOKEN"
        return f"Dashboard: {auth.base_url(rt.settings)}/login (sign in with {how})"
    link = auth.login_link(rt.settings, rt.clock())
    return (f"Dashboard: open this one-time login link (valid 24 h): {link}\n"
            "  (`bridge login-link` prints another; set BRIDGE_USERS or BRIDGE_ADMIN_TOKEN for lasting logins)")


@main.command("login-link")
def login_link_command() -> None:
    """Print a one-time link that signs in to the dashboard (only while no login is configured)."""
    from bridge.web import auth

    settings = _settings()
    if auth.login_configured(settings):
        raise click.ClickException("a login is configured (BRIDGE_USERS or BRIDGE_ADMIN_TOKEN): sign in with it at "
                                   f"{auth.base_url(settings)}/login")
    from bridge.runtime import utcnow

    click.echo(auth.login_link(settings, utcnow()))


@main.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty (tests, cron): one process, no supervisor.")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Job processes under this supervisor (default BRIDGE_WORKER_PROCESSES, or 1).")
def worker(burst: bool, processes: int | None) -> None:
    """Run the queue workers: a supervisor, a dispatcher (with RQ's scheduler and the sweeper) and job
    processes draining the urgent queue before the routine one."""
    from bridge.queue import RQQueue

    rt = _runtime(migrate=True)
    if not isinstance(rt.queue, RQQueue):
        raise click.ClickException("REDIS_URL is not set: `bridge serve` runs the in-process worker instead")
    if burst:
        _burst(rt)
        return
    from bridge.store.db import dispose_all
    from bridge.worker.supervisor import Supervisor

    dispose_all()  # the supervisor holds no connection its children could inherit
    count = processes or int(rt.settings.get("BRIDGE_WORKER_PROCESSES") or 1)
    raise SystemExit(Supervisor(rt.settings, processes=count).run())


def _burst(rt: Runtime) -> None:
    """Dispatch, sweep, move due retries, run everything queued, then exit."""
    from rq.scheduler import RQScheduler

    from bridge.queue import RQQueue
    from bridge.worker import handover
    from bridge.worker.jobs_process import BridgeWorker

    assert isinstance(rt.queue, RQQueue)
    handover.dispatch(rt)
    handover.sweep(rt)
    scheduler = RQScheduler(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer)
    if scheduler.acquire_locks():
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()
    BridgeWorker(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer).work(burst=True)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    from bridge.store.migrate import current_revision

    rt = _runtime(migrate=True)
    click.echo(f"database at revision {current_revision(rt.store)}")


def _parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep:
            raise click.BadParameter(f"expected 'Name: value', got {value!r}", param_hint="-H")
        headers[name.strip().lower()] = rest.strip()
    return headers


@main.command()
@click.option("--source", required=True, help="Platform slug, e.g. generic.")
@click.option("-H", "--header", "headers", multiple=True, help="Request header 'Name: value' (repeatable).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def parse(source: str, headers: tuple[str, ...], file: Path) -> None:
    """Print the canonical event of a raw platform payload (exit 2 if it is not valid)."""
    from bridge.adapters import ADAPTERS
    from bridge.adapters.base import AdapterError, Handshake, Inbound, UnsupportedEvent

    adapter = ADAPTERS.get(source)
    if adapter is None:
        _fail(f"unknown source {source!r}; known: {', '.join(sorted(ADAPTERS))}")
    inbound = Inbound(body=file.read_bytes(), headers=_parse_headers(headers))
    try:
        events = adapter.parse(inbound)
    except AdapterError as exc:
        _fail(f"{file.name}: {exc}")
    except UnsupportedEvent as exc:
        _fail(f"{file.name}: {source} event type {exc.event_type!r} carries no conversation to hand off")
    except Handshake:
        _fail(f"{file.name}: a {source} verification handshake, not an event")
    if not events:
        _fail(f"{file.name}: no event in this payload")
    out: Any = events[0].to_json() if len(events) == 1 else [e.to_json() for e in events]
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    from bridge.adapters.generic import suggestion

    for name in adapter.ignored(inbound):
        hint = suggestion(name)
        click.echo(f"warning: {file.name}: {name} is not a field the bridge knows; it is ignored"
                   + (f" (did you mean {hint}?)" if hint else ""), err=True)


@main.command()
@click.option("--source", default="generic", show_default=True, help="Platform slug the payload comes from.")
@click.option("--url", default=None, help="The bridge's base URL (default BRIDGE_PUBLIC_URL, else this machine's).")
@click.option("--secret", default=None,
              help="The platform's secret (default <SLUG>_WEBHOOK_SECRET; generic: the development secret).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def send(source: str, url: str | None, secret: str | None, file: Path) -> None:
    """Send an example payload to a running bridge, signed the way its platform signs it, and print
    the answer (exit 1 unless 2xx). Try `bridge send examples/generic/handoff-requested.json`."""
    import requests

    from bridge.adapters import ADAPTERS
    from bridge.sender import UNSIGNABLE, CannotSign, credentials

    if source not in ADAPTERS:
        _fail(f"unknown source {source!r}; known: {', '.join(sorted(ADAPTERS))}")
    if source in UNSIGNABLE:
        _fail(f"{UNSIGNABLE[source]}, so `bridge send` cannot imitate it; check the payload offline with "
              f"`bridge parse --source {source} {file}`")
    settings = _settings()
    if secret is None:
        configured = settings.secrets_for(source)
        dev = settings.data_dir / "generic-webhook-secret"
        if configured:
            secret = configured[0]
        elif source == "generic" and dev.exists():
            secret = dev.read_text().strip()
        else:
            _fail(f"no secret for {source}: set {secret_env_name(source)} (as the bridge has it) or pass --secret")
    body = file.read_bytes()
    try:
        headers, query = credentials(source, body, secret or "")
    except CannotSign as exc:
        _fail(str(exc))
    target = f"{(url or settings.base_url).rstrip('/')}/webhooks/{source}"
    try:
        answer = requests.post(target, data=body, headers=headers, params=query, timeout=15, allow_redirects=False)
    except requests.RequestException as exc:
        why = "no answer in time" if isinstance(exc, requests.Timeout) else "nothing answers there"
        _fail(f"cannot reach {target}: {why} (is `bridge serve` running?)")
    click.echo(f"{answer.status_code} {answer.reason}", err=True)
    click.echo(answer.text.strip())
    sys.exit(0 if 200 <= answer.status_code < 300 else 1)


def _fail(message: str) -> Any:
    click.echo(message.replace("\n", " "), err=True)
    sys.exit(2)


@main.group()
def dlq() -> None:
    """Dead letters: events and deliveries that ran out of attempts."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of the dead letters (`[]` when none).")
def dlq_list(as_json: bool) -> None:
    from sqlalchemy import select

    from bridge.store import repo
    from bridge.store.models import VendorEventRow

    rt = _runtime(migrate=True)
    with rt.store.session() as s:
        inbox, deliveries = repo.dead_letters(s)
        vendor = s.scalars(select(VendorEventRow).where(VendorEventRow.state == "dead")).all()
        rows = [
            {"id": r.key, "kind": "event", "platform": r.platform, "case": r.case_id, "attempts": r.attempts,
             "updated_at": r.updated_at.isoformat(), "last_error": r.last_error}
            for r in inbox
        ] + [
            {"id": f"dl-{d.id}", "kind": d.step, "platform": "", "case": d.case_id, "attempts": d.attempts,
             "updated_at": d.updated_at.isoformat(), "last_error": d.last_error}
            for d in deliveries
        ] + [
            {"id": f"ve-{v.id}", "kind": f"{v.source} event", "platform": v.source, "case": "",
             "attempts": v.attempts, "updated_at": v.updated_at.isoformat(), "last_error": v.last_error}
            for v in vendor
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=1))  # always an array: `[]` when nothing is dead
        return
    if not rows:
        click.echo("no dead letters")
    for row in rows:
        error = plain_error(row["last_error"]).replace("\n", " ")[:120]
        click.echo(f"{row['id']}  {row['kind']}  case={row['case'] or '-'}  attempts={row['attempts']}  {error}")


@main.command()
@click.argument("ident", required=False)
@click.option("--all-dead", is_flag=True, help="Replay every dead letter.")
def replay(ident: str | None, all_dead: bool) -> None:
    """Send a dead event (hb-…) or delivery (dl-N) through again; safe to repeat."""
    from bridge.store import repo
    from bridge.worker import handover

    if bool(ident) == all_dead:
        raise click.UsageError("give exactly one of ID or --all-dead")
    rt = _runtime(migrate=True)
    if all_dead:
        from sqlalchemy import select

        from bridge.store.models import VendorEventRow

        with rt.store.session() as s:
            inbox, deliveries = repo.dead_letters(s)
            vendor = s.scalars(select(VendorEventRow.id).where(VendorEventRow.state == "dead")).all()
            idents = [r.key for r in inbox] + [f"dl-{d.id}" for d in deliveries] + [f"ve-{v}" for v in vendor]
    else:
        idents = [ident or ""]
    replayed = [i for i in idents if handover.replay(i, rt)]
    if rt.queue.kind == "in-process":
        from bridge.worker.runner import run_due

        run_due(rt)  # no `bridge serve` may be running: do the work now
    for i in replayed:
        click.echo(f"replayed {i}")
    if ident and not replayed:
        _fail(f"{ident} is not a dead letter")


@main.command()
@click.option("--days", type=int, default=None, help="Retention in days (default BRIDGE_RETENTION_DAYS or 90).")
def purge(days: int | None) -> None:
    """Scrub payloads and transcripts of cases older than the retention period (metrics stay)."""
    from bridge.worker import privacy

    rt = _runtime(migrate=True)
    for line in privacy.purge(rt, days or privacy.retention_days(rt)).lines():
        click.echo(line)


@main.command()
@click.option("--email", "emails", multiple=True, help="The customer's email (repeatable).")
@click.option("--customer-id", "customer_ids", multiple=True, help="The customer's platform id (repeatable).")
def forget(emails: tuple[str, ...], customer_ids: tuple[str, ...]) -> None:
    """Erase one customer's personal data from the store and the outbox; list the vendors' copies."""
    from bridge.worker import privacy

    if not emails and not customer_ids:
        raise click.UsageError("give --email or --customer-id")
    rt = _runtime(migrate=True)
    for line in privacy.forget(rt, emails, customer_ids).lines():
        click.echo(line)


DOCTOR_LABELS = {"ok": "ok ", "warn": "WARN", "fail": "FAIL"}


@main.command()
def doctor() -> None:
    """Check each configured dependency and say in one line each what works."""
    from bridge.doctor import run_checks

    failed = False
    for name, status, message in run_checks(_settings()):
        failed |= status == "fail"
        click.echo(f"{DOCTOR_LABELS.get(status, 'FAIL')} {name}: {message}")
    sys.exit(1 if failed else 0)


def _register() -> None:
    from bridge.cli_loop import kb_group, report, seed_demo
    from bridge.cli_package import package
    from bridge.cli_pages import user_hash
    from bridge.cli_route import route_command
    from bridge.cli_triage import triage

    for command in (package, route_command, triage, report, kb_group, seed_demo, user_hash):
        main.add_command(command)


_register()

__all__ = ["main", "secret_env_name"]
