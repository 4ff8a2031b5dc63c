"""``bridge serve``, ``bridge login-link`` and ``bridge secret``: run the web app and get into it.

Heavy modules (waitress, Flask, the runtime) are imported inside the commands, for start-up speed.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from bridge.cli.common import checked, load_settings
from bridge.config import Settings

if TYPE_CHECKING:
    from bridge.runtime import Runtime


def new_whsec() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@click.command("secret")
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


@click.command()
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

    settings = _dev_generic_secret(load_settings())
    rt = checked(install(Runtime.build(settings)))
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
        how = "BRIDGE_USERS" if rt.settings.users else "the BRIDGE_ADMIN_TOKEN"
        return f"Dashboard: {auth.base_url(rt.settings)}/login (sign in with {how})"
    link = auth.login_link(rt.settings, rt.clock())
    return (f"Dashboard: open this one-time login link (valid 24 h): {link}\n"
            "  (`bridge login-link` prints another; set BRIDGE_USERS or BRIDGE_ADMIN_TOKEN for lasting logins)")


@click.command("login-link")
def login_link_command() -> None:
    """Print a one-time link that signs in to the dashboard (only while no login is configured)."""
    from bridge.web import auth

    settings = load_settings()
    if auth.login_configured(settings):
        raise click.ClickException("a login is configured (BRIDGE_USERS or BRIDGE_ADMIN_TOKEN): sign in with it at "
                                   f"{auth.base_url(settings)}/login")
    from bridge.runtime import utcnow

    click.echo(auth.login_link(settings, utcnow()))
