"""Generated sections of hand-written pages: a table between two HTML comment markers."""

from __future__ import annotations


def updated(doc: str, begin: str, end: str, table: str) -> str:
    """``doc`` with what lies between ``begin`` and ``end`` replaced by ``table`` (appended, with
    its markers, when the page has none yet)."""
    if begin not in doc or end not in doc:
        return doc.rstrip() + f"\n\n{begin}\n{table}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}\n{end}{tail}"
