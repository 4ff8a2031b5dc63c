"""Configuration of the trigger engine: thresholds and phrase lists, compiled once.

The defaults live in ``triggers.yaml`` next to this module. ``BRIDGE_TRIGGERS_FILE`` names an
override file that is merged over them (mappings key by key; lists and scalars replace), and
``BRIDGE_LOW_CONFIDENCE_THRESHOLD`` overrides the one number people tune most.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bridge.config import ConfigError, Settings
from bridge.events import TRIGGERS
from bridge.pipeline.trigger_prefilter import Gate, Prefilter, required_literals

DEFAULTS_FILE = Path(__file__).with_name("triggers.yaml")
FLAGS = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class Patterns:
    """A named group of alternatives; ``search`` returns the first matched text, if any.

    ``needs`` holds, per regex, the literals one of which every match contains (``trigger_prefilter``),
    or None. Given a message's ``gate`` (``Prefilter.gate``), only the regexes that may match it run;
    without one every regex runs (the reference path)."""

    regexes: tuple[re.Pattern[str], ...]
    needs: tuple[frozenset[str] | None, ...] = field(default=(), compare=False)

    def runnable(self, gate: Gate | None) -> tuple[re.Pattern[str], ...]:
        return self.regexes if gate is None else gate.get(id(self), self.regexes)

    def search(self, text: str, gate: Gate | None = None) -> str | None:
        for regex in self.runnable(gate):
            match = regex.search(text)
            if match:
                return match.group(0).strip()
        return None

    def findall(self, text: str, gate: Gate | None = None) -> list[str]:
        return [m.group(0).strip() for regex in self.runnable(gate) for m in regex.finditer(text)]


@dataclass(frozen=True)
class TriggerConfig:
    low_confidence_threshold: float
    human_request: Patterns
    human_not_request: Patterns
    exempt_intents: Patterns
    clarifying: Patterns
    admission: Patterns
    bug_strong: Patterns
    bug_weak: Patterns
    howto: Patterns
    billing_request: Patterns
    owner_gone: Patterns
    billing_control: Patterns
    fire_at: float
    decay: float
    strong_points: float
    mild_points: float
    vader_threshold: float
    vader_points: float
    repeat_similarity: float
    negative_strong: Patterns
    churn: Patterns
    negative_mild: Patterns
    sarcasm_opener: Patterns
    sarcasm_failure: Patterns
    not_about_service: Patterns
    acceptance: Patterns
    acronyms: frozenset[str]
    reason_map: ReasonMap
    # The exact shortcuts of ``trigger_rules`` (the literal prefilter, one VADER call shared by a
    # turn's two readings). None/False is the reference path they are tested against.
    prefilter: Prefilter | None = field(default=None, compare=False)
    shortcuts: bool = field(default=False, compare=False)


def _flatten(value: Any) -> list[str]:
    """Phrase lists may be a string, a list, or a mapping of language → list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in _flatten(v)]
    if isinstance(value, Iterable):
        return [p for v in value for p in _flatten(v)]
    raise ConfigError(f"expected a phrase or list of phrases, got {value!r}")


def _patterns(value: Any, where: str) -> Patterns:
    compiled = []
    for pattern in _flatten(value):
        try:
            compiled.append(re.compile(pattern, FLAGS))
        except re.error as exc:
            raise ConfigError(f"triggers config {where}: bad pattern {pattern!r}: {exc}") from None
    return Patterns(tuple(compiled), tuple(map(required_literals, compiled)))


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively; anything else in ``override`` replaces the default."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"triggers config {where} must be a number, got {value!r}") from None


ReasonMap = tuple[tuple[str, Patterns], ...]  # (trigger id, the hand-off reasons that name it)


def _reason_map(data: Mapping[str, Any]) -> ReasonMap:
    mapping = (data.get("bot_handoff") or {}).get("reason_map") or {}
    unknown = sorted(set(mapping) - set(TRIGGERS))
    if unknown:
        raise ConfigError(f"triggers config bot_handoff.reason_map: unknown trigger ids {unknown}")
    return tuple((trigger, _patterns(p, f"bot_handoff.reason_map.{trigger}")) for trigger, p in mapping.items())


def build(data: Mapping[str, Any], shortcuts: bool = True) -> TriggerConfig:
    """The config; ``shortcuts=False`` gives the reference path (every regex runs, VADER as written)."""
    cfg = _build(data)
    if not shortcuts:
        return cfg
    # Only the customer's and the bot's texts are prefiltered; exempt_intents reads the intent name
    # and reason_map the hand-off reason, which are other texts: they always run.
    return replace(cfg, prefilter=Prefilter([getattr(cfg, name) for name in PREFILTERED]), shortcuts=True)


# The phrase lists searched in a customer's or a bot's message (or in text derived from it by
# ``trigger_rules.prose``/``own_voice``), whose literals the prefilter looks for in that message.
PREFILTERED = ("human_request", "human_not_request", "clarifying", "admission", "bug_strong", "bug_weak",
               "howto", "billing_request", "owner_gone", "billing_control", "negative_strong", "churn",
               "negative_mild", "sarcasm_opener", "sarcasm_failure", "not_about_service", "acceptance")


def _build(data: Mapping[str, Any]) -> TriggerConfig:
    human, low = data["customer_requested_human"], data["low_confidence"]
    bug, billing, neg = data["product_bug"], data["billing_exception"], data["negative_sentiment"]
    threshold = _number(data["low_confidence_threshold"], "low_confidence_threshold")
    if not 0 <= threshold <= 1:
        raise ConfigError("low_confidence_threshold must be between 0 and 1")
    return TriggerConfig(
        low_confidence_threshold=threshold,
        human_request=_patterns(human["request"], "customer_requested_human.request"),
        human_not_request=_patterns(human.get("not_request"), "customer_requested_human.not_request"),
        exempt_intents=_patterns(low.get("exempt_intents"), "low_confidence.exempt_intents"),
        clarifying=_patterns(low.get("clarifying"), "low_confidence.clarifying"),
        admission=_patterns(low["admission"], "low_confidence.admission"),
        bug_strong=_patterns(bug["strong"], "product_bug.strong"),
        bug_weak=_patterns(bug.get("weak"), "product_bug.weak"),
        howto=_patterns(bug.get("howto"), "product_bug.howto"),
        billing_request=_patterns(billing["request"], "billing_exception.request"),
        owner_gone=_patterns(billing.get("owner_gone"), "billing_exception.owner_gone"),
        billing_control=_patterns(billing.get("billing_control"), "billing_exception.billing_control"),
        fire_at=_number(neg["fire_at"], "negative_sentiment.fire_at"),
        decay=_number(neg["decay"], "negative_sentiment.decay"),
        strong_points=_number(neg["strong_points"], "negative_sentiment.strong_points"),
        mild_points=_number(neg["mild_points"], "negative_sentiment.mild_points"),
        vader_threshold=_number(neg["vader_threshold"], "negative_sentiment.vader_threshold"),
        vader_points=_number(neg.get("vader_points", 0.5), "negative_sentiment.vader_points"),
        repeat_similarity=_number(neg["repeat_similarity"], "negative_sentiment.repeat_similarity"),
        negative_strong=_patterns(neg["strong"], "negative_sentiment.strong"),
        churn=_patterns(neg.get("churn"), "negative_sentiment.churn"),
        negative_mild=_patterns(neg.get("mild"), "negative_sentiment.mild"),
        sarcasm_opener=_patterns(neg.get("sarcasm_opener"), "negative_sentiment.sarcasm_opener"),
        sarcasm_failure=_patterns(neg.get("sarcasm_failure"), "negative_sentiment.sarcasm_failure"),
        not_about_service=_patterns(neg.get("not_about_service"), "negative_sentiment.not_about_service"),
        acceptance=_patterns(neg.get("acceptance"), "negative_sentiment.acceptance"),
        acronyms=frozenset(str(a).upper() for a in neg.get("acronyms") or ()),
        reason_map=_reason_map(data),
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        # libyaml's parser where PyYAML was built with it: the 21 KB of phrase lists in a fifth of the time.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read triggers config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"triggers config {path} must be a mapping at the top level")
    return data


@lru_cache(maxsize=8)
def load(override_file: str = "", threshold: str = "") -> TriggerConfig:
    """Defaults, merged with ``override_file`` when given, then the threshold override."""
    data = _merged(override_file)
    if threshold.strip():
        data["low_confidence_threshold"] = _number(threshold, "BRIDGE_LOW_CONFIDENCE_THRESHOLD")
    try:
        return build(data)
    except KeyError as exc:
        raise ConfigError(f"triggers config is missing {exc}") from None


def _merged(override_file: str) -> dict[str, Any]:
    data = _read_yaml(DEFAULTS_FILE)
    return merge(data, _read_yaml(Path(override_file))) if override_file else data


@lru_cache(maxsize=8)
def load_reason_map(override_file: str = "") -> ReasonMap:
    """The hand-off reason map alone, defaults merged with ``override_file`` as ``load`` does. The web
    process maps a bot's hand-off reason with it (to answer which facts are still missing) without
    compiling the ~270 patterns of every phrase list, which cost a web worker's first hand-off
    ~130 ms and stay in its memory."""
    return _reason_map(_merged(override_file))


def reason_map_from_settings(settings: Settings | None = None) -> ReasonMap:
    settings = settings or Settings.from_env()
    return load_reason_map(str(settings.triggers_file or ""))


def from_settings(settings: Settings | None = None) -> TriggerConfig:
    settings = settings or Settings.from_env()
    threshold = settings.low_confidence_threshold
    return load(str(settings.triggers_file or ""), "" if threshold is None else repr(threshold))
