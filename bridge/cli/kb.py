"""``bridge kb list|done``: knowledge-base suggestions drafted from human answers to content gaps.

The loop's KB module is imported inside the commands, for start-up speed.
"""

from __future__ import annotations

import json
import sys

import click

from bridge.cli.common import runtime


@click.group("kb")
def kb_group() -> None:
    """Knowledge-base suggestions drafted from human answers to content gaps."""


@kb_group.command("list")
@click.option("--status", type=click.Choice(["suggested", "done"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def kb_list(status: str | None, as_json: bool) -> None:
    from bridge.loop import kb

    rows = kb.listing(runtime(migrate=True), status)
    if not rows and not as_json:
        click.echo("no KB suggestions")
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['id']}  {row['status']:<9}  {row['source']:<8}  case={row['case']}  {row['title']}")


@kb_group.command("done")
@click.argument("ident", type=int)
@click.option("--by", default="cli:kb", show_default=True, help="Who made the KB change.")
@click.option("--url", default=None, help="Link to the article that was written or changed.")
def kb_done(ident: int, by: str, url: str | None) -> None:
    """Mark suggestion ID as done: the KB change is made (counts as a conversion)."""
    from bridge.loop import kb

    if not kb.mark_done(runtime(migrate=True), ident, by, url):
        click.echo(f"{ident} is not an open KB suggestion", err=True)
        sys.exit(2)
    click.echo(f"KB suggestion {ident} marked done")
