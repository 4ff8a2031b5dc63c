"""The learned judge: does this conversation need a human now, why, and since which message.

The judge reads a conversation the way a support lead watching it live would: one message at a
time, never looking ahead. At each message every trigger that reads that kind of message (the
customer's turns for a request for a person, a bug, anger or a money decision; the bot's answers
for low confidence) gets a probability from its model (``judge_features`` → weights shipped in
``judge_model.json.gz``, trained by ``bridge triage train``). It escalates after the first message
where one crosses its threshold, with every trigger close to its own threshold there, and reports
that message's 1-based index as ``at_message``. A bot's hand-off (``handoff.requested``) always
escalates: explained by what the transcript shows when the models find it, by the bot's stated
reason otherwise (``bot_handoff`` only when nothing else explains it).

Each trigger carries human-readable evidence: the phrase a precise hand-written rule matched in
that message when one did, otherwise the words that weighed most in the model's score.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import chain, repeat
from operator import mul
from pathlib import Path
from typing import Any, NamedTuple

from bridge.events import Decision, Event, Message, TriggerHit
from bridge.pipeline import judge_features, trigger_rules
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.trigger_rules import handoff_index as _handoff_index, stated_reasons  # judge_train reads both here

MODEL_FILE = "judge_model.json.gz"
WORD_SPACES = ("cw", "bw", "pbw", "hw")
_WORD_MARKS = tuple(f"{space}:" for space in WORD_SPACES)  # a name's space is what precedes its first ":"
UNCERTAIN_BAND = 0.5  # a score above this share of its threshold, without crossing it, is "uncertain"


EMPTY, CLASH = -1, -2  # a slot's row: free, or shared by names with one hash (looked up by name)


class Rows(NamedTuple):
    """What the model has of some features, in their order: each one's row and value, and the names
    of the word features among them (for the evidence) with their positions in ``rows``."""

    rows: array[int]
    values: array[float]
    words: tuple[str, ...]
    word_at: Sequence[int]


@dataclass(frozen=True)
class Model:
    """Weights by feature name, kept compact: the names are not kept. Each name's ``hash()``
    (64-bit; str hashes are salted per process, so they are computed at load) goes into an
    open-addressing table of two flat arrays, hashes and rows (linear probing, at most a quarter
    full), and each row into one float32 column per trigger. A dict of the 128k name strings and
    their row ints cost ~17 MB in every worker (and ~12 MB more of freed-but-kept load garbage);
    these arrays ~9 MB, built without ever holding all the names at once.

    A feature the model lacks whose hash equals a model name's would read that name's weights:
    with 128k names a chance of 128,062 / 2^64 ≈ 7e-15 per lookup. Two model names sharing a
    hash (~5e-10 per load) are caught at load and looked up by name."""

    triggers: tuple[str, ...]
    roles: dict[str, str]
    intercepts: dict[str, float]
    thresholds: dict[str, float]
    co: float
    assist: float
    keys: array[int]  # per slot: the hash of the name there
    slots: array[int]  # per slot: its row, EMPTY or CLASH
    columns: tuple[array[float], ...]  # per trigger: the weight of each row
    clashes: dict[str, int]  # name -> row, for names whose hash another model name shares
    # A text's rows, by (text, prefix, chars), bounded like the texts' other caches: at a customer
    # turn and again at the bot's answer, and on every re-judging, a text is looked up once. ~3 KB a
    # text against the ~14 KB of names ``judge_features.text_features`` would keep.
    block: Callable[[str, str, bool], Rows] = field(init=False, repr=False, compare=False)
    # A word's character n-grams: the rows of those the model has, and the names of the others.
    # Words recur in every conversation, so a new text looks up mostly its word 1–2-grams, not
    # its ~4x more character n-grams.
    word: Callable[[str, str], tuple[array[int], tuple[str, ...]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "block", lru_cache(maxsize=judge_features.TEXTS)(self._block))
        object.__setattr__(self, "word", lru_cache(maxsize=judge_features.WORDS)(self._word))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        triggers = tuple(data["triggers"])
        table = array("f")
        table.frombytes(base64.b64decode(data["weights"]))
        if sys.byteorder != "little":
            table.byteswap()
        width = len(triggers)
        keys, slots, clashes = _hash_table(data["names"], len(table) // width)
        return cls(triggers=triggers, roles=dict(data["roles"]), intercepts=dict(data["intercepts"]),
                   thresholds=dict(data["thresholds"]), co=float(data["co"]), assist=float(data.get("assist", 1.0)),
                   keys=keys, slots=slots, columns=tuple(table[j::width] for j in range(width)), clashes=clashes)

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def lookup(self, names: Iterable[str]) -> tuple[list[int], list[int]]:
        """The positions in ``names`` (increasing) of the features the model has, and their rows.
        (One plain loop: the same steps as C-level maps over all names at once measured slower.)"""
        keys, slots, mask = self.keys, self.slots, len(self.slots) - 1
        found: list[int] = []
        rows: list[int] = []
        for i, name in enumerate(names):
            h = hash(name)
            at = h & mask
            while True:
                row = slots[at]
                if row == EMPTY:
                    break
                if keys[at] == h:
                    if row == CLASH:
                        row = self.clashes.get(name, EMPTY)
                    if row >= 0:
                        found.append(i)
                        rows.append(row)
                    break
                at = (at + 1) & mask
        return found, rows

    def weight(self, name: str, j: int) -> float:
        _, rows = self.lookup([name])
        return self.columns[j][rows[0]] if rows else 0.0

    def rows(self, features: dict[str, float] | tuple[tuple[str, float], ...]) -> Rows:
        """The rows of the features the model has, in order (``features``: a dict, or name-value pairs)."""
        pairs = list(features.items()) if isinstance(features, dict) else features
        found, rows = self.lookup(name for name, _ in pairs)
        present = [pairs[i] for i in found]
        word_at = tuple(k for k, (name, _) in enumerate(present) if name.startswith(_WORD_MARKS))
        words = tuple(present[k][0] for k in word_at)
        return Rows(array("i", rows), array("d", [value for _, value in present]), words, word_at)

    def _block(self, text: str, prefix: str, chars: bool) -> Rows:
        """``rows(judge_features.extract(text, prefix, chars))``, with each word's n-grams' rows
        from the word cache: the same rows and values in the same order (test_judge_exact.py)."""
        words, names, concepts = judge_features.pieces(text, prefix)
        found, rows = self.lookup(names)
        values = array("d", repeat(1.0 / len(names) ** 0.5, len(rows))) if rows else array("d")
        known = tuple(map(names.__getitem__, found)) if f"{prefix}w:" in _WORD_MARKS else ()
        table = array("i", rows)
        if chars and words:
            # Each n-gram once, where it first appears (a dict keeps a key's first place), and
            # counted whether the model has it or not, as ``extract``'s dict does: the model's
            # n-grams by row (one row a name), the others by name.
            known_grams, unknown = zip(*map(self.word, words, repeat(prefix)), strict=True)
            present = dict.fromkeys(chain.from_iterable(known_grams))
            table.extend(present)
            values.extend(repeat(1.0 / (len(present) + len(set(chain.from_iterable(unknown)))) ** 0.5,
                                 len(present)))
        found, rows = self.lookup(concepts)
        table.extend(rows)
        values.extend(repeat(1.0, len(rows)))
        return Rows(table, values, known, range(len(known)))  # a text's words come first

    def _word(self, word: str, prefix: str) -> tuple[array[int], tuple[str, ...]]:
        names = judge_features.grams(word, prefix)
        found, rows = self.lookup(names)
        if len(found) == len(names):  # most words: the model has all their n-grams
            return array("i", rows), ()
        known = set(found)
        return array("i", rows), tuple(name for i, name in enumerate(names) if i not in known)

    def scores(self, features: dict[str, float], role: str) -> dict[str, float]:
        """Probability per trigger that reads messages of this role."""
        return self.scores_of([self.rows(features)], role)

    def scores_of(self, parts: Sequence[Rows], role: str) -> dict[str, float]:
        """``scores`` of the features of ``parts`` concatenated, in order (a message's text blocks
        then its own features: the same rows and values in the same order as its merged dict)."""
        mine = [(j, t) for j, t in enumerate(self.triggers) if self.roles[t] == role]
        if not mine:
            return {}
        # Lists, made once: every trigger's pass then reads the same objects (an array makes a new
        # int or float object per item at every pass).
        rows = list(chain.from_iterable(p.rows for p in parts))
        values = list(chain.from_iterable(p.values for p in parts))
        out = {}
        for j, trigger in mine:
            # A feature the model lacks adds 0.0, which leaves a float sum as it is: the features it
            # has, summed in the same order, give the very same total as all of them did. One sum over
            # the concatenation, never per-block subtotals (they would round differently).
            total = self.intercepts[trigger] + sum(map(mul, map(self.columns[j].__getitem__, rows), values))
            out[trigger] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))
        return out

    def top_words(self, features: dict[str, float], trigger: str, k: int = 3) -> list[str]:
        """The word features that pushed this trigger's score up the most (for the evidence)."""
        return self.top_words_of([self.rows(features)], trigger, k)

    def top_words_of(self, parts: Sequence[Rows], trigger: str, k: int = 3) -> list[str]:
        column = self.columns[self.triggers.index(trigger)]
        ranked = sorted(((column[p.rows[i]] * p.values[i], name) for p in parts
                         for i, name in zip(p.word_at, p.words, strict=True)), reverse=True)
        return [name.split(":", 1)[1] for contribution, name in ranked[:k] if contribution > 0]


def _hash_table(names: str, n: int) -> tuple[array[int], array[int], dict[str, int]]:
    """The slots of ``n`` names (one per line of ``names``): 4 slots a name or more, a power of two.
    The names are read a slice at a time: all 128k as Python strings at once would add ~9 MB to the
    peak of loading."""
    size = 1 << max(4, (4 * n - 1).bit_length())
    mask = size - 1
    keys = array("q", bytes(8 * size))
    slots = array("i", [EMPTY]) * size
    shared: set[int] = set()
    row = start = 0
    while n:
        cut = names.find("\n", start + 65536)
        for name in (names[start:] if cut < 0 else names[start:cut]).split("\n"):
            h = hash(name)
            at = h & mask
            while slots[at] != EMPTY and keys[at] != h:
                at = (at + 1) & mask
            if slots[at] == EMPTY:
                keys[at], slots[at] = h, row
            else:  # another name with this hash: those names are looked up by name
                shared.add(h)
                slots[at] = CLASH
            row += 1
        if cut < 0:
            break
        start = cut + 1
    if row != n:
        raise ValueError(f"the model has {n} weight rows and {row} names")
    clashes = {name: line for line, name in enumerate(names.split("\n")) if hash(name) in shared} if shared else {}
    return keys, slots, clashes


def names(path: Path | None = None) -> list[str]:
    """The feature names of a model file (the shipped one by default), in the file's order: for
    tests and tools; the judge itself keeps only their hashes."""
    raw = _read(path)
    text = json.loads(gzip.decompress(raw))["names"]
    return text.split("\n") if text else []


def _read(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    return resources.files("bridge.pipeline").joinpath(MODEL_FILE).read_bytes()


def load(path: Path | None = None) -> Model:
    if path is not None:
        return _load(path)
    return _shipped()


@lru_cache(maxsize=1)
def _shipped() -> Model:
    return _load(None)


def _load(path: Path | None) -> Model:
    model = Model.from_json(json.loads(gzip.decompress(_read(path))))
    _give_back_freed_memory()
    return model


def _give_back_freed_memory() -> None:
    """Return the load's freed buffers (the file, its JSON, the decoded weights: ~9 MB) to the OS.
    glibc keeps them: freeing the first large buffer raises its mmap threshold, so the next ones
    come from the heap, and freed holes under the model's arrays are never trimmed. Elsewhere
    (no glibc) a no-op."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _hit(trigger: str, index: int | None, evidence: str, score: float | None = None) -> TriggerHit:
    return TriggerHit.model_validate({"trigger": trigger, "message_index": index, "evidence": evidence,
                                      "score": None if score is None else round(score, 3)})


_RULE_OF = {"customer_requested_human": 0, "product_bug": 1, "billing_exception": 2}  # in customer_rules


def _evidence(trigger: str, message: Message, parts: Sequence[Rows], model: Model, cfg: TriggerConfig,
              score: float) -> str:
    """The rule's phrase in its sentence when a precise rule agrees; the model's words otherwise."""
    phrase: str | None = None
    if trigger in _RULE_OF:
        phrase = judge_features.customer_rules(message, cfg)[_RULE_OF[trigger]]
    elif trigger == "low_confidence":
        low = trigger_rules.low_confidence(message, cfg)
        if low:
            return low[0]
        if message.confidence is not None:
            who = "the platform understood this turn with" if message.role == "customer" else "the bot answered with"
            return f"{who} confidence {message.confidence:.2f}"
    elif trigger == "negative_sentiment" and message.sentiment is not None and message.sentiment <= -0.6:
        return f"the platform scored this turn's sentiment {message.sentiment:+.2f}"
    if phrase:
        return trigger_rules.in_context(phrase, message.text)
    words = model.top_words_of(parts, trigger)
    cue = ", ".join(f"“{w}”" for w in words) or "the conversation so far"
    excerpt = " ".join(message.text.split())
    excerpt = excerpt if len(excerpt) <= 140 else excerpt[:139] + "…"
    return f"model {score:.2f} on {cue} in “{excerpt}”"


# Signals precise enough to decide alone. Hand-written detectors (on the training corpus: a request
# for a person 50 right, 1 false; a low-confidence answer 57 right, 1 false; the others are only
# features), and the platform's own verdict on a customer turn: it did not understand it (NLU
# confidence under the threshold), or read it as clearly negative (sentiment ≤ -0.6).
PRECISE = {"s:rule_human": "customer_requested_human", "s:rule_low_confidence": "low_confidence",
           "s:nlu_below_threshold": "low_confidence", "s:psent<-0.6": "negative_sentiment"}


# Detectors that are right more often than not but not alone (a bug's error code or crash words, a
# refund or double charge named): where one fires, its trigger needs only ``assist`` of its threshold.
ASSISTS = {"s:rule_bug": "product_bug", "s:rule_billing": "billing_exception"}


def precise_hits(features: dict[str, float]) -> set[str]:
    return {trigger for name, trigger in PRECISE.items() if name in features}


def assisted(features: dict[str, float]) -> set[str]:
    return {trigger for name, trigger in ASSISTS.items() if name in features}


def first_escalation(steps: list[tuple[dict[str, float], set[str], set[str]]], thresholds: dict[str, float],
                     co: float, assist: float = 1.0) -> tuple[int, list[str]] | None:
    """``(1-based index, triggers)`` of the first step where a trigger crosses its threshold (lowered
    to ``assist`` of it where a supporting rule fired) or a precise rule fires, with every trigger
    within ``co`` of its own threshold there (strongest first); None if none does. The one rule the
    judge and its training share."""
    for index, (scores, forced, helped) in enumerate(steps, start=1):
        bar = {t: thresholds[t] * (assist if t in helped else 1.0) for t in scores}
        if forced or any(p >= bar[t] for t, p in scores.items()):
            chosen = {t for t, p in scores.items() if p >= co * bar[t]} | forced
            return index, sorted(chosen, key=lambda t: -scores.get(t, 1.0) / bar.get(t, 1.0))
    return None


Step = tuple[Message, dict[str, float], dict[str, float], list[Rows]]  # message, scores, own features, rows


def steps(event: Event, cfg: TriggerConfig, model: Model, reference: bool = False) -> Iterator[Step]:
    """Per message, in order: the message, its scores, its own features (``precise_hits`` and
    ``assisted`` read only those) and the rows the scores summed (for the evidence's words).
    Each text's rows come from the model's cache, looked up once however often the text is read;
    ``reference`` reads each message as the one dict training reads (``positions``), every name
    looked up at every message: slower, and the same floats (tests/pipeline/test_judge_exact.py)."""
    if reference:
        for _, message, features in judge_features.positions(event, cfg):
            parts = [model.rows(features)]
            yield message, model.scores_of(parts, message.role), features, parts
        return
    for _, message, blocks, own in judge_features.walk(event, cfg):
        parts = [model.block(*block) for block in blocks]
        parts.append(model.rows(own))
        yield message, model.scores_of(parts, message.role), own, parts


def judge(event: Event, cfg: TriggerConfig, model: Model | None = None, reference: bool = False) -> Decision:
    """Feed the messages one at a time; escalate after the first one at which a trigger fires."""
    model = model or load()
    seen: list[tuple[Message, list[Rows], dict[str, float]]] = []
    found = None
    for message, scores, own, parts in steps(event, cfg, model, reference):
        seen.append((message, parts, scores))
        found = first_escalation([(scores, precise_hits(own), assisted(own))], model.thresholds,
                                 model.co, model.assist)
        if found:
            break
    uncertain = any(UNCERTAIN_BAND * model.thresholds[t] <= p < model.thresholds[t]
                    for _, _, scores in seen for t, p in scores.items())
    if found:
        index = len(seen)
        message, parts, scores = seen[-1]
        hits = [_hit(t, index, _evidence(t, message, parts, model, cfg, scores.get(t, 1.0)), scores.get(t))
                for t in found[1]]
        hits += stated_reasons(event, found[1], cfg)
        return Decision(escalate=True, triggers=hits, at_message=index, uncertain=uncertain)
    if event.type == "handoff.requested":
        at = _handoff_index(event.conversation.messages)
        return Decision(escalate=True, triggers=trigger_rules.handoff_hits(event.handoff, at, cfg), at_message=at,
                        uncertain=True)
    return Decision(escalate=False, uncertain=uncertain)
