"""Hypothesis strategies: any JSON value, and a well-formed body with fields replaced or removed."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

DELETE = object()  # the mutation that removes the field

# Values the outside probe found interesting, beside what Hypothesis invents.
ODD_STRINGS = ["", " ", "²", "١٢", "9" * 5000, "-1", "0", "true", "null", "1e999", "NaN", "<script>x</script>",
               "<!channel>", "\u202e", "\x00", "a" * 3000, "http://169.254.169.254/latest/meta-data/",
               "javascript:alert(1)", "2026-13-45T99:99:99Z", "../../etc/passwd", "{\"a\": 1}"]

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30) | st.sampled_from(ODD_STRINGS))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=6,
)


def paths(doc: Any, prefix: tuple[Any, ...] = (), per_list: int | None = None) -> list[tuple[Any, ...]]:
    """Every place in a document a value sits, parents before children. ``per_list``: in longer
    arrays only the first ``per_list - 1`` items and the last (a transcript's turns share a shape)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        items: list[tuple[Any, Any]] = list(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
        if per_list is not None and len(items) > per_list:
            items = items[: per_list - 1] + items[-1:]
    else:
        items = []
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key), per_list))
    return found


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


@st.composite
def mutated(draw: st.DrawFn, bodies: tuple[bytes, ...]) -> tuple[Any, list[str]]:
    """One of ``bodies`` with one to three fields replaced by any JSON value (or removed)."""
    doc = json.loads(draw(st.sampled_from(bodies)))
    done: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = paths(doc)
        if not places:
            break
        path = draw(st.sampled_from(places))
        value = draw(st.just(DELETE) | json_values)
        doc = replaced(doc, path, value)
        done.append(".".join(map(str, path)) + (" removed" if value is DELETE else f" = {type(value).__name__}"))
    return doc, done


@st.composite
def raw_bodies(draw: st.DrawFn, bodies: tuple[bytes, ...]) -> bytes:
    """Bytes: random, a well-formed body cut short or with bytes flipped, or hostile JSON shapes."""
    base = draw(st.sampled_from(bodies))
    kind = draw(st.sampled_from(["random", "cut", "flip", "shape"]))
    if kind == "random":
        return draw(st.binary(max_size=600))
    if kind == "cut":
        return base[: draw(st.integers(min_value=0, max_value=len(base)))]
    if kind == "flip":
        at = draw(st.integers(min_value=0, max_value=max(0, len(base) - 1)))
        return base[:at] + bytes([draw(st.integers(min_value=0, max_value=255))]) + base[at + 1:]
    return draw(st.sampled_from([
        b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"1e999", b"-1e999", b'"x"', b"null",
        b"[]", b"{}", b'{"a": 1, "a": 2}', b"\xef\xbb\xbf{}", b'{"t": "\\ud800"}', b"0" * 5000, b"\xff\xfe",
    ]))
