"""``bridge package FILE``: the handoff package a saved event would produce, for a person to read.

Offline by default: the trigger engine and the extractive summary run locally and nothing is sent
anywhere. ``--llm`` asks the configured OpenAI-compatible endpoint for the summary (redacted first).
The pipeline is imported inside the command, for start-up speed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("package")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Platform slug of a raw payload (default: the generic schema).")
@click.option("--json", "as_json", is_flag=True, help="Print the package as JSON instead of Markdown.")
@click.option("--llm", is_flag=True, help="Use the LLM summary when OPENAI_API_KEY is set (network call).")
def package(file: Path, source: str | None, as_json: bool, llm: bool) -> None:
    """Print the handoff package of an event FILE as Markdown (or --json)."""
    from bridge.adapters.files import load_events
    from bridge.pipeline import triggers
    from bridge.pipeline.package import build_package
    from bridge.pipeline.render import markdown

    try:
        events = load_events(file, source)
    except (ValueError, OSError) as exc:
        click.echo(f"{file.name}: {exc}", err=True)
        sys.exit(2)
    if not events:
        click.echo(f"{file.name}: no event in this file", err=True)
        sys.exit(2)
    event = events[-1]
    decision = triggers.decide(event)
    if not decision.escalate:
        click.echo(f"{file.name}: the trigger engine would not escalate this conversation yet", err=True)
    summary = None
    if llm:
        from bridge.config import ConfigError, Settings
        from bridge.worker.summarizer import summarize

        try:
            settings = Settings.from_env()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        summary = summarize(event, decision, settings, case_id=f"cli-{event.conversation.id}")
    built = build_package(f"cli-{event.conversation.id}", source or "generic", event, decision, summary=summary)
    if as_json:
        click.echo(json.dumps(built.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(markdown(built), nl=False)
