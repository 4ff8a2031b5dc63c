"""Whole numbers from untrusted text (query strings, form fields, vendor headers).

``str.isdigit()`` is true for ``²`` and other Unicode digits that ``int()`` refuses, and ``int()``
refuses strings over 4,300 digits: both used to turn a hostile query into a 500. Here only ASCII
digits count and the length is capped, so the answer is a number or None, never an exception.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def ascii_int(text: object, max_digits: int = 18) -> int | None:
    """The non-negative integer ``text`` spells in 1..``max_digits`` ASCII digits, else None."""
    if not isinstance(text, str) or len(text) > max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)
