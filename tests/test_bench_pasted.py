"""bench/pasted.py runs as documented and reports each size it was asked for (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import pasted

ROOT = Path(__file__).resolve().parents[1]


def test_the_message_is_a_sentence_and_a_log_of_about_the_size() -> None:
    for size in (1_000, 10_000, 50_000):
        text = pasted.message(size)
        lines = text.splitlines()
        assert text.startswith(pasted.OPENING) and len(lines) >= 9 and len(set(lines)) == len(lines)
        assert 0.9 * size <= len(text) <= size
        assert pasted.message(size, 1) != text and len(pasted.message(size, 1)) == len(text)


def test_the_benchmark_runs_and_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "pasted.json"
    done = subprocess.run([sys.executable, "-m", "bench.pasted", "--sizes", "1000", "5000", "--requests", "3",
                           "--jobs", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["size"] for r in rows] == [1000, 5000]
    assert all(r["requests"] == 3 and r["jobs"] == 1 and r["job_cpu_ms"] > 0 and r["judge_cpu_ms"] > 0 for r in rows)
