"""What the fuzz suite tried and saw, per area; written to ``tests/fuzz/results.json`` only when
``BRIDGE_SECURITY_REPORT=1`` (see ``tests/fuzz/conftest.py``), so a normal run changes no tracked file."""

from __future__ import annotations

from collections import Counter, defaultdict

# area -> target -> counter of outcomes ("tried", "2xx", "4xx", "5xx", "blocked", "escaped", ...)
TALLY: defaultdict[str, defaultdict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))


def record(area: str, target: str, *outcomes: str) -> None:
    counter = TALLY[area][target]
    counter["tried"] += 1
    for outcome in outcomes:
        counter[outcome] += 1


def status_class(status: int) -> str:
    return f"{status // 100}xx"
