"""Cards and secrets never leave the bridge; contact details never reach a Slack channel."""

from __future__ import annotations

import json

from bridge.events import Customer, Decision, Event, TriggerHit
from bridge.pipeline.package import build_package
from bridge.pipeline.sanitize import channel_safe_url, for_channel, sanitize_event, scrub
from connectors.jira import build_bug
from connectors.zendesk import build_ticket
from tests.helpers import generic_event

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzQ0MTIifQ.kq9Vv0Qm3cTz8Lr2Xw1pYb6N"
CARD = "4929 3810 0003 4417"


def _event() -> Event:
    event = generic_event(messages=[
        {"id": "m1", "role": "customer", "text": f"Charged twice. The card is {CARD} if you need it."},
        {"id": "m2", "role": "customer", "text": "Refs ch_3PMq8L2eZvKYlo2C1a9xR4tA and INV-77310, call +47 412 55 093"},
    ], evidence={"console_logs": [{"level": "debug", "message": f"auth: restoring session fc_session={TOKEN}"},
                                  {"level": "error", "message": "AuthStateError: state mismatch"}]})
    event["customer"]["phone"] = "+47 412 55 093"
    return Event.from_json(event)


def test_cards_and_tokens_are_masked_in_the_ticket_and_the_bug() -> None:
    decision = Decision(escalate=True, triggers=[TriggerHit(trigger="product_bug", evidence="error")])
    package = build_package("c-1", "generic", _event(), decision)
    ticket = json.dumps(build_ticket(package, {}).to_json(), ensure_ascii=False)
    bug = json.dumps(build_bug(package, {}).to_json(), ensure_ascii=False)
    for text in (ticket, bug):
        assert CARD not in text and CARD.replace(" ", "") not in text and "kq9Vv0Qm3cTz8Lr2Xw1pYb6N" not in text
        assert "[card ending 4417]" in text and "ch_3PMq8L2eZvKYlo2C1a9xR4tA" in text and "AuthStateError" in text
    assert "+47 412 55 093" in ticket  # the agent may have to call back


def test_identifiers_stay_as_they_are() -> None:
    event = _event()
    assert sanitize_event(event).conversation.id == event.conversation.id
    plain = "order 2025-06-01, INV-77310, E-4031, 18734 records"
    assert scrub(plain) == plain


def test_a_channel_never_gets_an_email_or_a_phone_in_any_spelling() -> None:
    customer = Customer(phone="+52 55 1234 8890", email="lucia@example.mx")
    text = for_channel("wa id fc-wa-52155512348890-0612 · 55 1234 8890 · lucia@example.mx · dpo@pellham.example.co.uk"
                       " · +44 20 7946 0321 · 312 555 0147 · INV-58213 $792 E-4031 30.06.2025 FR52839412776", customer)
    for leaked in ("5512348890", "1234 8890", "lucia@", "dpo@", "7946", "555 0147"):
        assert leaked not in text
    assert "INV-58213 $792 E-4031 30.06.2025 FR52839412776" in text
    assert channel_safe_url("https://bots.example.com/c/fc-wa-52155512348890-0612", customer) is None
    assert channel_safe_url("https://bots.example.com/c/fc-conv-3318a7", customer) == \
        "https://bots.example.com/c/fc-conv-3318a7"


def test_the_detectors_gate_changes_no_span() -> None:
    """A detector skipped because the text lacks all its required literals would have found nothing:
    the spans are those of every detector run, on every message of the triage corpus and on random
    texts made of secrets, contact details and the words around them."""
    import random
    from pathlib import Path

    from bridge.pipeline import sanitize
    from tests.pipeline.test_redact import PII

    texts = []
    for path in sorted((Path(__file__).resolve().parents[2] / "data" / "triage" / "conversations").glob("*.json")):
        texts += [m.get("text") or "" for m in json.loads(path.read_text(encoding="utf-8"))["conversation"]["messages"]]
    pieces = [value for _, value, _ in PII] + [
        TOKEN, CARD, "password: hunter2!", "Passwort = geheim123", "contraseña: Secreta99", "api_key=abc123def456",
        "Authorization: Bearer abcdef1234567890xyz", "https://bob:s3cret@example.com/x", "fc_session=", "session",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "312 555 0147",
        "SESSION_ID", "ſk-live", "İBAN", "AUTH", "my", "is", "the", "code", ":", "=", " ", " ", "\n", ".", "-", "(",
    ]
    rng = random.Random(7)
    texts += ["".join(rng.choice(pieces) + rng.choice(("", " ")) for _ in range(rng.choice((1, 2, 5, 12))))
              for _ in range(4000)]
    found = 0
    for text in texts:
        for detectors in (sanitize._SECRETS, sanitize._CONTACT):
            spans = sanitize._spans(text, detectors)
            assert spans == sanitize._spans(text, detectors, gated=False), text
            found += bool(spans)
    assert found > 2000
