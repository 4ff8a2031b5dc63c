"""Strict JSON's two paths give one answer (bridge/adapters/jsonsafe.py): jiter and a check of depth
and infinity for the usual body, the standard library with hooks for the rest. Any document, any cut
or flipped byte, any number or escape spliced in: the same value (by its repr: 0 and -0.0 differ) or
the same reason."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings as hsettings, strategies as st

from bridge.adapters.jsonsafe import JSONError, loads
from tests.fuzz.conftest import examples
from tests.test_jsonsafe import fast_then_exact

_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**40), max_value=10**40)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=30)
_SPLICES = st.sampled_from([
    b"1e999", b"-1E+400", b"1e308", b"9" * 250, b"1" * 4400, b"NaN", b"-Infinity", b'"\\ud800"', b'"\\udc00x"',
    b'"\\ud83d\\ude00"', b"\xef\xbb\xbf", b"\xff", b"\xed\xa0\x80", b'"a", "a": 1', b"[" * 70, b"]" * 70, b"-0",
    b"0.1e-5", b"1.5E+99", b"\x00", b"\t", b",", b"}", b'"\\u0000"', b"01", b"1.", b".5", b"+1",
])


def _answer(parse: Any, raw: bytes) -> str:
    try:
        return "value " + repr(parse(raw, 64))
    except JSONError as exc:
        return "error " + str(exc)


@hsettings(max_examples=examples(2))
@given(value=_VALUES, ascii_only=st.booleans(), at=st.integers(min_value=0), splice=_SPLICES,
       how=st.sampled_from(["as is", "insert", "replace", "cut"]))
def test_both_paths_answer_alike(value: Any, ascii_only: bool, at: int, splice: bytes, how: str) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    at %= len(raw) + 1
    if how == "insert":
        raw = raw[:at] + splice + raw[at:]
    elif how == "replace":
        raw = raw[:at] + splice + raw[at + len(splice):]
    elif how == "cut":
        raw = raw[:at]
    assert _answer(fast_then_exact, raw) == _answer(loads, raw)
