"""``bridge triage``: judge conversation files, replay stored cases, score or rebuild the judge.

- ``bridge triage [--source SLUG] [--judge local|llm|both] FILE...``: one JSON line per file
  (DESIGN.md §5): ``{"file", "escalate", "triggers", "at_message"}``, plus ``judge``, ``evidence`` and,
  when the LLM's answer was not used, ``llm_error`` with ``--judge llm|both``.
- ``bridge triage --replay --since 30d [--judge …] [--json]``: re-judge the store's conversations with
  the current judge and list the cases it would decide differently (escalate or not, triggers,
  message), so a new model or threshold can be adopted knowing what changes. Read-only.
- ``bridge triage eval [--judge …] [--split test|train|all]``: the judge on the corpus in
  ``data/triage/``, scored with the metrics of the shared evaluation set.
- ``bridge triage train [--nested [FOLDS]]``: rebuild the shipped judge from the training part of the
  corpus (needs scikit-learn: ``pip install -e '.[train]'``), deterministically; prints the
  out-of-fold scores and, with ``--nested``, the nested cross-validation figures (``judge_nested``).

``--judge llm`` and ``both`` need ``OPENAI_API_KEY`` (exit 2 without it). The LLM is asked only where
the local judge is uncertain or the bot hands off (``bridge.pipeline.llm_judge``).

``triage`` is a click group whose first argument is either a subcommand (``eval``, ``train``) or
belongs to the file-judging command (an option, a file name): ``TriageGroup`` routes it. A file
named like a subcommand is given as ``./eval``.

The judges, the corpus tools and the store are imported inside the functions, for start-up speed.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bridge.cli.common import fail, load_settings, parse_at, parse_since
from bridge.config import Settings

if TYPE_CHECKING:
    from bridge.pipeline.llm_judge import JudgeOptions

# As in bridge.pipeline.llm_judge and triage_eval, kept here so that `bridge --help` loads neither.
MODES = ("local", "llm", "both")
SPLITS = ("test", "train", "all")
_FILES = "files"  # the hidden name of the file-judging command


class _Context(click.Context):
    @property
    def command_path(self) -> str:
        return super().command_path.rstrip()  # "bridge triage", not "bridge triage " (no visible name)


class _FilesCommand(click.Command):
    context_class = _Context


class TriageGroup(click.Group):
    """``bridge triage eval|train …`` are subcommands; anything else goes to the file-judging command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [_FILES, *args]
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return ("" if name == _FILES else name), command, rest


def _judge(settings: Settings, mode: str) -> JudgeOptions:
    from bridge.pipeline.llm_judge import options_from_settings

    options = options_from_settings(settings, mode)
    if mode != "local" and not options.api_key:
        fail(f"bridge triage: --judge {mode} needs OPENAI_API_KEY, which is not set")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    return options




@click.group("triage", cls=TriageGroup)
def triage() -> None:
    """Would the judge escalate these conversations? Also --replay, eval and train."""


@triage.command(_FILES, cls=_FilesCommand, hidden=True, epilog=(
    "Also: 'bridge triage eval [--judge local|llm|both] [--split test|train|all]' scores the judge on "
    "data/triage; 'bridge triage train' rebuilds the shipped judge."))
@click.option("--source", default=None, help="Platform slug of the files (default: generic event or conversation).")
@click.option("--judge", "mode", type=click.Choice(MODES), default="local", show_default=True,
              help="llm: the LLM's verdict where it is asked; both: escalate if either judge does. "
                   "llm and both need OPENAI_API_KEY.")
@click.option("--replay", is_flag=True, help="Re-judge the store's conversations and list what would change.")
@click.option("--since", default="30d", show_default=True, help="With --replay: how far back (30d, 12h, 2w).")
@click.option("--at", "at", default=None, help="With --replay: the window ends here (ISO 8601; default now).")
@click.option("--json", "as_json", is_flag=True, help="With --replay: one JSON document instead of text.")
@click.argument("files", nargs=-1, metavar="FILE...", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def judge_files(source: str | None, mode: str, replay: bool, since: str, at: str | None, as_json: bool,
                files: tuple[Path, ...]) -> None:
    """For each FILE, one JSON line: would the judge escalate, why, and at which message.

    With --replay instead of files: re-judge stored conversations and list the cases the current
    judge would decide differently."""
    if replay == bool(files):
        raise click.UsageError("give conversation FILE... or --replay")
    window = parse_since(since) if replay else None
    options = _judge(load_settings(), mode)
    if replay:
        assert window is not None
        _replay(options, window, parse_at(at), as_json)
        return
    from bridge.adapters.base import Handshake
    from bridge.adapters.files import triage_file

    status = 0
    for path in files:
        try:
            result = triage_file(path, source, judge=options)
        except ValueError as exc:
            click.echo(f"{path.name}: {exc}", err=True)
            status = 2
            continue
        except Handshake:
            click.echo(f"{path.name}: a {source} verification handshake, not a conversation", err=True)
            status = 2
            continue
        click.echo(json.dumps(result, ensure_ascii=False))
    sys.exit(status)


@triage.command("train")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Corpus folder (labels.json, split.json, conversations/); default the repository's data/triage.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the model; default the shipped bridge/pipeline/judge_model.json.gz.")
@click.option("--nested", type=click.IntRange(min=2), is_flag=False, flag_value=5, default=None, metavar="[FOLDS]",
              help="Also measure the training procedure by nested cross-validation (5 outer folds unless given: "
                   "about 5 minutes for the repository's corpus on two cores).")
def train(corpus: Path | None, out: Path | None, nested: int | None) -> None:
    """Rebuild the shipped judge from the corpus in data/triage, deterministically (never from the
    locked test split), and print its out-of-fold scores (in-sample thresholds: optimistic) and, with
    --nested, the nested cross-validation figures that compare training procedures honestly."""
    from bridge.pipeline import judge_train, trigger_config
    from bridge.pipeline.triage_eval import default_corpus

    root = corpus or default_corpus()
    try:
        import sklearn  # noqa: F401
    except ImportError:
        fail("bridge triage train needs scikit-learn: pip install -e '.[train]'")
        return
    if not (root / "labels.json").exists():
        fail(f"no corpus in {root} (give one with --corpus DIR)")
        return
    model, report = judge_train.train(root, trigger_config.from_settings(load_settings()))
    target = out or judge_train.shipped_path()
    judge_train.write(model, target)
    if nested:
        from bridge.pipeline import judge_nested

        examples = judge_train.load_corpus(root, "train")
        outcome = judge_nested.nested(examples, trigger_config.from_settings(load_settings()), outer=nested)
        report["nested_cv"] = judge_nested.summary(outcome, examples)
    click.echo(json.dumps({"model": str(target), **report}, ensure_ascii=False))


@triage.command("eval")
@click.option("--judge", "mode", type=click.Choice(MODES), default="local", show_default=True,
              help="The judge to score; llm and both need OPENAI_API_KEY.")
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True,
              help="test: the locked split of split.json; train: the rest; all: every labelled file.")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Corpus folder (labels.json, split.json, conversations/); default the repository's data/triage.")
@click.option("--ask-all", is_flag=True,
              help="Ask the LLM about every conversation, not only where the local judge is uncertain or the "
                   "bot hands off: measures the LLM itself rather than the deployed combination.")
@click.option("--misses", is_flag=True, help="List every file with a problem.")
@click.option("--json", "as_json", is_flag=True, help="The scores as one JSON document.")
def eval_command(mode: str, split: str, corpus: Path | None, ask_all: bool, misses: bool, as_json: bool) -> None:
    """Score the judge on the corpus (recall, false escalation, trigger exactness, on time)."""
    from bridge.adapters.files import load_conversation
    from bridge.pipeline import llm_judge
    from bridge.pipeline.triage_eval import default_corpus, load_corpus, report, score, summary_line
    from bridge.pipeline.triggers import decide

    options = _judge(load_settings(), mode)
    root = corpus or default_corpus()
    try:
        labels, files = load_corpus(root, split)
    except ValueError as exc:
        fail(f"{exc}" if corpus else f"{exc} (give the corpus folder with --corpus DIR)", one_line=False)
        return
    local_preds: dict[str, dict[str, Any]] = {}
    preds: dict[str, dict[str, Any]] = {}
    asked = cached = failed = voided = 0
    for done, path in enumerate(files, start=1):
        try:
            event = load_conversation(path)
        except ValueError as exc:
            click.echo(f"{path.name}: {exc}", err=True)
            continue
        local = decide(event)
        local_preds[path.name] = _line(local)
        if ask_all:
            local = local.model_copy(update={"uncertain": True})
        outcome = llm_judge.run(event, local, options)
        preds[path.name] = _line(outcome.decision)
        asked, cached = asked + outcome.asked, cached + outcome.cached
        failed, voided = failed + bool(outcome.error), voided + len(outcome.voided)
        if outcome.asked and not outcome.cached and done % 25 == 0:
            click.echo(f"  {done}/{len(files)} conversations", err=True)
    result = score(labels, preds)
    baseline = score(labels, local_preds) if mode != "local" else None
    llm = {"model": options.model, "asked": asked, "cached": cached, "failed": failed, "voided": voided}
    if as_json:
        click.echo(json.dumps({"judge": mode, "split": split, "corpus": str(root),
                               "llm": llm if mode != "local" else None, "score": result, "local": baseline},
                              indent=2, ensure_ascii=False))
        return
    click.echo(f"judge {mode} on the {split} split of {root}: {len(files)} conversations "
               f"({result['positives']} should escalate, {result['negatives']} should not)")
    if mode != "local":
        click.echo(f"LLM {options.model}: asked about {asked} ({cached} from the cache), unusable {failed}, "
                   f"{voided} trigger(s) voided for a quote not in the transcript")
    for line in report(result):
        click.echo(line)
    if misses:
        for miss in result["misses"]:
            click.echo(f"  {miss['file']}: {'; '.join(miss['problems'])}")
    if baseline is not None:
        click.echo(f"local judge alone: {summary_line(baseline)}")
    click.echo(summary_line(result))


def _line(decision: Any) -> dict[str, Any]:
    return {"escalate": decision.escalate, "triggers": decision.trigger_ids, "at_message": decision.at_message}


# --- replay -----------------------------------------------------------------------------------------

@dataclass
class _Rejudged:
    case_id: str
    at: datetime
    status: str
    stored: dict[str, Any]
    now: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    llm_error: str = ""

    @property
    def changes(self) -> list[str]:
        now, stored = self.now, self.stored
        if now is None:
            return []
        if now["escalate"] != stored["escalate"]:
            return ["escalate"]
        if not now["escalate"]:
            return []
        out = []
        if set(now["triggers"]) != set(stored["triggers"]):
            out.append("triggers")
        if stored["at_message"] is not None and now["at_message"] != stored["at_message"]:
            out.append("message")  # unknown for cases stored without a decision: not compared
        return out


def _stored(row: Any) -> dict[str, Any]:
    decision = row.decision if isinstance(row.decision, dict) else {}
    escalated = bool(decision.get("escalate")) or row.escalated_at is not None
    if not escalated:
        return {"escalate": False, "triggers": [], "at_message": None}
    ids = [h.get("trigger") for h in decision.get("triggers") or [] if isinstance(h, dict)]
    at = decision.get("at_message")
    return {"escalate": True, "triggers": list(dict.fromkeys(t for t in ids or row.triggers or [] if t)),
            "at_message": at if isinstance(at, int) and not isinstance(at, bool) else None}


def _rejudge(rows: list[Any], options: JudgeOptions) -> list[_Rejudged]:
    from pydantic import ValidationError

    from bridge.events import Event
    from bridge.pipeline.triage import judge_event

    out = []
    for row in rows:
        item = _Rejudged(row.id, row.created_at, row.status, _stored(row))
        out.append(item)
        try:
            event = Event.from_json(row.event or {})
        except ValidationError as exc:
            item.error = f"the stored event does not validate ({exc.error_count()} error(s))"
            continue
        if not event.conversation.messages:
            item.error = "the transcript was purged"
            continue
        outcome = judge_event(event, None, options)
        decision = outcome.decision
        item.now = {**_line(decision), "judge": decision.judge}
        item.evidence = [hit.to_json() for hit in decision.triggers]
        item.llm_error = outcome.error or ""
    return out


def _replay(options: JudgeOptions, window: timedelta, now: datetime, as_json: bool) -> None:
    from bridge.runtime import Runtime
    from bridge.store.admin_repo import StoreReadError, cases_created_or_updated_since

    rt = Runtime.build(load_settings())
    cutoff = now - window
    try:
        rows = cases_created_or_updated_since(rt.store, cutoff)
    except StoreReadError as exc:
        fail(f"cannot read cases from the store ({rt.store.dialect}): {exc.cause.__class__.__name__}; "
             "has it been created (bridge serve / bridge worker migrate it)?", one_line=False)
    items = _rejudge(sorted(rows, key=lambda r: (r.created_at, r.id)), options)
    changed = [i for i in items if i.changes]
    kinds = {k: sum(k in i.changes for i in changed) for k in ("escalate", "triggers", "message")}
    skipped = [i for i in items if i.error]
    if as_json:
        click.echo(json.dumps({
            "judge": options.mode, "since": cutoff.isoformat(), "total": len(items), "changed": len(changed),
            "by_change": kinds, "not_rejudged": len(skipped),
            "cases": [{"case": i.case_id, "at": i.at.isoformat(), "status": i.status, "stored": i.stored,
                       "now": i.now, "changes": i.changes, "evidence": i.evidence, "error": i.error or None,
                       "llm_error": i.llm_error or None} for i in items],
        }, indent=2, ensure_ascii=False))
        return
    click.echo(f"Re-judging {len(items)} conversation(s) since {cutoff:%Y-%m-%d %H:%M %Z} (judge: {options.mode})")
    for item in items:
        if item.error:
            click.echo(f"! {item.case_id}: not re-judged: {item.error}")
        elif item.changes:
            click.echo(_replay_line(item))
    failures = sum(1 for i in items if i.llm_error)
    tail = f", {len(skipped)} not re-judged" if skipped else ""
    tail += f"; the LLM's answer was not used for {failures} (local judge decided)" if failures else ""
    click.echo(f"{len(items)} case(s): {len(changed)} would change ({kinds['escalate']} escalate, "
               f"{kinds['triggers']} triggers, {kinds['message']} message), "
               f"{len(items) - len(changed) - len(skipped)} unchanged{tail}")


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) or "-"


def _replay_line(item: _Rejudged) -> str:
    stored, now = item.stored, item.now
    assert now is not None
    parts = [f"~ {item.case_id} · {item.at:%Y-%m-%d %H:%M %Z} · {item.status}"]
    if "escalate" in item.changes:
        if now["escalate"]:
            parts.append(f"escalate no → yes ({_ids(now['triggers'])} at message {now['at_message'] or '-'})")
        else:
            parts.append(f"escalate yes → no (was {_ids(stored['triggers'])} at message {stored['at_message'] or '-'})")
    if "triggers" in item.changes:
        parts.append(f"triggers {_ids(stored['triggers'])} → {_ids(now['triggers'])}")
    if "message" in item.changes:
        parts.append(f"message {stored['at_message']} → {now['at_message'] or '-'}")
    lines = [" · ".join(parts)]
    for hit in item.evidence[:4]:
        where = f" at message {hit['message_index']}" if hit.get("message_index") else ""
        lines.append(f"    {hit['trigger']}{where}: {json.dumps(hit.get('evidence', ''), ensure_ascii=False)}")
    return "\n".join(lines)
