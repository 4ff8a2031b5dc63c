"""The fuzz suite's Hypothesis profiles and its report.

``BRIDGE_FUZZ_PROFILE`` picks the profile: ``ci`` (the default: few examples per route,
derandomized so a run is repeatable, under a minute on two cores) or ``nightly`` (many more,
random); ``BRIDGE_FUZZ_EXAMPLES=N`` sets the examples per test of either. No example database is
written and Hypothesis's caches live in a temporary folder: a run leaves nothing in the repository.

With ``BRIDGE_SECURITY_REPORT=1`` the session ends by writing ``tests/fuzz/results.json`` (what was
tried and what was seen); ``python -m tests.fuzz.report`` renders it into docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.fuzz.tally import TALLY

# Hypothesis keeps caches in ./.hypothesis even without an example database: a temporary folder instead.
_HOME = tempfile.mkdtemp(prefix="bridge-hypothesis-")
set_hypothesis_home_dir(_HOME)
_COMMON: dict[str, Any] = dict(
    deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("nightly", max_examples=1500, **_COMMON)
PROFILE = os.environ.get("BRIDGE_FUZZ_PROFILE", "ci")
if os.environ.get("BRIDGE_FUZZ_EXAMPLES", "").isascii() and os.environ.get("BRIDGE_FUZZ_EXAMPLES", "").isdigit():
    settings.register_profile("sized", parent=settings.get_profile(PROFILE),  # a one-off size, e.g. to hunt
                              max_examples=int(os.environ["BRIDGE_FUZZ_EXAMPLES"]))
    PROFILE = "sized"
settings.load_profile(PROFILE)
RESULTS = os.path.join(os.path.dirname(__file__), "results.json")
_started = time.monotonic()


def examples(share: float = 1.0) -> int:
    """Examples for one test: a share of the profile's count (raw bytes need fewer than field swaps)."""
    return max(5, int(settings.default.max_examples * share))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)
    if os.environ.get("BRIDGE_SECURITY_REPORT") != "1" or not TALLY:
        return
    report = {
        "profile": PROFILE, "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.monotonic() - _started, 1), "python": platform.python_version(),
        "passed": exitstatus == 0,
        "areas": {area: {target: dict(counter) for target, counter in sorted(targets.items())}
                  for area, targets in sorted(TALLY.items())},
    }
    with open(RESULTS, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1, sort_keys=True)
        handle.write("\n")
