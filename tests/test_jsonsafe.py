from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.adapters.jsonsafe import JSONError, fast_loads, loads, untyped_ok


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


# The fast path (jiter, then the depth and infinity check of what no schema checked) and the exact path
# (the standard library with hooks) must give one answer: what the fast path accepts, the exact path
# accepts as the same value; what it refuses goes to the exact path. These are the documents where
# they could part.
TRICKY = [
    b"{}", b"[]", b"0", b"-0", b"-0.0", b'"x"', b"true", b"null", b" \t\r\n[1] \n", b"[1,]", b'{"a":1,}', b"[01]",
    b"[1.]", b"[.5]", b"[-]", b"[+1]", b"[1e5, 1E+5, 1e-5, 0e0, 2.5E-3, 1e99, -1E-99]", b"[1e100]", b"[1e-320]",
    b"[" + b"9" * 199 + b"e99]", b"[" + b"9" * 200 + b"]", b"[" + b"1" * 4300 + b"]", b"[" + b"1" * 4301 + b"]",
    b"[-" + b"1" * 4300 + b"]", b"[-" + b"1" * 4301 + b"]", b"[" + b"1" * 4300 + b".5]", b"[1" + b"0" * 310 + b"]",
    b"1e999", b" 1E400", b"[0.1, 0.30000000000000004, 1.7976931348623157e308, 5e-324, 123456789.123456789e-5]",
    b"[12345678901234567890, -9223372036854775809, 18446744073709551616]",
    b'{"a": 1, "a": 1}', b'{"\\u0061": 1, "a": 2}', b'{"a": {"b": 1, "b": 2}}', b'[{"k": 1}, {"k": 2}]',
    b'"a\\ud800b"', b'"\\udc00"', b'"\\ud83d\\ude00"', b'"\\uD83D\\uDE00"', b'{"\\udfffk": 1}', b'"\\\\ud800"',
    b'"\\u00e9\\u0000\\/\\b\\f\\n\\r\\t\\"\\\\"', b'"a\nb"', b'"a\x01b"', b'"a\x7fb"', b'"\\x41"', b'"\\U0041"',
    "\ufeff{}".encode(), "\ufeff\ufeff{}".encode(), b"\xef\xbb", b"\xff\xfe{}", b'"\xed\xa0\x80"', b'"\xc3"',
    "\u00a0{}".encode(), b"\x0c{}", b"\x0b{}", "{\"é\": \"😀\", \"\u2028\": 1}".encode(),
    b"NaN", b"[Infinity]", b"[-Infinity]", b'{"a": nan}', b"[true, false, null, True]", b"", b" ", b"{} x", b"[] []",
    b"[" * 64 + b"]" * 64, b"[" * 65 + b"]" * 65, b"[" * 199 + b"]" * 199, b"[" * 201 + b"]" * 201,
    b'{"a":' * 64 + b"1" + b"}" * 64, b'{"a":' * 65 + b"1" + b"}" * 65, b'[{"a": [' * 30 + b"]}]" * 30,
]


def _answer(parse: Any, raw: bytes, max_depth: int = 64) -> tuple[str, Any]:
    try:
        return "value", parse(raw, max_depth)
    except JSONError as exc:
        return "error", str(exc)


def fast_then_exact(raw: bytes, max_depth: int = 64) -> Any:
    """How a caller uses the fast path when no schema checks any of the document."""
    value = fast_loads(raw)
    if value is None or not untyped_ok(value, 1, max_depth):
        return loads(raw, max_depth)
    return value


@pytest.mark.parametrize("raw", TRICKY)
@pytest.mark.parametrize("max_depth", [64, 300])
def test_both_paths_give_one_answer(raw: bytes, max_depth: int) -> None:
    fast, exact = _answer(fast_then_exact, raw, max_depth), _answer(loads, raw, max_depth)
    assert fast == exact
    assert repr(fast) == repr(exact)  # -0.0 and 0, 1 and 1.0 are == but not the same JSON value


def test_a_usual_body_takes_the_fast_path() -> None:
    """A transcript with error codes, ids, numbers and non-ASCII text is parsed by jiter, not re-read."""
    message = {"id": "m-3e45", "role": "customer", "text": "Export fails: E-4012, 3e456 déjà 😤 [1]",
               "confidence": 0.25}
    doc = {"event_id": "evt-1e100", "n": [1, -2.5, 1e99, 12345678901234567890], "messages": [message] * 500}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    assert len(raw) > 50_000
    assert fast_loads(raw) == loads(raw) == doc and untyped_ok(fast_loads(raw), 1, 64)
    assert fast_loads(json.dumps(doc).encode()) == doc  # ensure_ascii: emoji as a \uD83D\uDE24 pair


@pytest.mark.parametrize("spoiler,reason", [
    (b'"text": "x", "text": "y"', "duplicate key 'text' in an object"),
    (b'"confidence": NaN', "NaN is not valid JSON"),
    (b'"confidence": 1e999', "number 1e999 is out of range (not a finite number)"),
    (b'"deep": ' + b"[" * 70 + b"]" * 70, "JSON nested deeper than 64 levels"),
])
def test_a_large_body_is_refused_for_what_a_small_one_is(spoiler: bytes, reason: str) -> None:
    message = b'{"role": "bot", "text": "' + b"a" * 100 + b'"}, '
    raw = b'{"messages": [' + message * 500 + b"{" + spoiler + b"}]}"
    with pytest.raises(JSONError) as excinfo:
        fast_then_exact(raw)
    assert str(excinfo.value) == reason
