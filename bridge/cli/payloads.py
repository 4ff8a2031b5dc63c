"""``bridge parse`` and ``bridge send``: a raw platform payload read offline, or sent signed to a
running bridge.

The adapters and ``requests`` are imported inside the commands, for start-up speed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bridge.cli.common import fail, load_settings
from bridge.config import secret_env_name


def _parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep:
            raise click.BadParameter(f"expected 'Name: value', got {value!r}", param_hint="-H")
        headers[name.strip().lower()] = rest.strip()
    return headers


@click.command()
@click.option("--source", required=True, help="Platform slug, e.g. generic.")
@click.option("-H", "--header", "headers", multiple=True, help="Request header 'Name: value' (repeatable).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def parse(source: str, headers: tuple[str, ...], file: Path) -> None:
    """Print the canonical event of a raw platform payload (exit 2 if it is not valid)."""
    from bridge.adapters import ADAPTERS
    from bridge.adapters.base import AdapterError, Handshake, Inbound, UnsupportedEvent

    adapter = ADAPTERS.get(source)
    if adapter is None:
        fail(f"unknown source {source!r}; known: {', '.join(sorted(ADAPTERS))}")
    inbound = Inbound(body=file.read_bytes(), headers=_parse_headers(headers))
    try:
        events = adapter.parse(inbound)
    except AdapterError as exc:
        fail(f"{file.name}: {exc}")
    except UnsupportedEvent as exc:
        fail(f"{file.name}: {source} event type {exc.event_type!r} carries no conversation to hand off")
    except Handshake:
        fail(f"{file.name}: a {source} verification handshake, not an event")
    if not events:
        fail(f"{file.name}: no event in this payload")
    out: Any = events[0].to_json() if len(events) == 1 else [e.to_json() for e in events]
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    from bridge.adapters.generic import suggestion

    for name in adapter.ignored(inbound):
        hint = suggestion(name)
        click.echo(f"warning: {file.name}: {name} is not a field the bridge knows; it is ignored"
                   + (f" (did you mean {hint}?)" if hint else ""), err=True)


@click.command()
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
    from bridge.cli.sender import UNSIGNABLE, CannotSign, credentials

    if source not in ADAPTERS:
        fail(f"unknown source {source!r}; known: {', '.join(sorted(ADAPTERS))}")
    if source in UNSIGNABLE:
        fail(f"{UNSIGNABLE[source]}, so `bridge send` cannot imitate it; check the payload offline with "
             f"`bridge parse --source {source} {file}`")
    settings = load_settings()
    if secret is None:
        configured = settings.secrets_for(source)
        dev = settings.data_dir / "generic-webhook-secret"
        if configured:
            secret = configured[0]
        elif source == "generic" and dev.exists():
            secret = dev.read_text().strip()
        else:
            fail(f"no secret for {source}: set {secret_env_name(source)} (as the bridge has it) or pass --secret")
    body = file.read_bytes()
    try:
        headers, query = credentials(source, body, secret or "")
    except CannotSign as exc:
        fail(str(exc))
    target = f"{(url or settings.base_url).rstrip('/')}/webhooks/{source}"
    try:
        answer = requests.post(target, data=body, headers=headers, params=query, timeout=15, allow_redirects=False)
    except requests.RequestException as exc:
        why = "no answer in time" if isinstance(exc, requests.Timeout) else "nothing answers there"
        fail(f"cannot reach {target}: {why} (is `bridge serve` running?)")
    click.echo(f"{answer.status_code} {answer.reason}", err=True)
    click.echo(answer.text.strip())
    sys.exit(0 if 200 <= answer.status_code < 300 else 1)
