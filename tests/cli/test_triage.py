"""`bridge triage`: files, --judge, the eval and train subcommands, and --replay of stored cases.

Expected verdicts of the local judge are computed with ``triggers.decide`` rather than written down,
so these tests hold whichever local judge is installed; what they pin is the command around it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.config import Settings
from bridge.events import Decision, Event
from bridge.pipeline import llm_judge
from bridge.pipeline.triggers import decide
from bridge.runtime import Runtime
from bridge.store.migrate import upgrade
from bridge.store.models import ESCALATED, OPEN, CaseRow
from tests.helpers import generic_event
from tests.openai_stub import Reply, Stub, running_stub

QUIET = [
    {"id": "q1", "role": "customer", "text": "How do I export my projects to CSV?"},
    {"id": "q2", "role": "bot", "text": "Open Settings, then Export, and pick CSV.", "confidence": 0.93},
    {"id": "q3", "role": "customer", "text": "Found it, thanks!"},
]
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def stub() -> Iterator[Stub]:
    with running_stub() as state:
        yield state


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    llm_judge.CACHE.clear()  # the command's in-memory cache lives as long as the test process
    yield
    llm_judge.CACHE.clear()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_TIMEOUT",
                 "BRIDGE_JUDGE", "BRIDGE_TRIGGERS_FILE", "BRIDGE_LOW_CONFIDENCE_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return {"BRIDGE_DATA_DIR": str(tmp_path / "var")}


def with_llm(env: dict[str, str], stub: Stub) -> dict[str, str]:
    return {**env, "OPENAI_API_KEY": "sk-test-key-for-the-stub", "OPENAI_BASE_URL": stub.url,
            "OPENAI_MODEL": "stub-model", "OPENAI_TIMEOUT": "2"}


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, ["triage", *args], env=env, catch_exceptions=False, prog_name="bridge")


def write(folder: Path, name: str, event: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_files_print_the_contract_lines(tmp_path: Path, env: dict[str, str]) -> None:
    quiet = write(tmp_path, "quiet.json", generic_event(type_="conversation.updated", messages=QUIET))
    handoff = write(tmp_path, "handoff.json", generic_event())
    result = run(env, "--source", "generic", str(quiet), str(handoff))
    assert result.exit_code == 0, result.output
    got = lines(result.stdout)
    expected = [decide(Event.from_json(json.loads(p.read_text()))) for p in (quiet, handoff)]
    assert got == [{"file": p.name, "escalate": d.escalate, "triggers": d.trigger_ids, "at_message": d.at_message}
                   for p, d in zip((quiet, handoff), expected, strict=True)]
    assert got[1]["escalate"] is True  # a hand-off always escalates


def test_a_file_named_like_a_subcommand_and_bad_files(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, "eval", generic_event())
    assert lines(run(env, "./eval").stdout)[0]["file"] == "eval"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run(env, str(bad))
    assert result.exit_code == 2 and result.stderr.startswith("bad.json: ")


def test_group_routes_subcommands_and_everything_else(env: dict[str, str]) -> None:
    empty = run(env)
    assert empty.exit_code == 2 and "give conversation FILE... or --replay" in empty.stderr
    assert "Usage: bridge triage [OPTIONS] FILE..." in empty.stderr
    helped = run(env, "--help")
    assert helped.exit_code == 0 and "Usage: bridge triage [OPTIONS] FILE..." in helped.stdout
    assert "--judge [local|llm|both]" in helped.stdout and "bridge triage eval" in helped.stdout
    train = run(env, "train", "--corpus", str(Path(__file__).parent))
    assert train.exit_code == 2 and "no corpus in" in train.stderr  # a folder without labels.json
    assert run(env, "eval", "--help").stdout.startswith("Usage: bridge triage eval [OPTIONS]")
    listed = CliRunner().invoke(main, ["--help"], env=env).stdout
    assert "triage" in listed


@pytest.mark.parametrize("args", [
    ["--judge", "llm", "FILE"], ["--judge", "both", "FILE"], ["--replay", "--judge", "llm"],
    ["eval", "--judge", "llm"], ["eval", "--judge", "both"],
])
def test_llm_and_both_need_a_key(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    path = write(tmp_path, "handoff.json", generic_event())
    result = run(env, *[str(path) if a == "FILE" else a for a in args])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "needs OPENAI_API_KEY" in result.stderr


def test_judge_both_on_a_file_asks_the_llm_and_unions(tmp_path: Path, env: dict[str, str], stub: Stub) -> None:
    event = generic_event()
    path = write(tmp_path, "handoff.json", event)
    local = decide(Event.from_json(event))
    stub.answer(triggers=[{"id": "low_confidence", "message": 2, "quote": "Sorry, I could not find an answer."}],
                at_message=2)
    result = run(with_llm(env, stub), "--judge", "both", str(path))
    assert result.exit_code == 0, result.output
    line = lines(result.stdout)[0]
    assert line["judge"] == "both" and line["escalate"] is True
    assert line["at_message"] == min(m for m in (local.at_message, 2) if m is not None)
    # The union, where bot_handoff stays the fallback for a hand-off nothing else explains.
    assert set(line["triggers"]) == {"low_confidence", *local.trigger_ids} - {"bot_handoff"}
    assert {"trigger": "low_confidence", "message_index": 2,
            "evidence": "Sorry, I could not find an answer."} in line["evidence"]
    assert len(stub.requests) == 1
    # Again: the answer is cached, no second call.
    assert lines(run(with_llm(env, stub), "--judge", "both", str(path)).stdout)[0] == line
    assert len(stub.requests) == 1


def test_judge_llm_garbage_is_said_and_local_decides(tmp_path: Path, env: dict[str, str], stub: Stub) -> None:
    event = generic_event()
    path = write(tmp_path, "handoff.json", event)
    local = decide(Event.from_json(event))
    stub.replies.append(Reply(content="no json here"))
    line = lines(run(with_llm(env, stub), "--judge", "llm", str(path)).stdout)[0]
    assert (line["escalate"], line["triggers"], line["at_message"]) == (True, local.trigger_ids, local.at_message)
    assert line["judge"] == "local" and "not JSON); local judge decides" in line["llm_error"]


# --- eval -------------------------------------------------------------------------------------------

def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    convs = root / "conversations"
    write(convs, "a-handoff.json", generic_event())
    write(convs, "b-quiet.json", generic_event(type_="conversation.updated", messages=QUIET))
    write(convs, "c-quiet.json", generic_event(type_="conversation.updated", messages=QUIET[:2]))
    labels = {
        "a-handoff.json": {"escalate": True, "required": ["low_confidence"], "allowed": ["customer_requested_human"],
                           "earliest_message": 2, "latest_message": 2, "why": "."},
        "b-quiet.json": {"escalate": False, "required": [], "allowed": [], "earliest_message": None,
                         "latest_message": None, "why": "."},
        "c-quiet.json": {"escalate": False, "required": [], "allowed": [], "earliest_message": None,
                         "latest_message": None, "why": "."},
    }
    (root / "labels.json").write_text(json.dumps(labels))
    (root / "split.json").write_text(json.dumps({"test": ["a-handoff.json", "b-quiet.json"]}))
    return root


def test_eval_scores_the_local_judge_like_the_shared_scorer(tmp_path: Path, env: dict[str, str]) -> None:
    root = corpus(tmp_path)
    result = run(env, "eval", "--corpus", str(root), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["split"] == "test" and data["score"]["files"] == 2 and data["local"] is None
    assert data["score"]["positives"] == 1 and data["score"]["recall"] == 1.0  # the hand-off escalates
    text = run(env, "eval", "--corpus", str(root), "--split", "all", "--misses").stdout
    assert "3 conversations (1 should escalate, 2 should not)" in text
    assert text.splitlines()[-1].startswith("recall=1.000 false_escalation=")


def test_eval_with_the_llm_judge(tmp_path: Path, env: dict[str, str], stub: Stub) -> None:
    root = corpus(tmp_path)
    stub.answer(triggers=[{"id": "low_confidence", "message": 2, "quote": "could not find an answer"}], at_message=2)
    stub.answer(triggers=[], at_message=None)
    stub.answer(triggers=[{"id": "negative_sentiment", "message": 1, "quote": "you are useless"}], at_message=1)
    result = run(with_llm(env, stub), "eval", "--corpus", str(root), "--split", "all", "--judge", "llm", "--ask-all")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert len(stub.requests) == 3
    assert "LLM stub-model: asked about 3 (0 from the cache), unusable 0, 1 trigger(s) voided" in result.stdout
    assert out[-2].startswith("local judge alone: recall=1.000")
    assert out[-1] == "recall=1.000 false_escalation=0.000 trigger_exact=1.000 on_time=1.000"
    # The deployed combination asks only where the local judge is unsure or the bot hands off: all cached now.
    again = run(with_llm(env, stub), "eval", "--corpus", str(root), "--split", "all", "--judge", "llm")
    assert "from the cache), unusable 0" in again.stdout and len(stub.requests) == 3


def test_eval_refuses_an_unreadable_corpus(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "empty").mkdir()
    result = run(env, "eval", "--corpus", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "cannot read the corpus" in result.stderr


# --- replay -----------------------------------------------------------------------------------------

def add_case(rt: Runtime, case_id: str, event: dict[str, Any], at: datetime, decision: Decision | None,
             stored: dict[str, Any] | None = None) -> None:
    escalated = decision is not None and decision.escalate
    with rt.store.session() as session:
        session.add(CaseRow(
            id=case_id, platform="generic", conversation_id=case_id, status=ESCALATED if escalated else OPEN,
            triggers=decision.trigger_ids if decision else [], event=event, refs={},
            decision=stored if stored is not None else (decision.to_json() if escalated else None),
            created_at=at, updated_at=at, escalated_at=at if escalated else None))
        session.commit()


@pytest.fixture
def store(tmp_path: Path, env: dict[str, str]) -> Runtime:
    """Cases whose stored decisions differ from what the current judge says, and some that do not."""
    rt = Runtime.build(Settings(data_dir=tmp_path / "var"))
    upgrade(rt.store)
    handoff = generic_event(conversation_id="c-handoff")
    now = decide(Event.from_json(handoff))
    quiet = generic_event(type_="conversation.updated", conversation_id="c-quiet", messages=QUIET)
    assert now.escalate and not decide(Event.from_json(quiet)).escalate
    day = NOW - timedelta(days=2)
    add_case(rt, "c-old", handoff, NOW - timedelta(days=40), None)  # outside the window
    add_case(rt, "c-same", handoff, day, now)
    add_case(rt, "c-missed", handoff, day + timedelta(minutes=1), None)  # stored: not escalated
    add_case(rt, "c-false", quiet, day + timedelta(minutes=2), Decision(escalate=True), stored={
        "escalate": True, "at_message": 1, "triggers": [{"trigger": "negative_sentiment", "message_index": 1}]})
    other = "billing_exception" if "billing_exception" not in now.trigger_ids else "product_bug"
    add_case(rt, "c-triggers", handoff, day + timedelta(minutes=3), now, stored={
        **now.to_json(), "triggers": [{"trigger": other, "message_index": 1}]})
    add_case(rt, "c-message", handoff, day + timedelta(minutes=4), now, stored={
        **now.to_json(), "at_message": (now.at_message or 0) + 1})
    purged = {"event_id": "purged", "type": "conversation.updated", "conversation": {"id": "c-p", "messages": []}}
    add_case(rt, "c-purged", purged, day + timedelta(minutes=5), now)
    return rt


def test_replay_lists_the_cases_the_current_judge_decides_differently(store: Runtime, env: dict[str, str]) -> None:
    now = decide(Event.from_json(generic_event()))
    result = run(env, "--replay", "--since", "30d", "--at", NOW.isoformat())
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Re-judging 6 conversation(s) since 2026-05-11 12:00 UTC (judge: local)")
    assert "c-old" not in out and "c-same" not in out
    assert f"~ c-missed · 2026-06-08 12:01 UTC · open · escalate no → yes ({', '.join(now.trigger_ids)}" in out
    assert ("~ c-false · 2026-06-08 12:02 UTC · escalated · escalate yes → no "
            "(was negative_sentiment at message 1)") in out
    other = "billing_exception" if "billing_exception" not in now.trigger_ids else "product_bug"
    assert f"~ c-triggers · 2026-06-08 12:03 UTC · escalated · triggers {other} → {', '.join(now.trigger_ids)}" in out
    assert f"~ c-message · 2026-06-08 12:04 UTC · escalated · message {(now.at_message or 0) + 1} → " in out
    assert "! c-purged: not re-judged: the transcript was purged" in out
    assert out.splitlines()[-1] == ("6 case(s): 4 would change (2 escalate, 1 triggers, 1 message), 1 unchanged, "
                                    "1 not re-judged")
    data = json.loads(run(env, "--replay", "--since", "30d", "--at", NOW.isoformat(), "--json").stdout)
    assert (data["total"], data["changed"], data["not_rejudged"]) == (6, 4, 1)
    assert data["by_change"] == {"escalate": 2, "triggers": 1, "message": 1}
    assert [(c["case"], c["changes"]) for c in data["cases"]] == [
        ("c-same", []), ("c-missed", ["escalate"]), ("c-false", ["escalate"]), ("c-triggers", ["triggers"]),
        ("c-message", ["message"]), ("c-purged", [])]
    missed = data["cases"][1]
    assert missed["stored"] == {"escalate": False, "triggers": [], "at_message": None}
    assert missed["now"]["escalate"] is True and missed["now"]["judge"] == "local"


def test_replay_with_the_llm_judge(store: Runtime, env: dict[str, str], stub: Stub) -> None:
    # Hand-offs are asked about; they share one transcript, so one answer (then the cache) serves all.
    stub.answer(triggers=[{"id": "negative_sentiment", "message": 3, "quote": "Can I talk to a person please?"},
                          {"id": "customer_requested_human", "message": 3, "quote": "talk to a person"}],
                at_message=3)
    data = json.loads(run(with_llm(env, stub), "--replay", "--judge", "both", "--at", NOW.isoformat(),
                          "--json").stdout)
    asked = [r for r in stub.requests if "Can I talk to a person please?" in json.dumps(r["json"])]
    assert len(asked) == 1
    same = data["cases"][0]
    assert same["case"] == "c-same" and same["now"]["judge"] == "both"
    assert "negative_sentiment" in same["now"]["triggers"] and "triggers" in same["changes"]
    assert data["judge"] == "both"


def test_replay_usage_and_store_errors(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "handoff.json", generic_event())
    assert run(env, "--replay", str(path)).exit_code == 2
    assert run(env, "--replay", "--since", "month").exit_code == 2
    result = run(env, "--replay")
    assert result.exit_code == 2 and "cannot read cases from the store" in result.stderr


def test_train_nested_reports_nested_cross_validation(tmp_path: Path, env: dict[str, str]) -> None:
    """``train --nested 2`` on a small sample of the corpus' training part: the report carries the
    nested figures (pooled, the spread over outer folds, recall per trigger) next to the in-sample ones."""
    pytest.importorskip("sklearn", reason="scikit-learn is in the test extra")
    source = Path(__file__).resolve().parents[2] / "data" / "triage"
    labels = json.loads((source / "labels.json").read_text(encoding="utf-8"))
    locked = set(json.loads((source / "split.json").read_text(encoding="utf-8"))["test"])
    names = [n for n in sorted(labels) if n not in locked and n.startswith("ena-")][:40]
    assert {labels[n]["escalate"] for n in names} == {True, False}
    corpus = tmp_path / "corpus"
    (corpus / "conversations").mkdir(parents=True)
    for name in names:
        (corpus / "conversations" / name).write_bytes((source / "conversations" / name).read_bytes())
    (corpus / "labels.json").write_text(json.dumps({n: labels[n] for n in names}), encoding="utf-8")
    (corpus / "split.json").write_text(json.dumps({"test": []}), encoding="utf-8")
    model = tmp_path / "model.json.gz"
    result = run(env, "train", "--corpus", str(corpus), "--out", str(model), "--nested", "2")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversations"] == 40 and model.exists()
    nested = report["nested_cv"]
    assert nested["folds"] == 2
    for measure in ("recall", "false_escalation", "trigger_exact", "on_time"):
        low, high = nested["fold_range"][measure]
        assert 0.0 <= low <= nested["pooled"][measure] <= high <= 1.0, (measure, nested)
    assert set(nested["trigger_recall"]) <= {"customer_requested_human", "low_confidence", "product_bug",
                                             "negative_sentiment", "billing_exception", "bot_handoff"}
    plain = run(env, "train", "--corpus", str(corpus), "--out", str(model))
    assert "nested_cv" not in json.loads(plain.stdout)
