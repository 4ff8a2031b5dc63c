"""An exact prefilter for the phrase lists: run a regular expression only on a text that contains
one of the literals every match of it contains.

About 230 case-insensitive expressions are searched in every customer turn, and most start with
``\\b(`` and an alternation, so Python's ``re`` tries each at every position of the text (it scans
for a literal prefix only when a pattern starts with one; joined into one alternation they lose
even that and were slower). Most cannot match a given turn: none of their words is in it.

``required_literals`` reads a pattern's parse tree (``re._parser``) and returns a set of literals
such that every match contains at least one of them (longest-first choice among the sequence's
parts; the union over an alternation's branches), or None when it cannot tell (the pattern then
always runs). Literals never contain whitespace: the rules search texts that ``trigger_rules``
derives from a message by cutting out code and quotes and joining sentences with a space, so a
literal without whitespace that occurs in the searched text occurs in the message itself.

``Prefilter.gate`` finds every literal of a config in a message in one Aho–Corasick pass
(``ahocorasick_rs``) and gives, per phrase list, the regexes left to run. Case: the expressions
are case-insensitive, so literals and text are both brought to ``fold_case``: ``str.lower`` (one
character for one, once U+0130 is mapped to "i"), then the few characters ``re`` treats as case
variants of one another beyond that (``re._casefix``: "ſ" of "s", "ı" of "i", Greek and Cyrillic
symbol forms) mapped to one of them. tests/pipeline/test_judge_exact.py checks both facts against
the interpreter's own ``re``, and the whole judge against the reference path on the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

try:  # the interpreter's own regex parser and case table (CPython 3.11+)
    from re import _casefix, _constants as sre, _parser

    _EXTRA_CASES: dict[int, tuple[int, ...]] = _casefix._EXTRA_CASES
except ImportError:  # pragma: no cover - another interpreter: every pattern runs, as before
    _parser = None
    _EXTRA_CASES = {}

T = TypeVar("T")

# Each character that ``re`` matches case-insensitively with others beyond lower case, mapped to the
# smallest of its group (ſ→s, ı→i, ς→σ, ϐ→β …); none is ASCII, so ASCII text skips the mapping.
_CANON = {k: min(k, *v) for k, v in _EXTRA_CASES.items() if min(k, *v) != k}
_DOTTED_I = "\u0130"  # İ: the one character whose str.lower() is two characters (i + U+0307)


def fold_case(text: str) -> str:
    """Lower case, one character for one, with re's extra case variants merged: two characters
    that ``re.IGNORECASE`` matches fold to the same character."""
    if text.isascii():
        return text.lower()
    return text.replace(_DOTTED_I, "i").lower().translate(_CANON)


def _literal_char(code: int) -> str | None:
    char = chr(code)
    if char.isspace():
        return None
    folded = fold_case(char)
    return folded if len(folded) == 1 else None


def _rank(need: frozenset[str]) -> tuple[int, int]:
    """Longer literals are rarer; of two equally long choices, the one with fewer alternatives."""
    return min(map(len, need)), -len(need)


def _required(items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
    """A set of literals one of which every match of this sequence contains, or None."""
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(need: frozenset[str] | None) -> None:
        nonlocal best
        if need and (best is None or _rank(need) > _rank(best)):
            best = need

    for op, av in items:
        if op is sre.LITERAL:
            char = _literal_char(av)
            if char is not None:
                run.append(char)
                continue
        # Anything else (a class, an anchor, a group, a repeat, a space) ends a run of literal characters.
        if run:
            consider(frozenset(["".join(run)]))
            run = []
        if op is sre.SUBPATTERN:
            consider(_required(av[-1]))
        elif op is sre.ATOMIC_GROUP:
            consider(_required(av))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            consider(_required(av[2]))
        elif op is sre.BRANCH:
            branches = [_required(branch) for branch in av[1]]
            if all(branches):
                consider(frozenset().union(*branches))  # type: ignore[arg-type]
        elif op is sre.IN and av and all(o is sre.LITERAL for o, _ in av):
            chars = [_literal_char(code) for _, code in av]  # "(a|b)" is parsed as the class [ab]
            if all(chars):
                consider(frozenset(chars))  # type: ignore[arg-type]
    if run:
        consider(frozenset(["".join(run)]))
    return best


def required_literals(regex: re.Pattern[str]) -> frozenset[str] | None:
    """Literals (case-folded, without whitespace) one of which every match of ``regex`` contains."""
    if _parser is None or not isinstance(regex.pattern, str):
        return None
    try:
        return _required(_parser.parse(regex.pattern, regex.flags))
    except Exception:  # noqa: BLE001 - a parser we do not know: the pattern simply always runs
        return None


# What a message lets run: per phrase list (keyed by the list's id), the regexes that may match it.
Gate = dict[int, tuple[re.Pattern[str], ...]]


class LiteralGate(Generic[T]):
    """Which of some items (each with a regex: a phrase-list pattern, a detector) can match a text:
    those whose regex has no required literals, and those one of whose literals the text holds, in
    their order. One Aho-Corasick pass over the case-folded text. ``needs`` gives each item's literals
    (or None) where they are known already; otherwise ``pattern`` gives its regex to derive them from.
    Besides the phrase lists (``Prefilter``), it gates the case-insensitive alternations run over
    whatever the customer pasted (urgency facts, the summary's facts, privacy terms, the secrets
    masked before anything is rendered): each costs ``re`` a try at every position, a few ms per
    50 KB log, and most of their words are not in it."""

    def __init__(self, items: Sequence[T], pattern: Callable[[T], re.Pattern[str]] | None = None,
                 needs: Sequence[frozenset[str] | None] | None = None) -> None:
        import ahocorasick_rs

        self.items = tuple(items)
        if needs is None:
            assert pattern is not None, "a LiteralGate needs each item's literals or its regex"
            needs = [required_literals(pattern(item)) for item in self.items]
        self.needs = tuple(needs)
        self._always = frozenset(i for i, need in enumerate(self.needs) if need is None)
        self._where: dict[str, list[int]] = {}
        for i, need in enumerate(self.needs):
            for literal in need or ():
                self._where.setdefault(literal, []).append(i)
        self.literals = tuple(sorted(self._where))
        # Overlapping matches: every literal present is reported, also one inside another.
        self._automaton = ahocorasick_rs.AhoCorasick(self.literals) if self.literals else None

    def found(self, text: str) -> frozenset[str]:
        """The literals in ``text``."""
        if self._automaton is None:
            return frozenset()
        return frozenset(self._automaton.find_matches_as_strings(fold_case(text), overlapping=True))

    def __call__(self, text: str) -> list[T]:
        marks = set(self._always)
        for literal in self.found(text):
            marks.update(self._where[literal])
        return [self.items[i] for i in sorted(marks)]


class Prefilter:
    """Finds which of some phrase lists' literals a message contains in one pass over it, and so
    which of their regexes may match it (those whose literals are there, and those without any)."""

    def __init__(self, lists: Sequence[Any]) -> None:
        # Each list is a trigger_config.Patterns: .regexes and, for each, .needs (or None).
        self._lists = tuple(lists)
        self._gate = LiteralGate([(id(patterns), rx) for patterns in self._lists for rx in patterns.regexes],
                                 needs=[need for patterns in self._lists for need in _needs(patterns)])
        self.literals = self._gate.literals

    def found(self, text: str) -> frozenset[str]:
        """The literals in ``text`` (already normalised the way the rules read it)."""
        return self._gate.found(text)

    def gate(self, text: str) -> Gate:
        """Per list, the regexes that may match ``text`` or a text cut from it, in the list's order."""
        runnable: dict[int, list[re.Pattern[str]]] = {id(patterns): [] for patterns in self._lists}
        for owner, regex in self._gate(text):
            runnable[owner].append(regex)
        return {owner: tuple(regexes) for owner, regexes in runnable.items()}


def _needs(patterns: Any) -> tuple[frozenset[str] | None, ...]:
    return tuple(patterns.needs) if len(patterns.needs) == len(patterns.regexes) else (None,) * len(patterns.regexes)
