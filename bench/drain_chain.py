"""Before/after of the cheaper job chain per handoff (issue 19, item 6): its page section.

The figures come from ``python -m bench.drain`` run by each version in turn (old, new, old, new…),
each from its own checkout and virtualenv, into files named ``dr_<old|new>_<store>_<K>.json``
(drain) and ``stages_<old|new>_<n>.json`` (``--stages``) in one directory; then

  python -m bench.drain_chain DIR --before <rev> --after <rev> [--note "..."] [--trips trips.json]

gathers them into ``bench/results/drain-chain.json`` (``--out`` and ``--title`` for a later round:
every ``drain-chain*.json`` gets a section, in name order); ``python -m bench.report --sustained``
renders them with the other sections after the generated page. Stage files written by a
``bench.drain`` that counts (``per_handoff``: jobs, statements, commits) fill the round-trip table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.harness import ROOT

HEADER = "## Job chain per handoff: before and after"
RESULTS = ROOT / "bench" / "results" / "drain-chain.json"


def collect(folder: Path) -> dict[str, Any]:
    drain: list[dict[str, Any]] = []
    for store in ("sqlite", "postgres"):
        for k in (1, 2):
            runs = {version: [json.loads(path.read_text())["drain"]["runs"][0]
                              for path in sorted(folder.glob(f"dr_{version}_{store}_{k}.json"))
                              + sorted(folder.glob(f"dr_{version}_{store}_{k}_*.json"))]
                    for version in ("old", "new")}
            if any(runs.values()):
                drain.append({"store": store, "processes": k, **runs})
    stages: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted(folder.glob("stages_*_*.json")):
        version = path.stem.split("_")[1]
        for block in json.loads(path.read_text())["stages"]:
            stages.setdefault(block["store"], {}).setdefault(version, []).append(block)
    counted: dict[str, dict[str, dict[str, float]]] = {}
    for store, versions in stages.items():
        per = {v: [b["per_handoff"] for b in blocks if b.get("per_handoff")] for v, blocks in versions.items()}
        if all(per.get(v) for v in ("old", "new")):
            counted[store] = {v: {k: _median([c[k] for c in per[v]]) for k in ("jobs", "stmts", "commits")}
                              for v in ("old", "new")}
    return {"drain": drain, "stages": stages, **({"trips": counted} if counted else {})}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _span(values: list[float], fmt: str = "{:.1f}") -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(_median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def _cpu(runs: list[dict[str, Any]]) -> list[float]:
    return [1000 * run["cpu_s"] / max(run["events_processed"], 1) for run in runs]


def section(path: Path | None = None) -> str:
    """Every round's section (``drain-chain*.json``), or the one in ``path``."""
    paths = [path] if path else sorted(RESULTS.parent.glob("drain-chain*.json"), key=lambda p: (len(p.name), p.name))
    return "".join(_section(p) for p in paths if p.exists())


def _section(path: Path) -> str:
    r = json.loads(path.read_text())
    jobs = r.get("jobs_note", "each handoff plans five steps: six jobs")
    lines = ["", f"## {r['title']}" if r.get("title") else HEADER, "",
             f"{r['at']}: the job chain at {r['before']} (before) and at {r['after']} (after), each from its own "
             "checkout, taking turns run by run (`python -m bench.drain`; collected by `python -m bench.drain_chain`, "
             f"method in its docstring). {r.get('note', '')}", "",
             f"### Backlog drain ({jobs})", "",
             "Median [min–max] over the runs; a run that did not finish within its cap counts 0 handoffs/s. "
             "CPU is that of every worker process (supervisor, dispatcher, job processes) per handoff.", "",
             "| store | job processes | runs | handoffs/s before | after | CPU ms per handoff before | after |",
             "|---|---|---|---|---|---|---|"]
    for row in r["drain"]:
        old, new = row.get("old", []), row.get("new", [])
        backlog = {run["backlog"] for run in old + new}
        lines.append(f"| {row['store']} | {row['processes']} | {len(old)} + {len(new)} of "
                     f"{'/'.join(str(b) for b in sorted(backlog))} | {_span([run['rate'] for run in old], '{:.2f}')} "
                     f"| {_span([run['rate'] for run in new], '{:.2f}')} | {_span(_cpu(old), '{:.0f}')} "
                     f"| {_span(_cpu(new), '{:.0f}')} |")
    trips = r.get("trips") or {}
    if trips and all("jobs" in t["old"] for t in trips.values()):
        lines += ["", "### Jobs and store round trips per handoff (counted, not timed)", "",
                  "Jobs, SQL statements and commits of one handoff's jobs (not its request), counted by "
                  "`bench.drain --stages` (SQLAlchemy's engine events; the jobs run as a queue runs them). "
                  "Medians over the runs.", "",
                  "| store | jobs before | after | statements before | after | commits before | after |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {store} | {t['old']['jobs']:g} | {t['new']['jobs']:g} | {t['old']['stmts']:g} "
                  f"| {t['new']['stmts']:g} | {t['old']['commits']:g} | {t['new']['commits']:g} |"
                  for store, t in trips.items()]
    elif trips:
        lines += ["", "### Store round trips per handoff (counted, not timed)", "",
                  "SQL statements and commits one handoff's six jobs send, counted with SQLAlchemy's engine events "
                  "around the jobs of `bench.drain --stages` (20 handoffs).", "",
                  "| store | statements before | after | commits before | after |", "|---|---|---|---|---|"]
        lines += [f"| {store} | {t['old']['stmts']} | {t['new']['stmts']} | {t['old']['commits']} | {t['new']['commits']} |"
                  for store, t in trips.items()]
    for store, versions in r["stages"].items():
        blocks = {v: versions.get(v, []) for v in ("old", "new")}
        names = list(dict.fromkeys(s["stage"] for v in ("old", "new") for b in blocks[v] for s in b["stages"]))
        runs = {v: len(blocks[v]) for v in blocks}
        lines += ["", f"### One handoff, stage by stage ({store}; ms per handoff, median of {runs['old']} before and "
                  f"{runs['new']} after runs of `bench.drain --stages`)", "",
                  "| stage | calls per handoff, before | after | ms per handoff, before | after |", "|---|---|---|---|---|"]
        for name in names:
            cells = []
            for key in ("calls_per_handoff", "ms_per_handoff"):
                for v in ("old", "new"):
                    values = [s[key] for b in blocks[v] for s in b["stages"] if s["stage"] == name]
                    cells.append(f"{_median(values):g}" if values else "–")
            lines.append(f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    if r.get("reading"):
        lines += ["", r["reading"]]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.drain_chain", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--at", required=True, help="when the runs were made (a date and the hours, UTC)")
    ap.add_argument("--note", default="")
    ap.add_argument("--reading", default="")
    ap.add_argument("--trips", help="a JSON file: {store: {old: {stmts, commits}, new: {...}}}")
    ap.add_argument("--title", default="", help="the section's title (a later round; default: the first's)")
    ap.add_argument("--jobs-note", default="", help="what a handoff costs in jobs, for the drain table's heading")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    result = {"at": a.at, "before": a.before, "after": a.after, "note": a.note, "reading": a.reading,
              **({"title": a.title} if a.title else {}), **({"jobs_note": a.jobs_note} if a.jobs_note else {}),
              **collect(Path(a.folder)), **({"trips": json.loads(Path(a.trips).read_text())} if a.trips else {})}
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
