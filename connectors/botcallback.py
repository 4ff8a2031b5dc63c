"""Tell an asynchronous bot that a person took its conversation: ``handoff.accepted``.

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
from bridge.signing import sign_standard_webhook
from connectors.base import Context, PermanentError, Result, RetryableError, Step, parse_retry_after

# Minutes to a first reply by priority, unless the customer's SLA names a tighter one.
REPLY_MINUTES = {"urgent": 15, "high": 60, "normal": 240, "low": 1440}

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
UNITS = {
    "en": ("minutes", "hours"), "es": ("minutos", "horas"), "de": ("Minuten", "Stunden"),
    "fr": ("minutes", "heures"), "pt": ("minutos", "horas"), "it": ("minuti", "ore"),
    "nl": ("minuten", "uur"), "ja": ("分", "時間"),
}


def reply_minutes(package: Package) -> int:
    """From an SLA named like ``premium-1h`` or ``gold-30m`` when present, else from the priority."""
    default = REPLY_MINUTES.get(package.priority, 240)
    account = package.customer.account if package.customer else None
    match = re.search(r"(\d+)\s*(h|m)\b", account.sla or "") if account else None
    if match:
        minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
        return min(default, minutes) if minutes > 0 else default
    return default


def _when(minutes: int, language: str) -> str:
    unit_minutes, unit_hours = UNITS.get(language, UNITS["en"])
    if minutes % 60 == 0 and minutes >= 60:
        return f"{minutes // 60} {unit_hours}" if language != "ja" else f"{minutes // 60}{unit_hours}"
    return f"{minutes} {unit_minutes}" if language != "ja" else f"{minutes}{unit_minutes}"


def build_accepted(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    route = package.route
    language = package.language if package.language in ACCEPTED else "en"
    name = (route.owner_name if route and route.owner_name else None) or "A specialist"
    minutes = reply_minutes(package)
    return {
        "type": "handoff.accepted",
        "case": package.case_id,
        "platform": package.platform,
        "conversation_id": package.conversation.id,
        "owner": {"name": name},
        "expected_reply_minutes": minutes,
        "message": ACCEPTED[language].format(name=name.split(" ")[0], when=_when(minutes, language)),
        "language": language,
        "needs_more": package.completeness.questions,
    }


class BotCallbackConnector:
    name = "bot"

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.url = check_vendor_url("BOT_CALLBACK_URL", settings.get("BOT_CALLBACK_URL"))
        self.secrets = [s.strip() for s in settings.get("BOT_CALLBACK_SECRET").split(",") if s.strip()]
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
