"""Strict JSON decoding for untrusted webhook bodies.

Python's json module accepts NaN/Infinity (and reads ``1e999`` as infinity), silently keeps the
last of duplicate keys, raises RecursionError on deep nesting and lets lone surrogates through
(which PostgreSQL and the vendor APIs later refuse). Each of those turns into a clear
``JSONError`` here, or is repaired, so a bad body is a 400 at the door and never a poison job later.

``fast_loads`` is the first half of the same check in Rust (jiter, the parser pydantic uses):
duplicate keys, NaN/Infinity, bad UTF-8, lone surrogates and integers past 4,300 digits refused,
with no Python call per object or number. It leaves overflowing numbers and depth to its caller
(``untyped_ok``), and whatever it refuses goes to ``loads``, which names the reason as it always
did (tests/test_jsonsafe.py holds the two to the same answers).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jiter


class JSONError(ValueError):
    """The body is not acceptable JSON; the message says why (never echoes the body)."""


def _reject_constant(name: str) -> Any:
    raise JSONError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # 1e999 is a valid JSON number that Python reads as inf: as bad as Infinity for every strict reader.
    value = float(text)
    if value - value != 0.0:
        raise JSONError(f"number {text[:40]} is out of range (not a finite number)")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)  # built in C; only an object that lost a key to a repeat is looked at key by key
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONError(f"duplicate key {key[:60]!r} in an object")
            seen.add(key)
    return obj


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}")


def _lone_surrogate_escape(text: str) -> bool:
    """A \\uD800-\\uDBFF escape not directly followed by a \\uDC00-\\uDFFF one, or the other way
    round. Valid pairs (how ensure_ascii senders write emoji) are not lone; a false alarm only
    costs the slow path."""
    high_end = -1
    for match in _SURROGATE_ESCAPE.finditer(text):
        if match.group(1) in "89abAB":
            if high_end != -1:
                return True
            high_end = match.end()
        elif high_end == match.start():
            high_end = -1
        else:
            return True
    return high_end != -1


def _clean_text(text: str) -> str:
    # json.loads joins valid surrogate pairs, so any surrogate left is a lone one that
    # PostgreSQL and every vendor API would refuse: it becomes U+FFFD.
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _check_and_clean(value: Any, max_depth: int) -> Any:
    """Walk the parsed document iteratively: enforce depth, repair strings."""
    root = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise JSONError(f"JSON nested deeper than {max_depth} levels")
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            item = container[key]
            if isinstance(item, str):
                container[key] = _clean_text(item)
            elif isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
            if isinstance(key, str) and _clean_text(key) != key:
                container[_clean_text(key)] = container.pop(key)
    return root[0]


def fast_loads(raw: bytes) -> Any:
    """The body parsed by jiter with duplicate keys and NaN/Infinity refused, or ``None`` when jiter
    refuses it (then only ``loads`` can say why, or repair it: a lone surrogate, a byte order mark).

    Not the whole strict check: a number that overflows is read as inf (jiter's integers stop at
    Python's 4,300 digits, as ``loads`` does) and the depth is not limited beyond jiter's own 200.
    A caller that accepts the value checks those where its schema did not (bridge/adapters/generic.py
    for the generic event), and otherwise asks ``loads``.
    """
    try:
        return jiter.from_json(raw, allow_inf_nan=False, catch_duplicate_keys=True, cache_mode="keys")
    except ValueError:
        return None


def untyped_ok(value: Any, depth: int, max_depth: int) -> bool:
    """Whether ``value``, met at container depth ``depth`` (the root is 1) of a ``fast_loads``
    result, is what ``loads`` would accept there: no container deeper than ``max_depth``, no
    infinite number. For the parts of a body no schema checked."""
    level = [value]
    while level:
        nxt: list[Any] = []
        for item in level:
            if isinstance(item, (dict, list)):
                if depth > max_depth:
                    return False
                nxt.extend(item.values() if isinstance(item, dict) else item)
            elif isinstance(item, float) and item - item != 0.0:  # inf: what 1e999 reads as
                return False
        level, depth = nxt, depth + 1
    return True


def loads(raw: bytes, max_depth: int = 64) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONError(f"body is not valid UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                           object_pairs_hook=_no_duplicates)
    except JSONError:
        raise
    except RecursionError:
        raise JSONError(f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise JSONError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. integers longer than Python's 4300-digit guard
        raise JSONError(f"invalid JSON: {str(exc)[:100]}") from None
    # Fast paths, both decided by C-speed scans of the text: a document with no more brackets
    # than the depth limit cannot be too deep, and one without a \uD800-\uDFFF escape has no
    # lone surrogate to repair. Only otherwise is the parsed tree walked in Python.
    if _lone_surrogate_escape(text):
        return _check_and_clean(value, max_depth)
    if text.count("{") + text.count("[") > max_depth:
        _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    """Depth only: containers are visited, strings and numbers are not touched."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise JSONError(f"JSON nested deeper than {max_depth} levels")
        level = [child for container in level
                 for child in (container.values() if isinstance(container, dict) else container)
                 if isinstance(child, (dict, list))]
