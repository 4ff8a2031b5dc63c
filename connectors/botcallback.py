"""Tell an asynchronous bot that a person took its conversation (``handoff.accepted``), or that
nobody could be reached (``handoff.failed``).

``POST BOT_CALLBACK_URL`` with a JSON body signed the Standard Webhooks way (``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,…`` with ``BOT_CALLBACK_SECRET``, a ``whsec_``
secret). The ``webhook-id`` is the step's idempotency key, the same on every retry, so the bot can
drop repeats. Synchronous platforms (Dialogflow CX, Rasa, Lex) get their receipt in the webhook
answer instead.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import requests

from bridge.config import Settings, check_vendor_url
from bridge.events import Package
from bridge.pipeline.promise import reply_minutes, within
from bridge.signing import sign_standard_webhook
from connectors.base import Context, PermanentError, Result, RetryableError, Step, parse_retry_after

ACCEPTED = {
    "en": "{name} from our support team has your conversation and will reply within {when}.",
    "es": "{name}, de nuestro equipo de soporte, tiene tu conversación y te responderá en {when}.",
    "de": "{name} aus unserem Support-Team hat Ihr Gespräch übernommen und antwortet innerhalb von {when}.",
    "fr": "{name}, de notre équipe support, a votre conversation et vous répondra d'ici {when}.",
    "pt": "{name}, da nossa equipe de suporte, está com a sua conversa e responderá em até {when}.",
    "it": "{name} del nostro team di supporto ha la tua conversazione e ti risponderà entro {when}.",
    "nl": "{name} van ons supportteam heeft je gesprek en antwoordt binnen {when}.",
    "ja": "サポートチームの{name}が会話を引き継ぎました。{when}以内にご連絡します。",
}
# When the bridge knows no name (only a chat id), the customer hears about "someone", never an id.
SOMEONE = {
    "en": "Someone", "es": "Una persona", "de": "Eine Person", "fr": "Une personne", "pt": "Uma pessoa",
    "it": "Una persona", "nl": "Iemand", "ja": "担当者",
}
_CHAT_ID = re.compile(r"^[UWB][A-Z0-9]{6,}$")


def first_name(name: str | None) -> str | None:
    """The name the customer is told, or None when it is an id (a Slack user id is never a name)."""
    if not name or _CHAT_ID.match(name.strip()) or "@" in name:
        return None
    name = name.strip()
    return name if any("\u3040" <= ch <= "\u9fff" for ch in name) else name.split(" ")[0]


def build_accepted(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    route = package.route
    language = package.language if package.language in ACCEPTED else "en"
    name = route.owner_name if route else None
    told = first_name(name) or SOMEONE[language]
    minutes = reply_minutes(package)
    body = {
        "type": "handoff.accepted",
        "case": package.case_id,
        "platform": package.platform,
        "conversation_id": package.conversation.id,
        "owner": {"name": name if first_name(name) else None},
        "expected_reply_minutes": minutes,
        "message": ACCEPTED[language].format(name=told, when=within(minutes, language)),
        "language": language,
        "needs_more": package.completeness.questions,
    }
    if package.platform == "botframework":
        body["activity"] = handoff_status(package, "accepted", body["message"])
    return body


# The hand-off failed: neither the ticket nor the team's alert could be delivered, so no person was
# told. The bot should keep the customer informed rather than leave them waiting for nobody.
FAILED = {
    "en": "We couldn't reach our support team just now. Please try again in a little while, or write to us "
          "by email and we'll pick it up from there.",
    "es": "No hemos podido contactar con nuestro equipo de soporte en este momento. Inténtalo de nuevo en un "
          "rato o escríbenos por correo electrónico y lo retomaremos desde ahí.",
    "de": "Wir konnten unser Support-Team gerade nicht erreichen. Bitte versuchen Sie es in Kürze erneut "
          "oder schreiben Sie uns eine E-Mail, dann kümmern wir uns darum.",
    "fr": "Nous n'avons pas pu joindre notre équipe support pour le moment. Réessayez dans un petit moment, "
          "ou écrivez-nous par e-mail et nous reprendrons à partir de là.",
    "pt": "Não conseguimos falar com a nossa equipe de suporte agora. Tente de novo daqui a pouco ou nos "
          "escreva por e-mail, e seguimos a partir daí.",
    "it": "Al momento non riusciamo a raggiungere il nostro team di supporto. Riprova tra poco oppure "
          "scrivici via e-mail e ripartiremo da lì.",
    "nl": "We konden ons supportteam nu niet bereiken. Probeer het over een tijdje opnieuw, of mail ons en "
          "we pakken het vanaf daar op.",
    "ja": "ただいまサポートチームに接続できませんでした。しばらくしてからもう一度お試しいただくか、"
          "メールでご連絡ください。そちらから対応いたします。",
}


def build_failed(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """``handoff.failed``: the bridge could not put a person on the conversation (the ticket and the
    alert are dead letters); Bot Framework bots get their ``handoff.status`` ``failed``."""
    language = package.language if package.language in FAILED else "en"
    body: dict[str, Any] = {
        "type": "handoff.failed",
        "case": package.case_id,
        "platform": package.platform,
        "conversation_id": package.conversation.id,
        "message": FAILED[language],
        "language": language,
    }
    if package.platform == "botframework":
        body["activity"] = handoff_status(package, "failed", body["message"])
    return body


def handoff_status(package: Package, state: str, message: str) -> dict[str, Any]:
    """Bot Framework's answer to its ``handoff.initiate``: the ``handoff.status`` event activity
    (``value.state`` accepted | failed | completed) in the bot's own conversation, for the bot's
    agent-hub handler to pass on (botbuilder's ``EventFactory``/handoff protocol shape)."""
    return {"type": "event", "name": "handoff.status", "conversation": {"id": package.conversation.id},
            "channelId": package.conversation.channel or "directline",
            "value": {"state": state, "message": message}}


class BotCallbackConnector:
    name = "bot"

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.url = check_vendor_url("BOT_CALLBACK_URL", settings.bot_callback.url)
        self.secrets = list(settings.bot_callback.secrets)
        if not self.secrets:
            raise PermanentError("BOT_CALLBACK_SECRET is not set: the callback would be unsigned")
        self.session = session or requests.Session()
        self.session.trust_env = False  # never an environment proxy

    def send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        body = json.dumps(request, ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": context.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_standard_webhook(body, context.key, timestamp, self.secrets[0]),
        }
        try:
            answer = self.session.post(self.url, data=body, headers=headers, timeout=(5, 15), allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(f"bot callback unreachable: {type(exc).__name__}") from exc
        if 200 <= answer.status_code < 300:
            return Result(external_id=f"{answer.status_code}:{context.key}")
        if answer.status_code in (408, 425, 429) or answer.status_code >= 500:
            raise RetryableError(f"bot callback answered {answer.status_code}",
                                 retry_after=parse_retry_after(answer.headers.get("Retry-After")))
        raise PermanentError(f"bot callback answered {answer.status_code} (redirects are not followed)")
