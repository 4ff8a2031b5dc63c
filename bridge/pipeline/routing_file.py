"""Reading the routing file: YAML with line numbers for every problem, cross-checks between teams
and rules, and the routing in force (``ROUTING_FILE`` or the default one-team routing)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bridge.config import Settings
from bridge.pipeline.route_config import Routing, RoutingError, Team


def _references(routing: Routing) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-checks pydantic cannot do field by field, with the location each one is about."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    ids: dict[str, int] = {}
    for i, team in enumerate(routing.teams):
        if team.id in ids:
            problems.append((("teams", i, "id"), f"team id {team.id!r} is already used by teams[{ids[team.id]}]"))
        ids.setdefault(team.id, i)
    known = ", ".join(ids)
    if routing.default_team is None and len(routing.teams) > 1:
        problems.append(((), "default_team is required when there is more than one team"))
    elif routing.default_team is not None and routing.default_team not in ids:
        problems.append((("default_team",), f"unknown team {routing.default_team!r} (teams: {known})"))
    names: set[str] = set()
    for i, rule in enumerate(routing.rules):
        if rule.then.team not in ids:
            problems.append((("rules", i, "then", "team"), f"unknown team {rule.then.team!r} (teams: {known})"))
        if rule.name in names:
            problems.append((("rules", i, "name"), f"rule name {rule.name!r} is used twice"))
        names.add(rule.name)
    return problems


def _node_at(root: yaml.Node, loc: Sequence[Any]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (dict keys, list indexes)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node = value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        elif part == "[key]":
            continue
        else:
            return node
    return node


def _duplicate_keys(node: yaml.Node, path: str) -> list[str]:
    """PyYAML keeps the last of two equal keys without a word; a routing file must not."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                problems.append(f"{path}:{key.start_mark.line + 1}: {key.value}: key given twice")
            seen.add(key.value)
            problems += _duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(item, path)
    return problems


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "(file)"


def parse_routing(text: str, path: str = "<routing>") -> Routing:
    """Validate a routing document; every problem names its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RoutingError([f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    if root is None or not isinstance(data, dict):
        raise RoutingError([f"{path}:1: a routing file is a mapping with teams, rules and default_team"])
    if dupes := _duplicate_keys(root, path):
        raise RoutingError(dupes)
    try:
        routing = Routing.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            line = _node_at(root, err["loc"]).start_mark.line + 1
            reason = err["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{line}: {_where(err['loc'])}: {reason}")
        raise RoutingError(problems) from None
    if refs := _references(routing):
        raise RoutingError([f"{path}:{_node_at(root, loc).start_mark.line + 1}: {_where(loc)}: {why}"
                            for loc, why in refs])
    return routing


def load_routing(path: str | Path) -> Routing:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingError([f"{path}:0: cannot read the routing file: {exc}"]) from None
    return parse_routing(text, str(path))


def default_routing(settings: Settings) -> Routing:
    """No ROUTING_FILE: one memberless team, so every case lands in a channel marked "no one on shift"."""
    channel = settings.slack.channel or "#support"
    return Routing(teams=[Team(id="support", name="Support", slack_channel=channel)], default_team="support")


def routing_for(settings: Settings) -> Routing:
    """The routing in force: ``ROUTING_FILE`` when set (refused if invalid), else the default."""
    path = settings.routing_file
    return load_routing(path) if path else default_routing(settings)
