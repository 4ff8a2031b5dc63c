"""``bridge dlq list`` and ``bridge replay``: dead letters and sending them through again.

The store and the worker are imported inside the commands, for start-up speed.
"""

from __future__ import annotations

import json

import click

from bridge.cli.common import fail, runtime
from bridge.errors import plain_error


@click.group()
def dlq() -> None:
    """Dead letters: events and deliveries that ran out of attempts."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of the dead letters (`[]` when none).")
def dlq_list(as_json: bool) -> None:
    from bridge.store import admin_repo

    rt = runtime(migrate=True)
    with rt.store.session() as s:
        inbox, deliveries, vendor = admin_repo.dead_letters(s)
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


@click.command()
@click.argument("ident", required=False)
@click.option("--all-dead", is_flag=True, help="Replay every dead letter.")
def replay(ident: str | None, all_dead: bool) -> None:
    """Send a dead event (hb-…) or delivery (dl-N) through again; safe to repeat."""
    from bridge.store import admin_repo
    from bridge.worker import handover

    if bool(ident) == all_dead:
        raise click.UsageError("give exactly one of ID or --all-dead")
    rt = runtime(migrate=True)
    if all_dead:
        with rt.store.session() as s:
            inbox, deliveries, vendor = admin_repo.dead_letters(s)
            idents = [r.key for r in inbox] + [f"dl-{d.id}" for d in deliveries] + [f"ve-{v.id}" for v in vendor]
    else:
        idents = [ident or ""]
    replayed = [i for i in idents if handover.replay(i, rt)]
    if rt.queue.kind == "in-process":
        from bridge.worker.runner import run_due

        run_due(rt)  # no `bridge serve` may be running: do the work now
    for i in replayed:
        click.echo(f"replayed {i}")
    if ident and not replayed:
        fail(f"{ident} is not a dead letter")
