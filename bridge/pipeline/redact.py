"""Remove PII and secrets from text before it leaves for a third party (the LLM).

One ``Redactor`` is used for a whole conversation so the same value always gets the same
placeholder (``[EMAIL_1]`` in message 2 and message 7 is the same address) and the model can still
reason about "the same card". The record keeps placeholders and kinds only, never the originals:
it is safe to store and log. Only the LLM sees this; the ticket keeps contact details, and cards and
secrets are masked for every reader by ``bridge.pipeline.sanitize``.

Matching is a single pass: every detector finds candidates on the original text, detectors earlier
in ``DETECTORS`` win overlaps (a JWT is not also three "API keys"), and validators (Luhn, IBAN
mod-97, ``ipaddress``) throw out shapes that are merely numbers, so order ids and error codes stay.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.events import Event, Message

Validator = Callable[[str], bool]


def luhn_ok(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _digits_between(low: int, high: int) -> Validator:
    return lambda text: low <= sum(c.isdigit() for c in text) <= high


def ipv6_ok(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return text.count(":") >= 2 and len(text) >= 6  # not "::" or "a::"


def _always(_: str) -> bool:
    return True


# Words that follow "my password is" in a sentence about the password rather than the password itself.
_PROSE = frozenset((
    "not", "no", "wrong", "incorrect", "invalid", "expired", "correct", "right", "too", "the", "a", "an", "my",
    "your", "his", "her", "their", "our", "this", "that", "it", "being", "been", "still", "also", "now",
    "reset", "changed", "locked", "blocked", "missing", "empty", "required", "rejected", "working", "broken",
    "same", "different", "very", "fine", "ok", "okay", "strong", "weak", "new", "old", "long", "short",
    "saved", "stored", "set", "there", "here", "in", "on", "at", "for", "from", "definitely", "only", "just",
    "always", "never", "what", "which", "where", "how", "why", "when", "mine", "yours", "secure", "safe",
    "unsafe", "known", "unknown", "stuck", "gone", "lost", "forgotten", "case-sensitive", "visible", "shown",
    "hidden", "sent", "needed", "ignored", "accepted", "refused", "correcto", "correcta", "incorrecto",
    "incorrecta", "nuevo", "nueva", "falsch", "richtig", "nicht", "kein", "keine", "abgelaufen", "neu", "faux",
    "pas", "invalide", "nouveau", "errada", "errado", "nova", "novo", "sbagliata", "giusta", "fout", "juist",
))


def _prose(value: str) -> bool:
    return value.casefold().rstrip(".!?:)") in _PROSE


@dataclass(frozen=True)
class Detector:
    kind: str  # placeholder stem: EMAIL, PHONE, ...
    pattern: re.Pattern[str]
    valid: Validator = _always
    # Optional named group "v": only that part is replaced ("password: [PASSWORD_1]").


_SECRET_WORDS = (
    r"password|passwd|pwd|passcode|pin|secret|client[_ -]?secret|api[_ -]?key|access[_ -]?token|token|"
    r"contraseña|clave|passwort|kennwort|mot de passe|senha|parola d'ordine|wachtwoord|パスワード"
)

DETECTORS: tuple[Detector, ...] = (
    Detector("PRIVATE_KEY", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)),
    Detector("TOKEN", re.compile(r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{5,}")),  # JWT
    Detector("TOKEN", re.compile(r"(?i)\bbearer\s+(?P<v>[\w.~+/-]{12,}=*)")),
    # Session cookies and the like in logs: "fc_session=…", "sid=…" (the value is long and opaque).
    Detector("TOKEN", re.compile(r"(?i)\b[\w-]*(?:session|sess|sid|auth|jwt|token)[\w-]*=(?P<v>[\w.%+/~-]{16,}=*)")),
    Detector("URL_CREDENTIALS", re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://(?P<v>[^\s:/@]+:[^\s/@]+)@")),
    Detector(
        "API_KEY",
        re.compile(
            r"\b(?:sk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic style
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
            r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack bot/user tokens
            r"|xapp-[A-Za-z0-9-]{10,}"
            r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
            r"|github_pat_[A-Za-z0-9_]{30,}"
            r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
            r"|AKIA[0-9A-Z]{16}"  # AWS access key id
            r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
            r"|whsec_[A-Za-z0-9+/=]{20,})"  # Standard Webhooks secret
        ),
    ),
    # "password: hunter2", "API key = abc", "contraseña: ..." -> keep the label, drop the value.
    Detector("PASSWORD", re.compile(rf"(?i)(?:{_SECRET_WORDS})\s*(?:is|es|ist|est|é|è|is:)?\s*[:=]\s*(?P<v>[^\s,;]+)")),
    # "my password is hunter2", "mi contraseña es Secreta99": the word after the verb, unless it is
    # prose ("my password is wrong").
    Detector("PASSWORD", re.compile(rf"(?i)\b(?:{_SECRET_WORDS})\s+(?:is|was|es|era|ist|war|est|était|é|è|era)\s+"
                                    r"[\"'“‘«]?(?P<v>[^\s,;\"'”’»]{3,})"), lambda v: not _prose(v)),
    Detector("EMAIL", re.compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b")),
    Detector(
        "IBAN",
        re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"),
        iban_ok,
    ),
    # Cards as people type them: 4-4-4-4(-3), Amex 4-6-5, or one run; one separator style throughout
    # so "2024-11-05 05-11-2024" is never a card even when its digits happen to pass Luhn.
    Detector(
        "CARD",
        re.compile(
            r"(?<![\d-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?"
            r"|\d{4}([ -]?)\d{6}\2\d{5}|\d{13,19})(?![\d-])"
        ),
        luhn_ok,
    ),
    # National-id shapes with distinctive formatting (bare 9-11 digit runs are too often order ids).
    Detector("NATIONAL_ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # US SSN
    Detector("NATIONAL_ID", re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")),  # UK NINO
    Detector("NATIONAL_ID", re.compile(r"\b(?:\d{8}|[XYZ]\d{7})-?[A-HJ-NP-TV-Z]\b")),  # ES DNI / NIE
    Detector("NATIONAL_ID", re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b")),  # BR CPF
    Detector("NATIONAL_ID", re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b")),  # IT codice fiscale
    Detector("NATIONAL_ID", re.compile(r"\b[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}\b")),  # FR NIR
    Detector(
        "IP",
        re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])"),
    ),
    Detector("IP", re.compile(r"(?i)(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])"), ipv6_ok),
    # Phones: international (+ or 00 prefix), US "(555) 123-4567" / "555-123-4567", and national
    # numbers starting with 0 in groups ("06 12 34 56 78", "090-1234-5678"). Digit counts keep
    # dates ("05-11-2024") and short codes out.
    Detector("PHONE", re.compile(r"(?<![\w+])(?:\+|00)[1-9][\d ().-]{6,20}\d(?!\d)"), _digits_between(8, 15)),
    Detector("PHONE", re.compile(r"(?<!\d)\(\d{3}\) ?\d{3}[-. ]\d{4}(?!\d)")),
    Detector("PHONE", re.compile(r"(?<![\d-])\d{3}[-.]\d{3}[-.]\d{4}(?![\d-])")),
    Detector("PHONE", re.compile(r"(?<![\w-])0\d{1,4}(?:[ -]\d{2,4}){2,4}(?![\w-])"), _digits_between(9, 13)),
)


@dataclass
class Redactor:
    """Stateful across one conversation: the same value always maps to the same placeholder."""

    known: dict[str, str] = field(default_factory=dict)  # exact values to remove -> kind
    _placeholders: dict[tuple[str, str], str] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)

    def add_known(self, value: str | None, kind: str) -> None:
        """Values the bridge already knows are personal (the customer's name, email, phone)."""
        if value and len(value.strip()) >= 3:
            self.known[value.strip()] = kind

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value.casefold() if kind in ("EMAIL", "NAME") else re.sub(r"[\s().-]", "", value))
        if key not in self._placeholders:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            self._placeholders[key] = f"[{kind}_{self._counters[kind]}]"
        return self._placeholders[key]

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        taken: list[tuple[int, int, str]] = []

        def free(start: int, end: int) -> bool:
            return all(end <= s or start >= e for s, e, _ in taken)

        for value, kind in sorted(self.known.items(), key=lambda kv: -len(kv[0])):
            flags = re.I if kind == "EMAIL" else 0  # names stay case-sensitive: "Will" is not "will"
            for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text, flags):
                if free(m.start(), m.end()):
                    taken.append((m.start(), m.end(), kind))
        for detector in DETECTORS:
            for m in detector.pattern.finditer(text):
                group = "v" if "v" in detector.pattern.groupindex and m.group("v") else 0
                start, end = m.span(group)
                if start < end and detector.valid(m.group(group)) and free(start, end):
                    taken.append((start, end, detector.kind))
        return sorted(taken)

    def redact(self, text: str) -> str:
        out: list[str] = []
        cursor = 0
        for start, end, kind in self._spans(text):
            out.append(text[cursor:start])
            out.append(self.placeholder(kind, text[start:end]))
            cursor = end
        out.append(text[cursor:])
        return "".join(out)

    @property
    def record(self) -> dict[str, str]:
        """Placeholder -> kind, for everything removed so far (no original values)."""
        return {placeholder: kind for (kind, _), placeholder in self._placeholders.items()}

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(self._counters.items()))


def redact(text: str) -> tuple[str, dict[str, str]]:
    """One-off redaction of a single text: the redacted text and its placeholder record."""
    redactor = Redactor()
    return redactor.redact(text), redactor.record


def redactor_for(event: Event) -> Redactor:
    """A redactor that already knows the customer's name (and its parts), email and phone."""
    redactor = Redactor()
    customer = event.customer
    if customer:
        for value, kind in ((customer.email, "EMAIL"), (customer.phone, "PHONE"), (customer.name, "NAME")):
            redactor.add_known(value, kind)
        for part in (customer.name or "").split():
            redactor.add_known(part, "NAME")
    return redactor


def prompt_turns(event: Event, max_messages: int) -> list[tuple[int, Message]]:
    """The 1-based messages an LLM is shown: all, or the opening statement plus the latest turns."""
    keep = list(enumerate(event.conversation.messages, start=1))
    if len(keep) > max_messages:
        keep = keep[:1] + keep[-(max_messages - 1):]
    return keep
