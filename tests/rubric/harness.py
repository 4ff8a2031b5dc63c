"""Run a rubric scenario through the real pipeline and read what each reader would see.

A scenario is a folder written blind by someone who never read the builders: ``event.json`` (a
generic event, as a bot would post it), sometimes ``followup.json`` (what the customer sends after
the escalation: one event or a list), ``facts.json`` (the checks) and ``README.md`` (the story).

The run is the product's own path on the dry-run outbox: the event is posted signed to
``/webhooks/generic`` with the test client, the in-process runner does the work, the follow-up is
posted the same way, and then the routed owner takes the case in Slack (so the customer-facing
``handoff.accepted`` message is produced too). What each reader sees is then read back from the
outbox files:

- ``ticket``: the Zendesk subject and every note on the ticket (the package note, the bug link,
  ownership notes, follow-ups);
- ``bug``: the Jira summary, description and every comment the bridge adds;
- ``alert``: everything posted to Slack (the channel post and its updates, thread replies, pages,
  the DM to the owner);
- ``customer``: what the customer can see: the ticket subject (Zendesk emails it to the
  requester), the message the bot relays when a person takes the case, the questions handed back
  to the bot (``needs_more``), the opening line suggested to the human, and any public reply.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
SCENARIOS = ROOT / "scenarios"
ROUTING = ROOT / "routing.yaml"
WHERE = ("ticket", "bug", "alert", "customer")


@dataclass(frozen=True)
class Scenario:
    name: str
    folder: Path
    event: dict[str, Any]
    followups: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    readme: str

    @property
    def title(self) -> str:
        for line in self.readme.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
        return self.name


def load(folder: Path) -> Scenario:
    event = json.loads((folder / "event.json").read_text(encoding="utf-8"))
    followups: list[dict[str, Any]] = []
    if (folder / "followup.json").exists():
        data = json.loads((folder / "followup.json").read_text(encoding="utf-8"))
        followups = data if isinstance(data, list) else [data]
    facts = json.loads((folder / "facts.json").read_text(encoding="utf-8"))
    checks = facts.get("checks", []) if isinstance(facts, dict) else facts
    readme = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").exists() else ""
    return Scenario(folder.name, folder, event, followups, list(checks), readme)


def scenarios(root: Path = SCENARIOS) -> list[Scenario]:
    if not root.is_dir():
        return []
    return [load(folder) for folder in sorted(root.iterdir())
            if folder.is_dir() and (folder / "event.json").exists() and (folder / "facts.json").exists()]


# --- running ---------------------------------------------------------------------------------

@dataclass
class Seen:
    """What each reader sees, as plain text, and the files it came from."""

    texts: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    case_id: str = ""


def _when(event: dict[str, Any]) -> datetime | None:
    stamps = [event.get("occurred_at")] + [m.get("sent_at") for m in event.get("conversation", {}).get("messages", [])]
    parsed = []
    for stamp in stamps:
        if isinstance(stamp, str):
            try:
                parsed.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            except ValueError:
                continue
    return max(parsed) if parsed else None


class _Clock:
    """The scenario's own time: a minute after the newest message of each event as it arrives
    (never backwards), so waiting times and "still live" read as they would have that day."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def at(self, event: dict[str, Any]) -> None:
        when = _when(event)
        if when is not None:
            later = when + timedelta(minutes=1)
            self.now = later if self.now is None or later > self.now else self.now + timedelta(minutes=1)
        elif self.now is not None:
            self.now += timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


def runtime(workdir: Path, clock: Any = None, **extra: str) -> tuple[Any, Any]:
    """A runtime on the dry-run outbox in ``workdir`` with the rubric routing, and its Flask app."""
    from bridge import create_app
    from bridge.config import Settings
    from bridge.runtime import Runtime, install
    from bridge.store.migrate import upgrade
    from tests.helpers import SECRET

    settings = Settings(data_dir=workdir / "var", webhook_secrets={"generic": (SECRET,)}, retry_intervals=(0, 0),
                        sweep_age=0, admin_token="admin-test-token-0123456789",
                        extra={"ROUTING_FILE": str(ROUTING), "BRIDGE_PUBLIC_URL": "https://bridge.example.com",
                               **extra})
    rt = Runtime.build(settings)
    if clock is not None:
        rt.clock = clock
    install(rt)
    upgrade(rt.store)
    return rt, create_app(rt=rt)


def play(scenario: Scenario, rt: Any, app: Any, clock: _Clock) -> tuple[str, list[str]]:
    """Post the event and the follow-ups signed, run the pipeline after each, then the routed owner
    takes the case. Returns the case id and the status URLs of the events."""
    from bridge.loop import ownership
    from bridge.store import repo
    from bridge.worker.runner import run_due
    from tests.helpers import signed_headers

    client = app.test_client()
    status_urls: list[str] = []
    case_id = ""
    for event in [scenario.event, *scenario.followups]:
        clock.at(event)
        body = json.dumps(event).encode()
        answer = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
        assert answer.status_code in (200, 202), (scenario.name, answer.status_code, answer.get_json())
        data = answer.get_json()
        case_id = case_id or data["case"]
        status_urls.append(data["status"])
        run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        owner = case.owner if case else None
    if owner:
        clock.now = clock() + timedelta(minutes=2)
        ownership.take(rt, case_id, owner, via="slack")
        run_due(rt)
    return case_id, status_urls


def run(scenario: Scenario, workdir: Path) -> Seen:
    """The scenario through the real pipeline on the dry-run outbox, in ``workdir``."""
    clock = _Clock()
    rt, app = runtime(workdir, clock)
    case_id, status_urls = play(scenario, rt, app, clock)
    client = app.test_client()
    needs_more: list[str] = []
    for url in status_urls:
        status = client.get(url.replace("http://localhost", "")).get_json() or {}
        needs_more = status.get("needs_more") or needs_more
    seen = read_outbox(rt.settings.outbox_dir / case_id)
    seen.case_id = case_id
    if needs_more:
        seen.texts["customer"] += "\n" + "\n".join(needs_more)
    return seen


def _slack_text(request: dict[str, Any]) -> list[str]:
    parts = [str(request.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str) or key == "url" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(request.get("blocks") or [])
    return parts


def read_outbox(folder: Path) -> Seen:
    seen = Seen(texts={where: "" for where in WHERE}, files={where: [] for where in WHERE})

    def add(where: str, name: str, *texts: Any) -> None:
        seen.texts[where] += "\n" + "\n".join(str(t) for t in texts if t)
        seen.files[where].append(name)

    documents = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in documents:
        request = json.loads(path.read_text(encoding="utf-8")).get("request", {})
        step = path.stem
        base = step.split("#", 1)[0]
        if base == "zendesk.ticket":
            add("ticket", path.name, request.get("subject"), (request.get("comment") or {}).get("body"))
            add("customer", path.name, request.get("subject"))  # Zendesk e-mails the subject
        elif base.startswith("zendesk."):
            comment = request.get("comment") or {}
            add("customer" if comment.get("public") else "ticket", path.name, comment.get("body"))
        elif base.startswith("jira."):
            add("bug", path.name, request.get("summary"), request.get("description"), request.get("comment"))
        elif base.startswith("slack."):
            add("alert", path.name, *_slack_text(request))
        elif base == "bot.callback":
            add("customer", path.name, request.get("message"))
        if base == "zendesk.ticket" and _opening(request):
            add("customer", path.name, _opening(request))  # written for the human to send
    return seen


_OPENING = re.compile(r"Suggested opening line \([^)]*\)\n-+\n(.+?)(?:\n\n|\Z)", re.S)


def _opening(request: dict[str, Any]) -> str:
    body = (request.get("comment") or {}).get("body") or ""
    match = _OPENING.search(body)
    return match.group(1).strip() if match else ""


# --- checking --------------------------------------------------------------------------------

def normalize(text: str) -> str:
    """Case, accents, typographic quotes and runs of spaces do not decide a fact."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    return " ".join(text.split())


def _terms(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class Outcome:
    check: dict[str, Any]
    passed: bool
    detail: str


def check(checks: list[dict[str, Any]], seen: Seen) -> list[Outcome]:
    outcomes = []
    for item in checks:
        where = str(item.get("where", ""))
        haystack = normalize(seen.texts.get(where, ""))
        problems = []
        if where not in WHERE:
            problems.append(f"unknown place {where!r}")
        missing = [t for t in _terms(item.get("must_contain")) if normalize(t) not in haystack]
        if missing:
            problems.append("missing " + ", ".join(repr(t) for t in missing))
        present = [t for t in _terms(item.get("must_not_contain")) if normalize(t) in haystack]
        if present:
            problems.append("contains " + ", ".join(repr(t) for t in present))
        # any_of: alternatives, each a list of strings that must all be present (or one string).
        alternatives = [_terms(alt) for alt in item.get("any_of") or []]
        if alternatives and not any(all(normalize(t) in haystack for t in alt) for alt in alternatives):
            problems.append("none of " + " | ".join(" + ".join(repr(t) for t in alt) for alt in alternatives))
        outcomes.append(Outcome(item, not problems, "; ".join(problems)))
    return outcomes
