"""The bot hears that a person took its conversation: signed, in the customer's language, once."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from standardwebhooks.webhooks import Webhook

from bridge.config import Settings
from bridge.events import Event, RouteInfo
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from connectors import STEPS
from connectors.base import Context, PermanentError, RetryableError
from connectors.botcallback import BotCallbackConnector, build_accepted
from tests.helpers import SECRET, generic_event

URL = "https://bot.example.com/bridge-callback"
ROUTE = RouteInfo(team="support", owner_slack_id="U0ANA", owner_name="Ana Souza", acknowledged=True)


def package(language: str = "en", sla: str | None = None, priority_text: str = "Can I talk to a person?") -> Any:
    event = generic_event(messages=[{"id": "1", "role": "customer", "text": priority_text}])
    event["conversation"]["language"] = language
    if sla:
        event["customer"]["account"] = {"sla": sla}
    parsed = Event.from_json(event)
    return build_package("c-1", "generic", parsed, decide(parsed), route=ROUTE)


def test_message_in_the_customers_language_with_the_owner_and_the_time() -> None:
    english = build_accepted(package("en"), {})
    german = build_accepted(package("de"), {})
    assert english["type"] == "handoff.accepted" and english["owner"] == {"name": "Ana Souza"}
    assert english["message"].startswith("Ana from our support team") and "hours" in english["message"]
    assert german["message"].startswith("Ana aus unserem Support-Team") and german["language"] == "de"


def test_an_sla_tighter_than_the_priority_sets_the_expected_time() -> None:
    assert build_accepted(package(sla="premium-1h"), {})["expected_reply_minutes"] == 60
    assert build_accepted(package(sla="gold-30m"), {})["message"].endswith("within 30 minutes.")


def connector() -> BotCallbackConnector:
    return BotCallbackConnector(Settings(extra={"BOT_CALLBACK_URL": URL, "BOT_CALLBACK_SECRET": SECRET}))


def test_signed_with_a_stable_id_the_bot_can_verify() -> None:
    request = build_accepted(package(), {})
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, URL, status=204)
        connector().send(STEPS["bot.callback"], request, Context("c-1", "c-1-bot.callback#1", {}, 1))
        connector().send(STEPS["bot.callback"], request, Context("c-1", "c-1-bot.callback#1", {}, 2))
        first, second = rsps.calls
    assert first.request.headers["webhook-id"] == second.request.headers["webhook-id"] == "c-1-bot.callback#1"
    verified = Webhook(SECRET).verify(first.request.body, dict(first.request.headers))
    assert verified["case"] == "c-1"
    assert json.loads(first.request.body)["owner"]["name"] == "Ana Souza"


@pytest.mark.parametrize("status,error", [(503, RetryableError), (429, RetryableError), (400, PermanentError),
                                          (410, PermanentError), (302, PermanentError)])
def test_failures(status: int, error: type[Exception]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, URL, status=status, headers={"Location": "http://169.254.169.254/"})
        with pytest.raises(error):
            connector().send(STEPS["bot.callback"], build_accepted(package(), {}), Context("c-1", "k", {}))
        assert len(rsps.calls) == 1  # no redirect followed


def test_an_unsigned_callback_is_refused() -> None:
    with pytest.raises(PermanentError):
        BotCallbackConnector(Settings(extra={"BOT_CALLBACK_URL": URL}))


@pytest.mark.parametrize(("language", "sla", "said"), [
    ("en", "premium-1h", "will reply within 1 hour."), ("es", "premium-1h", "te responderá en 1 hora."),
    ("de", "premium-1h", "antwortet innerhalb von 1 Stunde."), ("fr", "premium-1h", "vous répondra d'ici 1 heure."),
    ("it", "premium-1h", "ti risponderà entro 1 ora."), ("en", "standard-2h", "within 2 hours."),
    ("en", "gold-1m", "within 1 minute."), ("es", "gold-30m", "en 30 minutos."), ("ja", "premium-1h", "1時間以内"),
])
def test_singular_and_plural_units_in_every_language(language: str, sla: str, said: str) -> None:
    """Issue 16, point 6: never "within 1 hours" / "en 1 horas"."""
    assert said in build_accepted(package(language, sla=sla), {})["message"]


def test_an_owner_known_only_by_a_chat_id_is_never_named_by_it() -> None:
    outside = ROUTE.model_copy(update={"owner_slack_id": "U07OUTSIDE", "owner_name": None,
                                       "owner_outside_roster": True})
    event = Event.from_json(generic_event())
    accepted = build_accepted(build_package("c-1", "generic", event, decide(event), route=outside), {})
    assert "U07OUTSIDE" not in json.dumps(accepted) and accepted["message"].startswith("Someone from our support")
    named = outside.model_copy(update={"owner_name": "Marta Keller"})
    accepted = build_accepted(build_package("c-1", "generic", event, decide(event), route=named), {})
    assert accepted["message"].startswith("Marta from our support team") and accepted["owner"]["name"] == "Marta Keller"
