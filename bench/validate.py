"""The event's validation alone, by body size: CPU per ``Event.model_validate``, before and after.

``python -m bench.validate [--before REV] [--rounds 5] [--sizes 1k 10k 50k 500k] [--out PATH]``

What the webhook's validation costs as the transcript grows (issue 19: a request's cost grows with its
body), without HTTP, the store or the machine's other work between the two trees: one child process
per tree (``--before``, exported with ``git archive``, default ``HEAD~1``; and the tree as checked out)
parses bench/run's generic bodies once (``bench.payloads``) and times ``Event.model_validate`` on them,
the trees taking turns in every round. CPU time of the process (``time.process_time``), median over
the rounds. Figures go to bench/results/validate.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, export, probe

SIZES = {"1k": 1_000, "10k": 10_000, "50k": 50_000, "500k": 500_000}
RESULTS = ROOT / "bench" / "results" / "validate.json"


def measure(size: int) -> dict[str, Any]:  # pragma: no cover - runs in a child
    from bench import payloads
    from bridge.adapters import jsonsafe
    from bridge.events import Event

    data = jsonsafe.fast_loads(payloads.body_for(payloads.event_template(size, "v"), 1, "v"))
    n = max(50, 50_000_000 // size)  # about a second of validation per child
    for _ in range(3):
        Event.model_validate(data)
    started = time.process_time()
    for _ in range(n):
        Event.model_validate(data)
    return {"us": (time.process_time() - started) / n * 1e6, "messages": len(data["conversation"]["messages"])}


def report(size: int) -> None:  # pragma: no cover - runs in a child
    print(json.dumps(measure(size)), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="HEAD~1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    rev, old = export(a.before, Path(tempfile.mkdtemp(prefix="rb-validate-")))
    out: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "before": rev,
                           "load": Path("/proc/loadavg").read_text().split()[0], "sizes": {}}
    for name in a.sizes:
        runs: dict[str, list[float]] = {"before": [], "after": []}
        messages = 0
        for _ in range(a.rounds):
            for variant, tree in (("before", old), ("after", ROOT)):
                got = probe(__file__, tree, f"report({SIZES[name]})")
                runs[variant].append(got["us"])
                messages = got["messages"]
        med = {k: statistics.median(v) for k, v in runs.items()}
        out["sizes"][name] = {"messages": messages, "runs": runs, "median_us": med}
        print(f"{name} ({messages} messages): before {med['before']:.0f} µs, after {med['after']:.0f} µs "
              f"({med['after'] / med['before']:.2f}×)", flush=True)
    a.out.parent.mkdir(exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
