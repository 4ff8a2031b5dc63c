"""The shapes the judge looks for in a customer's turn: an HTTP error status, an error code, a stack
trace, a version, "X instead of Y", an amount of money. Each is one feature (``s:…``) of
``judge_features``; they are searched behind a literal gate (``trigger_prefilter.LiteralGate``), as the
phrase lists are, because each scans every position of the turn and a pasted log is long.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.trigger_prefilter import LiteralGate

_HTTP_ERROR = re.compile(r"\b(?:4\d\d|5\d\d)\b")
_ERROR_CODE = re.compile(r"\b(?:[A-Z]{1,5}[-_]?\d{2,6}|0x[0-9a-f]{3,}|E\d{3,})\b")
_TRACE = re.compile(r"Traceback|Exception|\bat [\w.$]+\(|\w+Error\b|NullPointer|undefined is not|stack ?trace|"
                    r"Uncaught|segfault|panic:", re.I)
_VERSION = re.compile(r"\bv?\d+\.\d+(?:\.\d+)?\b")
_INSTEAD = re.compile(r"instead of|rather than|en lugar de|en vez de|em vez de|au lieu de|anstatt|statt |"
                      r"invece di|in plaats van|ではなく|じゃなくて", re.I)
_MONEY = re.compile(r"[$€£¥₹]\s?\d|\d\s?(?:€|eur|usd|gbp|brl|jpy|円|euro)", re.I)

# The shapes searched in every customer turn, in the order ``judge_features._structure`` had them.
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("s:http_error", _HTTP_ERROR), ("s:error_code", _ERROR_CODE), ("s:trace", _TRACE), ("s:version", _VERSION),
    ("s:instead", _INSTEAD), ("s:money", _MONEY),
)


@cache
def shape_gate() -> LiteralGate[tuple[str, re.Pattern[str]]]:
    """A shape is searched only in a turn holding one of its required literals (``LiteralGate``): the
    alternations scan every position of the turn, and "X instead of Y" alone took 12 ms of a 50 KB
    pasted log, where none of its words was."""
    return LiteralGate(SHAPES, lambda shape: shape[1])


def shapes(text: str, cfg: TriggerConfig) -> Iterator[str]:
    """The features of the shapes ``text`` holds (``cfg.shortcuts``: through the gate; otherwise every
    shape searched, the reference the gate is held to)."""
    run = shape_gate()(text) if cfg.shortcuts else SHAPES
    return (name for name, pattern in run if pattern.search(text))
