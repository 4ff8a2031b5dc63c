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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from operator import mul
from pathlib import Path
from typing import Any

from bridge.events import Decision, Event, Message, TriggerHit
from bridge.pipeline import judge_features, trigger_rules
from bridge.pipeline.trigger_config import TriggerConfig

MODEL_FILE = "judge_model.json.gz"
WORD_SPACES = ("cw", "bw", "pbw", "hw")
UNCERTAIN_BAND = 0.5  # a score above this share of its threshold, without crossing it, is "uncertain"


EMPTY, CLASH = -1, -2  # a slot's row: free, or shared by names with one hash (looked up by name)


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

    def scores(self, features: dict[str, float], role: str) -> dict[str, float]:
        """Probability per trigger that reads messages of this role."""
        mine = [(j, t) for j, t in enumerate(self.triggers) if self.roles[t] == role]
        if not mine:
            return {}
        found, rows = self.lookup(features)
        values = list(features.values())
        present = list(map(values.__getitem__, found))
        out = {}
        for j, trigger in mine:
            # A feature the model lacks adds 0.0, which leaves a float sum as it is: the features it
            # has, summed in the same order, give the very same total as all of them did.
            total = self.intercepts[trigger] + sum(map(mul, map(self.columns[j].__getitem__, rows), present))
            out[trigger] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))
        return out

    def top_words(self, features: dict[str, float], trigger: str, k: int = 3) -> list[str]:
        """The word features that pushed this trigger's score up the most (for the evidence)."""
        column = self.columns[self.triggers.index(trigger)]
        words = [(name, value) for name, value in features.items() if name.split(":", 1)[0] in WORD_SPACES]
        found, rows = self.lookup(name for name, _ in words)
        ranked = sorted(((column[row] * words[i][1], words[i][0]) for i, row in zip(found, rows, strict=True)),
                        reverse=True)
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


def _evidence(trigger: str, message: Message, features: dict[str, float], model: Model, cfg: TriggerConfig,
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
    words = model.top_words(features, trigger)
    cue = ", ".join(f"“{w}”" for w in words) or "the conversation so far"
    excerpt = " ".join(message.text.split())
    excerpt = excerpt if len(excerpt) <= 140 else excerpt[:139] + "…"
    return f"model {score:.2f} on {cue} in “{excerpt}”"


def stated_reasons(event: Event, found: list[str], cfg: TriggerConfig) -> list[TriggerHit]:
    """On a bot's hand-off that the transcript already explains, the triggers its stated reason
    names too (a bot that hands off a "disputed duplicate charge" names billing_exception), never
    the ``bot_handoff`` fallback."""
    if event.type != "handoff.requested":
        return []
    at = _handoff_index(event.conversation.messages)
    return [hit for hit in trigger_rules.handoff_hits(event.handoff, at, cfg)
            if hit.trigger != "bot_handoff" and hit.trigger not in found]


def _handoff_index(messages: list[Message]) -> int:
    """Where the hand-off happened: the bot's last message (it says "I'm connecting you"); without
    one the last customer turn known; with no message at all (a switchboard pass-control alone)
    the hand-off itself, counted as the first message. Never None: a hand-off has a moment."""
    for role in ("bot", "customer"):
        for index in range(len(messages), 0, -1):
            if messages[index - 1].role == role:
                return index
    return len(messages) or 1


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


def judge(event: Event, cfg: TriggerConfig, model: Model | None = None) -> Decision:
    """Feed the messages one at a time; escalate after the first one at which a trigger fires."""
    model = model or load()
    seen: list[tuple[Message, dict[str, float], dict[str, float]]] = []
    found = None
    for _, message, features in judge_features.positions(event, cfg):
        scores = model.scores(features, message.role)
        seen.append((message, features, scores))
        found = first_escalation([(scores, precise_hits(features), assisted(features))], model.thresholds,
                                 model.co, model.assist)
        if found:
            break
    uncertain = any(UNCERTAIN_BAND * model.thresholds[t] <= p < model.thresholds[t]
                    for _, _, scores in seen for t, p in scores.items())
    if found:
        index = len(seen)
        message, features, scores = seen[-1]
        hits = [_hit(t, index, _evidence(t, message, features, model, cfg, scores.get(t, 1.0)), scores.get(t))
                for t in found[1]]
        hits += stated_reasons(event, found[1], cfg)
        return Decision(escalate=True, triggers=hits, at_message=index, uncertain=uncertain)
    if event.type == "handoff.requested":
        at = _handoff_index(event.conversation.messages)
        return Decision(escalate=True, triggers=trigger_rules.handoff_hits(event.handoff, at, cfg), at_message=at,
                        uncertain=True)
    return Decision(escalate=False, uncertain=uncertain)
