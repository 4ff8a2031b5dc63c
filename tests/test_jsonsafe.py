from __future__ import annotations

import pytest

from bridge.adapters.jsonsafe import JSONError, loads


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e999}', "not a finite number"),
        (b'{"a": [-1E400]}', "not a finite number"),
        (b'{"a": 1' + b"0" * 400 + b'.5}', "not a finite number"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "nested"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "nested"),
        (b'{"n": ' + b"1" * 5000 + b"}", "invalid JSON"),
        (b'{"email": "a@x", "email": "b@y"}', "duplicate key"),
        (b'{"a": ', "invalid JSON"),
    ],
)
def test_rejections_name_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(JSONError) as excinfo:
        loads(raw)
    assert reason in str(excinfo.value)


def test_large_finite_numbers_still_parse() -> None:
    assert loads(b'[1e308, -2.5e-320, 1e-999, 12345678901234567890]') == [1e308, -2.5e-320, 0.0, 12345678901234567890]


def test_depth_limit_is_inclusive() -> None:
    assert loads(b"[" * 64 + b"]" * 64, max_depth=64) is not None
    with pytest.raises(JSONError):
        loads(b"[" * 65 + b"]" * 65, max_depth=64)


def test_lone_surrogates_become_replacement_characters() -> None:
    value = loads(b'{"t": "a\\ud800b", "\\udfffk": ["\\ud83d\\ude00"]}')
    assert value == {"t": "a\ufffdb", "\ufffdk": ["\U0001f600"]}


def test_byte_order_mark_is_tolerated() -> None:
    assert loads("\ufeff{}".encode()) == {}
