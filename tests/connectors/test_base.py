from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import MAX_RETRY_AFTER, parse_retry_after

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2", 2.0),
        ("3600", 3600.0),
        ("1.5", 1.5),
        ("Sat, 28 Nov 2026 12:01:00 GMT", 60.0),
        ("Sat, 28 Nov 2026 11:00:00 GMT", 0.0),  # in the past: retry now
        ("-5", 0.0),
        ("99999999", MAX_RETRY_AFTER),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected
