"""Figures for docs/triage.md: the corpus, the judge on the locked split, a learning curve, the cost.

``python -m bench.triage [--out bench/results/triage.json]`` (needs the train extra for the
learning curve). Everything is computed from data/triage and the shipped model; nothing here tunes.

``python -m bench.triage --cost-only [--reference]`` prints the judge's cost alone as one JSON line
(CPU and wall time per message on the locked split, first sight and re-judged, and the process's
peak RSS after judging the whole corpus), using only the API the judge had before issue 15's exact
shortcuts, so the same file can measure an older checkout run alternately with this one;
``model_rss_mb`` is what loading the model added to the process's resident memory (VmRSS).
``--reference`` measures this checkout with the shortcuts off (every regex runs, VADER as written).
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import random
import resource
import time
from pathlib import Path
from typing import Any

from bridge.events import TRIGGERS
from bridge.pipeline import judge, judge_train, trigger_config
from bridge.pipeline.judge_train import Example, Verdict, metrics

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "triage"


def corpus_table(examples: list[Example]) -> dict[str, Any]:
    by_lang: collections.Counter[str] = collections.Counter()
    by_trigger: collections.Counter[str] = collections.Counter()
    lengths: collections.Counter[str] = collections.Counter()
    escalate = 0
    for e in examples:
        by_lang[(e.event.conversation.language or "?").split("-")[0].lower()] += 1
        for t in e.label["required"]:
            by_trigger[t] += 1
        n = len(e.event.conversation.messages)
        lengths["1-2" if n <= 2 else "3-8" if n <= 8 else "9-40"] += 1
        escalate += bool(e.label["escalate"])
    return {"conversations": len(examples), "escalate": escalate, "languages": dict(by_lang.most_common()),
            "required": {t: by_trigger[t] for t in TRIGGERS}, "lengths": dict(lengths)}


def judged(examples: list[Example]) -> tuple[dict[str, Verdict], list[float], list[float]]:
    """Verdicts, and per conversation the wall-clock and CPU milliseconds per message judged."""
    cfg = trigger_config.load()
    model = judge.load()
    out, per_message, cpu = {}, [], []
    for e in examples:
        started, started_cpu = time.perf_counter(), time.process_time()
        decision = judge.judge(e.event, cfg, model)
        spent, spent_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        n = max(1, decision.at_message or len(e.event.conversation.messages))
        per_message.append(spent * 1000 / n)
        cpu.append(spent_cpu * 1000 / n)
        out[e.name] = Verdict(decision.escalate, tuple(decision.trigger_ids), decision.at_message)
    return out, per_message, cpu


def _percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50": round(values[len(values) // 2], 3), "p95": round(values[int(len(values) * 0.95)], 3)}


def cost(examples: list[Example], cfg: Any, model: Any) -> dict[str, dict[str, float]]:
    """Per message, over conversations (a conversation's time over the messages judged): first sight,
    and judged again right after (every text cached), in CPU time and wall-clock time."""
    spent: dict[str, list[float]] = {"first_cpu": [], "first_wall": [], "again_cpu": [], "again_wall": []}
    for e in examples:
        marks = [(time.process_time(), time.perf_counter())]
        for _ in range(2):
            decision = judge.judge(e.event, cfg, model)
            marks.append((time.process_time(), time.perf_counter()))
        n = max(1, decision.at_message or len(e.event.conversation.messages))
        for i, when in enumerate(("first", "again")):
            spent[f"{when}_cpu"].append((marks[i + 1][0] - marks[i][0]) * 1000 / n)
            spent[f"{when}_wall"].append((marks[i + 1][1] - marks[i][1]) * 1000 / n)
    return {k: _percentiles(v) for k, v in spent.items()}


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cost_only(reference: bool) -> dict[str, Any]:
    if reference:
        cfg = trigger_config.build(trigger_config._read_yaml(trigger_config.DEFAULTS_FILE), shortcuts=False)
    else:
        cfg = trigger_config.load()
    before = rss_mb()
    model = judge.load()  # what the model (and whatever it imports to be read) adds to a process
    loaded = rss_mb() - before
    test = judge_train.load_corpus(CORPUS, "test")
    out: dict[str, Any] = {"test_ms_per_message": cost(test, cfg, model), "model_rss_mb": round(loaded, 1)}
    for e in judge_train.load_corpus(CORPUS, "train"):
        judge.judge(e.event, cfg, model)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def caches_after(examples: list[Example]) -> float:
    """What the judge's caches hold after judging every conversation once (a worker's steady
    state on varied traffic): Python memory still allocated, from tracemalloc. The caches start
    empty (a model of its own, the feature caches cleared): what the judging before this filled
    would otherwise go uncounted."""
    import tracemalloc

    from bridge.pipeline import judge_features, judge_lexicon, trigger_rules

    cfg = trigger_config.load()
    model = judge.load(Path(judge.__file__).with_name(judge.MODEL_FILE))  # its text caches empty
    for module in (judge_features, judge_lexicon, trigger_rules):
        for cached in vars(module).values():
            # Per-text and per-word caches, not the one VADER analyzer (maxsize 1).
            if hasattr(cached, "cache_clear") and (cached.cache_info().maxsize or 2) > 1:
                cached.cache_clear()
    tracemalloc.start()
    try:
        for e in examples:
            judge.judge(e.event, cfg, model)
        gc.collect()  # garbage a collection would free is not held
        return round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
    finally:
        tracemalloc.stop()


def confusion(examples: list[Example], verdicts: dict[str, Verdict]) -> dict[str, dict[str, int]]:
    """Per trigger, over conversations: predicted vs labelled (required, or allowed counts as fine)."""
    table: dict[str, dict[str, int]] = {}
    for t in TRIGGERS:
        row = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
        for e in examples:
            wanted = t in e.label["required"]
            fine = wanted or t in e.label["allowed"]
            said = t in verdicts[e.name].triggers
            row["tp" if wanted and said else "fn" if wanted else "fp" if said and not fine else "tn"] += 1
        table[t] = row
    return table


def learning_curve(shares: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)) -> list[dict[str, Any]]:
    """Out-of-fold scores on growing random shares of the training part (fixed seed)."""
    cfg = trigger_config.load()
    everything = judge_train.load_corpus(CORPUS, "train")
    order = list(everything)
    random.Random(7).shuffle(order)
    points = []
    for share in shares:
        part = order[: int(len(order) * share)]
        data = judge_train.build(part, cfg)
        scores = judge_train.out_of_fold(data, {t: judge_train.DEFAULT_C for t in judge_train.LEARNED})
        thresholds, co, assist = judge_train.tune(data, scores, cfg)
        labels = {e.name: e.label for e in part}
        m = metrics(labels, judge_train.verdicts(data, scores, thresholds, co, cfg, assist))
        points.append({"conversations": len(part), **{k: round(v, 3) for k, v in m.items()}})
    return points


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "triage.json")
    parser.add_argument("--no-curve", action="store_true")
    parser.add_argument("--cost-only", action="store_true", help="print the judge's cost alone (one JSON line)")
    parser.add_argument("--reference", action="store_true", help="with --cost-only: the shortcuts off")
    args = parser.parse_args()
    if args.cost_only:
        print(json.dumps(cost_only(args.reference)))
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    judge.load()
    model_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    test = judge_train.load_corpus(CORPUS, "test")
    train = judge_train.load_corpus(CORPUS, "train")
    dev = [e for e in train if e.name.startswith("conv-")]
    one_line = [e for e in test if len(e.event.conversation.messages) <= 2
                and sum(m.role == "customer" for m in e.event.conversation.messages) == 1]
    report: dict[str, Any] = {"corpus": {"train": corpus_table(train), "test": corpus_table(test)}}
    for name, part in (("test", test), ("dev", dev), ("test_one_message", one_line)):
        verdicts, cost, cpu = judged(part)
        labels = {e.name: e.label for e in part}
        report[name] = {k: round(v, 3) for k, v in metrics(labels, verdicts).items()}
        report[f"{name}_confusion"] = confusion(part, verdicts)
        if name == "test":
            report["cost_ms_per_message"] = _percentiles(cost)
            # Wall clock counts the time other processes hold the CPU; CPU time does not.
            report["cost_cpu_ms_per_message"] = _percentiles(cpu)
            report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    report["model_load_mb"] = round(model_mb, 1)
    report["caches_mb_after_corpus"] = caches_after(train + test)
    if not args.no_curve:
        report["learning_curve"] = learning_curve()
    elif args.out.exists():  # keep the last curve rather than drop it from the results file
        previous = json.loads(args.out.read_text())
        if "learning_curve" in previous:
            report["learning_curve"] = previous["learning_curve"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
