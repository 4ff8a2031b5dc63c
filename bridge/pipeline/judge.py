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
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import repeat
from operator import mul
from pathlib import Path
from typing import Any

from bridge.events import Decision, Event, Message, TriggerHit
from bridge.pipeline import judge_features, trigger_rules
from bridge.pipeline.trigger_config import TriggerConfig

MODEL_FILE = "judge_model.json.gz"
WORD_SPACES = ("cw", "bw", "pbw", "hw")
UNCERTAIN_BAND = 0.5  # a score above this share of its threshold, without crossing it, is "uncertain"


@dataclass(frozen=True)
class Model:
    """Weights by feature name, kept compact: one row index per name into one float32 column per
    trigger (a Python tuple per feature would cost ~10x the memory in every worker). Each column
    ends with a zero row that unknown features point at, so a score is summed without a branch."""

    triggers: tuple[str, ...]
    roles: dict[str, str]
    intercepts: dict[str, float]
    thresholds: dict[str, float]
    co: float
    assist: float
    rows: dict[str, int]
    columns: tuple[array[float], ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        triggers = tuple(data["triggers"])
        rows = {name: row for row, name in enumerate(data["names"].split("\n"))} if data["names"] else {}
        table = array("f")
        table.frombytes(base64.b64decode(data["weights"]))
        if sys.byteorder != "little":
            table.byteswap()
        width = len(triggers)
        columns = tuple(table[j::width] + array("f", [0.0]) for j in range(width))
        return cls(triggers=triggers, roles=dict(data["roles"]), intercepts=dict(data["intercepts"]),
                   thresholds=dict(data["thresholds"]), co=float(data["co"]), assist=float(data.get("assist", 1.0)),
                   rows=rows, columns=columns)

    def weight(self, name: str, j: int) -> float:
        row = self.rows.get(name)
        return 0.0 if row is None else self.columns[j][row]

    def scores(self, features: dict[str, float], role: str) -> dict[str, float]:
        """Probability per trigger that reads messages of this role."""
        mine = [(j, t) for j, t in enumerate(self.triggers) if self.roles[t] == role]
        if not mine:
            return {}
        # Every step below iterates in C (map over the dict, the column's __getitem__, mul): a
        # message has thousands of n-gram features and this runs at every message.
        rows = list(map(self.rows.get, features, repeat(len(self.rows))))
        values = list(features.values())
        out = {}
        for j, trigger in mine:
            total = self.intercepts[trigger] + sum(map(mul, map(self.columns[j].__getitem__, rows), values))
            out[trigger] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))
        return out

    def top_words(self, features: dict[str, float], trigger: str, k: int = 3) -> list[str]:
        """The word features that pushed this trigger's score up the most (for the evidence)."""
        j = self.triggers.index(trigger)
        ranked = sorted(((self.weight(name, j) * value, name) for name, value in features.items()
                         if name.split(":", 1)[0] in WORD_SPACES), reverse=True)
        return [name.split(":", 1)[1] for contribution, name in ranked[:k] if contribution > 0]


def load(path: Path | None = None) -> Model:
    if path is not None:
        return Model.from_json(json.loads(gzip.decompress(path.read_bytes())))
    return _shipped()


@lru_cache(maxsize=1)
def _shipped() -> Model:
    raw = resources.files("bridge.pipeline").joinpath(MODEL_FILE).read_bytes()
    return Model.from_json(json.loads(gzip.decompress(raw)))


def _hit(trigger: str, index: int | None, evidence: str, score: float | None = None) -> TriggerHit:
    return TriggerHit.model_validate({"trigger": trigger, "message_index": index, "evidence": evidence,
                                      "score": None if score is None else round(score, 3)})


def _evidence(trigger: str, message: Message, features: dict[str, float], model: Model, cfg: TriggerConfig,
              score: float) -> str:
    """The rule's phrase in its sentence when a precise rule agrees; the model's words otherwise."""
    phrase: str | None = None
    if trigger == "customer_requested_human":
        phrase = trigger_rules.human_request(message.text, cfg)
    elif trigger == "product_bug":
        phrase = trigger_rules.product_bug(message, cfg)
    elif trigger == "billing_exception":
        phrase = trigger_rules.billing_exception(message.text, cfg)
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
