"""``bridge route``: the routing decision for a saved event and why, or a replay of stored cases.

``bridge route FILE`` runs the trigger engine and the package's priority on a generic event, then
the rules of ``ROUTING_FILE`` (or ``--routing``), and prints the team, the one owner, the rules
tried and every member's reason. ``bridge route --replay --since 30d`` re-routes the escalated
cases in the store with the current (or a candidate) routing file and prints what would change,
so a rule can be tested on real traffic before it goes live. Both are read-only.
The adapters, the package builder and the store are imported inside the functions, for start-up speed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bridge.cli.common import fail, load_settings, parse_at, parse_since
from bridge.config import Settings
from bridge.pipeline.route import RouteDecision, RouteFacts, route
from bridge.pipeline.route_config import Routing, RoutingError
from bridge.pipeline.routing_file import default_routing, load_routing


def _routing(settings: Settings, override: Path | None) -> tuple[Routing, str]:
    path = str(override or settings.routing_file or "")
    try:
        if path:
            return load_routing(path), path
        return default_routing(settings), "built-in default (ROUTING_FILE is not set)"
    except RoutingError as exc:
        click.echo(f"routing file refused:\n{exc}", err=True)
        sys.exit(2)


@click.command("route")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--routing", "routing_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Routing file to use instead of ROUTING_FILE (try a change before it goes live).")
@click.option("--at", "at", default=None, help="Route as of this time (ISO 8601 with offset; default now).")
@click.option("--replay", is_flag=True, help="Re-route the store's escalated cases and show what would change.")
@click.option("--since", default="30d", show_default=True, help="With --replay: how far back (30d, 12h, 2w).")
@click.option("--explain", is_flag=True, help="With --replay: print every case's full reasons, changed or not.")
def route_command(file: Path | None, as_json: bool, routing_path: Path | None, at: str | None,
                  replay: bool, since: str, explain: bool) -> None:
    """Print the routing decision for a generic event FILE and why, or --replay stored cases."""
    if replay == (file is not None):
        raise click.UsageError("give either an event FILE or --replay")
    settings = load_settings()
    routing, source = _routing(settings, routing_path)
    if replay:
        _replay(settings, routing, source, parse_since(since), parse_at(at), as_json, explain)
    else:
        assert file is not None
        _route_file(file, routing, source, parse_at(at), as_json)


def _route_file(file: Path, routing: Routing, source: str, now: datetime, as_json: bool) -> None:
    from bridge.adapters.base import AdapterError, load_json, validate_event
    from bridge.pipeline.package import build_package
    from bridge.pipeline.triggers import decide

    try:
        event = validate_event(load_json(file.read_bytes()))
    except AdapterError as exc:
        fail(f"{file.name}: {exc}", one_line=False)
        return
    decision = decide(event)
    priority = build_package(f"cli-{event.conversation.id}", "generic", event, decision).priority
    facts = RouteFacts.from_event(event, decision, priority)
    # No store here: everyone counts as having no open cases, so ties go to the roster's first.
    result = route(facts, routing, now, open_cases={}, last_assigned={})
    if as_json:
        click.echo(json.dumps({"file": file.name, "escalate": decision.escalate, "at": now.isoformat(),
                               "facts": facts.model_dump(mode="json"), **result.to_json()},
                              indent=2, ensure_ascii=False))
        return
    click.echo(f"{file.name} at {now:%Y-%m-%d %H:%M %Z} (routing: {source})")
    if not decision.escalate:
        click.echo("note:     the trigger engine would not escalate this conversation yet; routed anyway")
    click.echo(f"facts:    {_facts_line(facts)}")
    for line in result.explain():
        click.echo(line)


def _facts_line(facts: RouteFacts) -> str:
    shown = {"triggers": ",".join(facts.triggers) or None, "topic": facts.topic, "plan": facts.plan,
             "mrr": f"{facts.mrr:g}" if facts.mrr is not None else None, "language": facts.language,
             "platform": facts.platform, "priority": facts.priority, "customer": facts.customer,
             "company": facts.company}
    return ", ".join(f"{k} {v}" for k, v in shown.items() if v)


# --- replay -----------------------------------------------------------------------------------

@dataclass
class _Replayed:
    case_id: str
    at: datetime
    stored_team: str | None
    stored_owner: str | None
    decision: RouteDecision | None
    error: str = ""

    @property
    def changes(self) -> list[str]:
        if self.decision is None:
            return []
        out = []
        if self.stored_team != self.decision.team.id:
            out.append("team")
        owner = self.decision.owner
        if (self.stored_owner or None) != (owner.key if owner else None) and not (
                owner and self.stored_owner == owner.name):
            out.append("owner")
        return out


def _replay(settings: Settings, routing: Routing, source: str, window: timedelta, now: datetime,
            as_json: bool, explain: bool) -> None:
    from bridge.errors import reason
    from bridge.runtime import Runtime
    from bridge.store.admin_repo import StoreReadError, cases_escalated_or_created_since

    rt = Runtime.build(settings)
    cutoff = now - window
    try:
        rows = cases_escalated_or_created_since(rt.store, cutoff)
    except StoreReadError as exc:
        fail(f"cannot read cases from the store ({rt.store.dialect}): {reason(exc.cause)}; "
             "has it been created (bridge serve / bridge worker migrate it)?", one_line=False)
    rows = sorted((r for r in rows if r.escalated_at or r.team or (r.decision or {}).get("escalate")),
                  key=lambda r: r.escalated_at or r.created_at)
    replayed = _simulate(rows, routing)
    if as_json:
        click.echo(json.dumps(_replay_json(replayed, source, cutoff), indent=2, ensure_ascii=False))
        return
    click.echo(f"Replaying {len(replayed)} escalated case(s) since {cutoff:%Y-%m-%d %H:%M %Z} "
               f"(routing: {source})")
    for item in replayed:
        if item.error:
            click.echo(f"! {item.case_id}: not replayed: {item.error}")
            continue
        if item.changes or explain:
            click.echo(_replay_line(item))
        if explain:
            assert item.decision is not None
            click.echo("\n".join("    " + line for line in item.decision.explain()))
    changed = [i for i in replayed if i.changes]
    kinds = Counter(k for i in changed for k in i.changes)
    click.echo(f"{len(replayed)} case(s): {len(changed)} would change "
               f"({kinds['team']} team, {kinds['owner']} owner), {len(replayed) - len(changed)} unchanged")


def _simulate(rows: Sequence[Any], routing: Routing) -> list[_Replayed]:
    """Route in escalation order, rebuilding load and rotation from the replayed cases themselves.

    The stored load at the time is not kept, so each replayed assignment counts as an open case of
    its new owner until the case was resolved or closed; cases before the window count as none.
    """
    from pydantic import ValidationError

    from bridge.events import Decision, Event
    from bridge.pipeline.package import build_package
    from bridge.pipeline.triggers import decide

    open_until: list[tuple[datetime | None, str]] = []
    last: dict[str, str] = {}
    out: list[_Replayed] = []
    for row in rows:
        at = row.escalated_at or row.created_at
        item = _Replayed(row.id, at, row.team, row.owner, None)
        out.append(item)
        try:
            event = Event.model_validate(row.event)
            try:
                decision = Decision.model_validate(row.decision) if row.decision else decide(event)
            except ValidationError:
                decision = decide(event)
            priority = row.priority or build_package(row.id, row.platform, event, decision).priority
        except ValidationError as exc:
            item.error = f"the stored event does not validate ({exc.error_count()} error(s))"
            continue
        open_until = [(until, key) for until, key in open_until if until is None or until > at]
        load = Counter(key for _, key in open_until)
        facts = RouteFacts.from_event(event, decision, priority, platform=row.platform)
        item.decision = route(facts, routing, at, load, last)
        if item.decision.owner:
            key = item.decision.owner.key
            open_until.append((row.resolved_at or row.closed_at, key))
            last[item.decision.team.id] = key
    return out


def _replay_line(item: _Replayed) -> str:
    d = item.decision
    assert d is not None
    owner = f"{d.owner.name} <@{d.owner.key}>" if d.owner else "no one on shift"
    mark = "~" if item.changes else "="
    head = f"{mark} {item.case_id} · {item.at:%Y-%m-%d %H:%M %Z} · "
    team = f"team {item.stored_team or '-'} → {d.team.id}" if "team" in item.changes else f"team {d.team.id}"
    who = f"owner {item.stored_owner or '-'} → {owner}" if "owner" in item.changes else f"owner {owner}"
    chosen = next((c.reason for c in d.considered if c.status == "chosen"), "")
    why = f"rule {d.rule!r}" + (f"; {chosen}" if chosen else "; no one on shift")
    return f"{head}{team} · {who}\n    why: {why}"


def _replay_json(replayed: list[_Replayed], source: str, cutoff: datetime) -> dict[str, Any]:
    cases = [{"case": i.case_id, "at": i.at.isoformat(), "stored": {"team": i.stored_team, "owner": i.stored_owner},
              "changes": i.changes, "error": i.error or None,
              "routed": i.decision.to_json() if i.decision else None} for i in replayed]
    return {"routing": source, "since": cutoff.isoformat(), "cases": cases,
            "changed": sum(1 for i in replayed if i.changes), "total": len(replayed)}
