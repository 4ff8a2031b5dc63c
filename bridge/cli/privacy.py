"""``bridge purge`` and ``bridge forget``: retention and erasure of personal data.

The worker's privacy module is imported inside the commands, for start-up speed.
"""

from __future__ import annotations

import click

from bridge.cli.common import runtime


@click.command()
@click.option("--days", type=int, default=None, help="Retention in days (default BRIDGE_RETENTION_DAYS or 90).")
def purge(days: int | None) -> None:
    """Scrub payloads and transcripts of cases older than the retention period (metrics stay)."""
    from bridge.worker import privacy

    rt = runtime(migrate=True)
    for line in privacy.purge(rt, days or privacy.retention_days(rt)).lines():
        click.echo(line)


@click.command()
@click.option("--email", "emails", multiple=True, help="The customer's email (repeatable).")
@click.option("--customer-id", "customer_ids", multiple=True, help="The customer's platform id (repeatable).")
def forget(emails: tuple[str, ...], customer_ids: tuple[str, ...]) -> None:
    """Erase one customer's personal data from the store and the outbox; list the vendors' copies."""
    from bridge.worker import privacy

    if not emails and not customer_ids:
        raise click.UsageError("give --email or --customer-id")
    rt = runtime(migrate=True)
    for line in privacy.forget(rt, emails, customer_ids).lines():
        click.echo(line)
