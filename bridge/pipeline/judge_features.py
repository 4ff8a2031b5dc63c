"""What the learned judge reads at each message: pure functions from a conversation to features.

One feature dict per message position (1-based), computed walking the conversation once and never
looking ahead, so a decision at message N depends on messages 1..N only. Features are named
strings (weights are looked up by name; no hashing, so a model is readable and reproducible):

* ``c:`` / ``cw:`` character 2–4-grams and word 1–2-grams of the customer's latest turn (character
  n-grams carry across languages and typos; words carry phrasing), ``pb:`` words of the bot turn
  that customer turn answers (a policy the bot cited, a question it asked);
* ``b:`` / ``bw:`` the same of the bot's latest answer when the current message is the bot's;
* ``h:`` words of the bot's hand-off reason on a ``handoff.requested`` event;
* ``s:`` structural signals the text alone misses: the role of the message, the bot's and the
  platform's confidence, the platform's sentiment, VADER on English turns, the bot repeating
  itself or answering past the question, the customer repeating themselves, turns since the last
  useful answer, evidence (console errors, failing requests, screenshots and files sent after a
  bot answer), error-code, stack-trace and version shapes, "X instead of Y", shouting, and the
  hits of the precise hand-written rules (``trigger_rules``) as one feature each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, repeat

from bridge.events import Event, Message
from bridge.pipeline import judge_lexicon, trigger_rules
from bridge.pipeline.judge_lexicon import fold
from bridge.pipeline.judge_shapes import shapes
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.window import window

Features = dict[str, float]

_WORD = re.compile(r"\w+", re.UNICODE)
_CAPS = re.compile(r"\b[A-ZÄÖÜÀ-ÝÑ]{4,}\b")
_QUOTED_UI = re.compile(r"[\"“«„「『'][^\"”»“」』'\n]{2,40}[\"”»“」』']")
_NUMBER = re.compile(r"\d[\d.,]*")
_QUESTION = re.compile(r"[?？]")
_JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# The caches below serve re-judging a growing transcript (the worker judges a conversation again at
# every update), not the whole traffic: a text's n-grams cost ~25 KB, so 4,096 cached texts grew a
# worker by ~100 MB. A few conversations' worth of texts, and the words that recur everywhere.
TEXTS, WORDS = 512, 4096


Block = tuple[str, str, bool]  # one text's features: (text, prefix, with character n-grams)


@lru_cache(maxsize=TEXTS)
def text_features(text: str, prefix: str, chars: bool = True) -> tuple[tuple[str, float], ...]:
    """``extract``, cached by text: training reads a customer turn at its message and again at the
    bot's answer. (The judge does not use this cache: it keeps a text's rows in the model, far
    smaller than these ~25 KB of names a text.)"""
    return extract(text, prefix, chars)


def extract(text: str, prefix: str, chars: bool = True) -> tuple[tuple[str, float], ...]:
    """Word 1–2-grams of one text, character 2–4-grams of each word (with boundary marks), then its
    concepts: in this order, each name once, each block a unit vector (as TF-IDF's l2 norm does: a
    long message does not outweigh a short one by the number of its n-grams). The judge builds the
    same from ``pieces`` and ``grams`` (``judge.Model.block``): change both or neither."""
    words, names, concepts = pieces(text, prefix)
    grams = dict.fromkeys(chain.from_iterable(map(_grams, words, repeat(prefix)))) if chars else {}
    out = list(zip(names, repeat(1.0 / len(names) ** 0.5))) if names else []
    out += zip(grams, repeat(1.0 / len(grams) ** 0.5)) if grams else []
    out += zip(concepts, repeat(1.0))
    return tuple(out)


def pieces(text: str, prefix: str) -> tuple[list[str], list[str], list[str]]:
    """A text's words, its word 1–2-gram names (in order of appearance, each once: deterministic
    whatever the hash seed) and its concept names."""
    body = fold(trigger_rules.prose(text))[:2000]
    words = _WORD.findall(body)
    names = list(dict.fromkeys([f"{prefix}w:{w}" for w in words]
                               + [f"{prefix}w:{a} {b}" for a, b in zip(words, words[1:], strict=False)]))
    return words, names, [f"{prefix}k:{name}" for name in concept_features(body)]


def grams(word: str, prefix: str) -> tuple[str, ...]:
    """Character 2–4-grams of one word with boundary marks, named."""
    marked = f" {word} "
    return tuple([f"{prefix}:{marked[i:i + n]}" for n in (2, 3, 4) for i in range(len(marked) - n + 1)])


_grams = lru_cache(maxsize=WORDS)(grams)  # for training: words recur (the judge keeps its own)


_SENTENCE_END = re.compile(r"[.!?。！？\n]+")


def concept_features(folded: str) -> list[str]:
    """Concepts of the whole text, and concept pairs met in one sentence (``CONTACT+PERSON``)."""
    names: set[str] = set()
    # A short message is one thought however it is punctuated ("HUMAN. NOW.").
    pieces = [folded] if len(folded.split()) <= 12 else _SENTENCE_END.split(folded)
    for sentence in pieces:
        found = sorted(judge_lexicon.concepts(sentence))
        names.update(found)
        names.update(f"{a}+{b}" for i, a in enumerate(found) for b in found[i + 1:])
    return sorted(names)


@lru_cache(maxsize=TEXTS)
def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(fold(text)))


def _repeats(text: str, previous: str) -> bool:
    """The bot gives (nearly) the same answer as before: the same words, or the old answer inside
    the new one (a cheap stand-in for a sequence match, which cost more than the model)."""
    now, old = _words(text), _words(previous)
    if not now or not old:
        return False
    return len(now & old) / len(now | old) >= 0.8 or (len(old) >= 8 and old <= now)


def _vader_compound(text: str, cfg: TriggerConfig) -> float:
    return _vader_shared(text) if cfg.shortcuts else _vader_reference(text)


@lru_cache(maxsize=TEXTS)
def _vader_shared(text: str) -> float:
    """One VADER call per turn, shared with ``trigger_rules.mood``, which reads the same sentences."""
    return trigger_rules.vader_compound(trigger_rules.own_voice(text))


@lru_cache(maxsize=TEXTS)
def _vader_reference(text: str) -> float:
    return float(_vader().polarity_scores(trigger_rules.own_voice(text))["compound"])  # type: ignore[attr-defined]


# lru_cache keys hash their arguments; a TriggerConfig hashes every pattern it holds, so the caches
# below are keyed by the config's id, looked up here.
_CONFIGS: dict[int, TriggerConfig] = {}


def _key(cfg: TriggerConfig) -> int:
    _CONFIGS.setdefault(id(cfg), cfg)
    return id(cfg)


Rules = tuple[str | None, str | None, str | None]  # human_request, product_bug, billing_exception


def customer_rules(message: Message, cfg: TriggerConfig) -> Rules:
    """What the precise detectors found in a customer turn (a request for a person, a bug, a
    billing exception: the phrase, or None), cached: the features read them, and the evidence of
    the message the judge escalates at reads them again."""
    return _customer_rules_cached(message.text, tuple(a.kind for a in message.attachments if a.kind), _key(cfg))


@lru_cache(maxsize=TEXTS)
def _customer_rules_cached(text: str, kinds: tuple[str, ...], cfg_id: int) -> Rules:
    cfg = _CONFIGS[cfg_id]
    # product_bug reads the text and the attachments' kinds, nothing else of the message.
    message = Message.model_validate({"role": "customer", "text": text,
                                      "attachments": [{"kind": k} for k in kinds]})
    return (trigger_rules.human_request(text, cfg), trigger_rules.product_bug(message, cfg),
            trigger_rules.billing_exception(text, cfg))


def _mood(text: str, cfg: TriggerConfig, english: bool, after_repeat: bool) -> trigger_rules.Mood:
    return _mood_cached(text, _key(cfg), english, after_repeat)


@lru_cache(maxsize=TEXTS)
def _mood_cached(text: str, cfg_id: int, english: bool, after_repeat: bool) -> trigger_rules.Mood:
    return trigger_rules.mood(text, _CONFIGS[cfg_id], english=english, after_repeat=after_repeat)


def _similar(a: str, b: str) -> float:
    """Word-set overlap of two texts (Jaccard), 0 when either is empty."""
    x, y = _words(a), _words(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def _bin(name: str, value: float, edges: tuple[float, ...]) -> str:
    """``name<edge`` for the first edge the value is under, ``name>=last`` otherwise."""
    for edge in edges:
        if value < edge:
            return f"{name}<{edge:g}"
    return f"{name}>={edges[-1]:g}"


@lru_cache(maxsize=1)
def _vader() -> object:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _english(language: str | None) -> bool:
    return not language or language.lower().startswith("en")


@dataclass
class _Walk:
    """What the walk remembers between messages (never anything from later messages)."""

    last_customer: Message | None = None
    last_bot: Message | None = None
    bot_before_customer: Message | None = None
    customer_turns: int = 0
    bot_turns: int = 0
    since_useful: int = 0
    low_answers: int = 0
    repeats: int = 0
    customer_repeats: int = 0
    earlier_customer: list[str] = field(default_factory=list)
    frustration: float = 0.0
    bot_answered: bool = False


def _structure(walk: _Walk, message: Message, event: Event, cfg: TriggerConfig, index: int) -> Features:
    s: Features = {f"s:role={message.role}": 1.0}
    language = (event.conversation.language or "").split("-")[0].lower() or "xx"
    s[f"s:lang={language}"] = 1.0
    if message.role == "customer":
        s[_bin("s:cturn", walk.customer_turns, (2, 3, 5, 8))] = 1.0
        text = message.text
        if message.confidence is not None:  # the platform's understanding of this turn (Lex, Rasa)
            s[_bin("s:nlu", message.confidence, (0.3, 0.5, 0.7))] = 1.0
            if message.confidence < cfg.low_confidence_threshold:
                s["s:nlu_below_threshold"] = 1.0
        if message.sentiment is not None:
            s[_bin("s:psent", message.sentiment, (-0.6, -0.3, 0.1))] = 1.0
        if _english(event.conversation.language) and text.strip():
            s[_bin("s:vader", _vader_compound(text, cfg), (-0.6, -0.3, 0.05, 0.5))] = 1.0
        caps = [w for w in _CAPS.findall(text) if w not in cfg.acronyms]
        if caps:
            s["s:caps"] = 1.0
        if text.count("!") >= 2 or "!!" in text:
            s["s:bangs"] = 1.0
        if _QUESTION.search(text):
            s["s:question"] = 1.0
        s.update(dict.fromkeys(shapes(text, cfg), 1.0))
        if _QUOTED_UI.search(text):
            s["s:quoted"] = 1.0  # an on-screen status or label quoted back: "still says 'Processing'"
        if len(_NUMBER.findall(text)) >= 2:
            s["s:numbers"] = 1.0
        if message.attachments:
            s["s:attachment"] = 1.0
            if walk.bot_answered:
                s["s:attachment_after_answer"] = 1.0
        similar = max((_similar(text, old) for old in walk.earlier_customer[-3:]), default=0.0)
        if similar >= 0.5:
            s["s:customer_repeats"] = 1.0
        if walk.repeats:
            s["s:after_bot_repeat"] = 1.0
        if walk.low_answers:
            s["s:after_low_answer"] = 1.0
        s[_bin("s:since_useful", walk.since_useful, (1, 2, 4))] = 1.0
        s.update(_rule_hits(walk, message, cfg, event))
    elif message.role == "bot":
        s[_bin("s:bturn", walk.bot_turns, (2, 4, 8))] = 1.0
        if message.confidence is not None:
            s[_bin("s:conf", message.confidence, (0.3, 0.4, 0.5, 0.6, 0.8))] = 1.0
            if message.confidence < cfg.low_confidence_threshold:
                s["s:below_threshold"] = 1.0
        else:
            s["s:conf=none"] = 1.0
        if message.sources:
            s["s:sources"] = 1.0
        if _QUESTION.search(message.text):
            s["s:bot_question"] = 1.0
        if walk.last_bot is not None and _repeats(message.text, walk.last_bot.text):
            s["s:bot_repeats"] = 1.0
        if walk.last_customer is not None and _similar(message.text, walk.last_customer.text) < 0.05:
            s["s:past_question"] = 1.0
        low = trigger_rules.low_confidence(message, cfg)
        if low:
            s["s:rule_low_confidence"] = 1.0
        if walk.last_customer is not None:
            s.update({f"p{k}": v for k, v in _rule_hits(walk, walk.last_customer, cfg, event, carry=True).items()})
    evidence = event.evidence
    if evidence is not None:
        if any((log.level or "").lower() in ("error", "fatal") for log in evidence.console_logs):
            s["s:ev_console_error"] = 1.0
        if any((req.status or 0) >= 400 for req in evidence.network_requests):
            s["s:ev_failing_request"] = 1.0
        if evidence.screenshots:
            s["s:ev_screenshot"] = 1.0
    if event.type == "handoff.requested":
        s["s:handoff_event"] = 1.0
        if index == len(event.conversation.messages):
            s["s:handoff_last"] = 1.0
    return s


def _rule_hits(walk: _Walk, message: Message, cfg: TriggerConfig, event: Event, carry: bool = False) -> Features:
    """The hand-written detectors' verdicts on a customer turn, as features (their phrase lists
    carry what the authors knew; the model learns how far to trust each)."""
    hits: Features = {}
    human, bug, billing = customer_rules(message, cfg)
    if human:
        hits["s:rule_human"] = 1.0
    if bug:
        hits["s:rule_bug"] = 1.0
    if billing:
        hits["s:rule_billing"] = 1.0
    if not carry:
        mood = _mood(message.text, cfg, _english(event.conversation.language), walk.repeats > 0)
        if mood.points:
            hits[_bin("s:mood", mood.points, (1, 2, 3))] = 1.0
        if mood.accepted:
            hits["s:accepted"] = 1.0
        walk.frustration = walk.frustration * cfg.decay + mood.points
        if walk.frustration:
            hits[_bin("s:frustration", walk.frustration, (1, 2, 3))] = 1.0
    return hits


def bounded(message: Message) -> Message:
    """``message`` as the judge reads it (``window``): itself, or a copy with the text cut. A fresh
    50 KB log cost the judge ~90 ms, most of it VADER and the shapes reading the log. No message of
    the corpus comes near the bound (the longest is under 800 characters): the model is unchanged."""
    text = window(message.text)
    return message if text is message.text else message.model_copy(update={"text": text})


def walk(event: Event, cfg: TriggerConfig) -> Iterator[tuple[int, Message, tuple[Block, ...], Features]]:
    """``(index, message, blocks, own)`` for every message, in order, each from what came before: the
    text blocks whose features (``extract``) come first, then the message's own features (its
    structure, the hand-off's words at the last message, ``s:bias``). The blocks' namespaces
    (``cw:``/``c:``/``ck:``, ``pbw:``, ``bw:``/``b:``/``bk:``) are disjoint from each other and from
    ``s:``/``ps:``/``hw:``, so the merged dict ``positions`` yields is these concatenated in order:
    the judge sums each block's cached rows in this order and gets the same floats."""
    walk = _Walk()
    handoff_words: Features = {}
    if event.type == "handoff.requested" and event.handoff is not None:
        reason = " ".join(p for p in (event.handoff.reason, event.handoff.topic) if p)
        handoff_words = {name: 1.0 for name, _ in extract(reason, "h", chars=False)}
        handoff_words[f"s:handoff_by={event.handoff.requested_by or 'unknown'}"] = 1.0
    messages = event.conversation.messages
    for index, message in enumerate(map(bounded, messages), start=1):
        blocks: tuple[Block, ...] = ()
        if message.role == "customer":
            walk.customer_turns += 1
            blocks = ((message.text, "c", True),)
            if walk.last_bot is not None:
                # "pb" + "w:…" is "p" + "bw:…": the bot turn's word features renamed.
                blocks += ((walk.last_bot.text, "pb", False),)
        elif message.role == "bot":
            walk.bot_turns += 1
            blocks = ((message.text, "b", True),)
            if walk.last_customer is not None:
                blocks += ((walk.last_customer.text, "c", True),)
        own = _structure(walk, message, event, cfg, index)
        if handoff_words and index == len(messages):
            own.update(handoff_words)
        own["s:bias"] = 1.0
        yield index, message, blocks, own
        _advance(walk, message, cfg)


def positions(event: Event, cfg: TriggerConfig) -> Iterator[tuple[int, Message, Features]]:
    """``(index, message, features)`` for every message, in order, each from what came before: one
    dict a message, as training reads it (``walk``'s blocks and own features merged)."""
    for index, message, blocks, own in walk(event, cfg):
        features: Features = {}
        for block in blocks:
            features.update(text_features(*block))
        features.update(own)
        yield index, message, features


def _advance(walk: _Walk, message: Message, cfg: TriggerConfig) -> None:
    if message.role == "customer":
        walk.earlier_customer.append(message.text)
        walk.bot_before_customer = walk.last_bot
        walk.last_customer = message
        walk.since_useful += 1
    elif message.role == "bot":
        low = message.confidence is not None and message.confidence < cfg.low_confidence_threshold
        repeated = walk.last_bot is not None and _repeats(message.text, walk.last_bot.text)
        walk.low_answers += int(low)
        walk.repeats = walk.repeats + 1 if repeated else 0
        if not low and not repeated and message.sources:
            walk.since_useful = 0
        walk.last_bot = message
        walk.bot_answered = True


def is_japanese(text: str) -> bool:
    return bool(_JA.search(text))
