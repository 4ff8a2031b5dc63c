"""A suggested first message for the human, in the customer's language.

Three beats, in this order: acknowledge that the AI assistant did not get them there, take
ownership (first person, "I", not "the team"), and show the customer they will not have to repeat
themselves by naming the evidence already at hand. The line is a suggestion in the package; the
agent edits it. The customer's first name is used when known (it is their own data, shown to them).
"""

from __future__ import annotations

from bridge.events import Event
from bridge.pipeline.completeness import LANGUAGES, language_of, normalize_language

# When several triggers fired, the most specific one shapes the line.
ORDER = (
    "product_bug",
    "billing_exception",
    "negative_sentiment",
    "low_confidence",
    "customer_requested_human",
    "bot_handoff",
)

GREETING = {
    "en": ("Hi {name},", "Hi,"),
    "es": ("Hola, {name}:", "Hola:"),
    "de": ("Hallo {name},", "Hallo,"),
    "fr": ("Bonjour {name},", "Bonjour,"),
    "pt": ("Olá, {name}!", "Olá!"),
    "it": ("Ciao {name},", "Buongiorno,"),
    "nl": ("Hallo {name},", "Hallo,"),
    "ja": ("{name}様、", "お問い合わせありがとうございます。"),
}

LINES: dict[str, dict[str, str]] = {
    "product_bug": {
        "en": "I'm sorry our assistant couldn't fix this for you. It looks like a problem on our side, "
        "and I'm taking ownership of it until it's resolved.",
        "es": "Siento que nuestro asistente no haya podido resolverlo. Parece un problema de nuestra parte "
        "y me encargo personalmente hasta que quede resuelto.",
        "de": "Es tut mir leid, dass unser Assistent das nicht lösen konnte. Es sieht nach einem Fehler bei "
        "uns aus, und ich kümmere mich persönlich darum, bis er behoben ist.",
        "fr": "Je suis désolé que notre assistant n'ait pas pu régler cela. Le problème semble venir de chez "
        "nous, et je m'en occupe personnellement jusqu'à sa résolution.",
        "pt": "Sinto muito que nosso assistente não tenha conseguido resolver isso. Parece um problema do nosso "
        "lado, e vou cuidar disso pessoalmente até estar resolvido.",
        "it": "Mi dispiace che il nostro assistente non sia riuscito a risolvere. Sembra un problema da parte "
        "nostra e me ne occupo personalmente finché non sarà risolto.",
        "nl": "Het spijt me dat onze assistent dit niet kon oplossen. Het lijkt een probleem aan onze kant, "
        "en ik neem het persoonlijk op me tot het is opgelost.",
        "ja": "AIアシスタントで解決できず申し訳ございません。"
        "弊社側の不具合と思われますので、解決まで私が責任を持って対応いたします。",
    },
    "billing_exception": {
        "en": "I'm sorry our assistant couldn't sort this out. A billing decision like this needs a person, "
        "so I'm taking it over and will review your account myself.",
        "es": "Siento que nuestro asistente no haya podido resolverlo. Una decisión de facturación así requiere "
        "a una persona, así que me encargo yo y revisaré su cuenta personalmente.",
        "de": "Es tut mir leid, dass unser Assistent das nicht klären konnte. Eine solche Abrechnungsfrage "
        "braucht einen Menschen, daher übernehme ich und prüfe Ihr Konto selbst.",
        "fr": "Je suis désolé que notre assistant n'ait pas pu régler cela. Une décision de facturation comme "
        "celle-ci demande une personne : je reprends le dossier et j'examine votre compte moi-même.",
        "pt": "Sinto muito que nosso assistente não tenha conseguido resolver. Uma decisão de cobrança como "
        "esta precisa de uma pessoa, então vou assumir e revisar sua conta pessoalmente.",
        "it": "Mi dispiace che il nostro assistente non sia riuscito a risolvere. Una decisione di fatturazione "
        "come questa richiede una persona: me ne occupo io e verificherò il suo account personalmente.",
        "nl": "Het spijt me dat onze assistent dit niet kon regelen. Een factuurbeslissing als deze vraagt om "
        "een mens, dus ik neem het over en bekijk uw account zelf.",
        "ja": "AIアシスタントで解決できず申し訳ございません。"
        "ご請求に関する判断は担当者が行う必要があるため、私が引き継ぎ、アカウントを直接確認いたします。",
    },
    "negative_sentiment": {
        "en": "I'm sorry: our assistant let you down, and I understand the frustration. "
        "I'm taking this over personally and will see it through.",
        "es": "Lo siento: nuestro asistente no estuvo a la altura y entiendo su frustración. "
        "Me encargo personalmente y lo llevaré hasta el final.",
        "de": "Es tut mir leid: Unser Assistent hat Sie im Stich gelassen, und ich verstehe Ihren Ärger. "
        "Ich übernehme das persönlich und bleibe dran, bis es gelöst ist.",
        "fr": "Je suis désolé : notre assistant vous a déçu, et je comprends votre frustration. "
        "Je m'en occupe personnellement jusqu'au bout.",
        "pt": "Sinto muito: nosso assistente deixou a desejar, e entendo sua frustração. "
        "Vou cuidar disso pessoalmente até o fim.",
        "it": "Mi dispiace: il nostro assistente l'ha delusa e capisco la sua frustrazione. "
        "Me ne occupo personalmente fino alla fine.",
        "nl": "Het spijt me: onze assistent heeft u teleurgesteld, en ik begrijp uw frustratie. "
        "Ik neem dit persoonlijk over en zorg dat het wordt opgelost.",
        "ja": "AIアシスタントの対応でご不快な思いをおかけし、誠に申し訳ございません。"
        "ここからは私が責任を持って最後まで対応いたします。",
    },
    "low_confidence": {
        "en": "I'm sorry our assistant couldn't give you a clear answer. I'm taking over and will get you one.",
        "es": "Siento que nuestro asistente no le haya dado una respuesta clara. Me encargo yo y se la conseguiré.",
        "de": "Es tut mir leid, dass unser Assistent Ihnen keine klare Antwort geben konnte. "
        "Ich übernehme und kläre das für Sie.",
        "fr": "Je suis désolé que notre assistant n'ait pas pu vous répondre clairement. "
        "Je prends le relais et je vous apporte la réponse.",
        "pt": "Sinto muito que nosso assistente não tenha dado uma resposta clara. Vou assumir e trazer a resposta.",
        "it": "Mi dispiace che il nostro assistente non le abbia dato una risposta chiara. "
        "Me ne occupo io e le darò una risposta.",
        "nl": "Het spijt me dat onze assistent u geen duidelijk antwoord kon geven. Ik neem het over en zoek het uit.",
        "ja": "AIアシスタントで明確なお答えができず申し訳ございません。私が引き継ぎ、責任を持ってお答えいたします。",
    },
    "customer_requested_human": {
        "en": "Thanks for your patience, and sorry our assistant kept you from a person. "
        "I'm here now and I'll handle this myself.",
        "es": "Gracias por su paciencia, y disculpe que nuestro asistente le hiciera esperar para hablar con una "
        "persona. Ya estoy aquí y me encargo yo.",
        "de": "Danke für Ihre Geduld, und entschuldigen Sie, dass unser Assistent Sie warten ließ. "
        "Jetzt bin ich für Sie da und kümmere mich selbst darum.",
        "fr": "Merci de votre patience, et désolé que notre assistant vous ait fait attendre pour parler à une "
        "personne. Je suis là et je m'en occupe moi-même.",
        "pt": "Obrigado pela paciência, e desculpe nosso assistente ter atrasado seu contato com uma pessoa. "
        "Agora estou aqui e vou cuidar disso pessoalmente.",
        "it": "Grazie per la pazienza, e mi scusi se il nostro assistente l'ha fatta aspettare. "
        "Ora ci sono io e me ne occupo personalmente.",
        "nl": "Bedankt voor uw geduld, en sorry dat onze assistent u liet wachten op een mens. "
        "Ik ben er nu en regel dit zelf.",
        "ja": "お待たせして申し訳ございません。AIアシスタントに代わり、ここからは私が責任を持って対応いたします。",
    },
    "bot_handoff": {
        "en": "I'm sorry our assistant couldn't finish this for you. I'm taking it from here.",
        "es": "Siento que nuestro asistente no haya podido terminarlo. A partir de aquí me encargo yo.",
        "de": "Es tut mir leid, dass unser Assistent das nicht abschließen konnte. Ab hier übernehme ich.",
        "fr": "Je suis désolé que notre assistant n'ait pas pu aller au bout. Je prends le relais.",
        "pt": "Sinto muito que nosso assistente não tenha conseguido concluir. A partir daqui, eu assumo.",
        "it": "Mi dispiace che il nostro assistente non sia riuscito a concludere. Da qui me ne occupo io.",
        "nl": "Het spijt me dat onze assistent dit niet kon afronden. Vanaf hier neem ik het over.",
        "ja": "AIアシスタントで最後までご案内できず申し訳ございません。ここからは私が対応いたします。",
    },
}

# "I already have {items}, so you won't need to repeat anything."
HAVE = {
    "en": ("I already have {items}, so you won't need to repeat anything.",
           "I've read our whole conversation, so you won't need to repeat anything."),
    "es": ("Ya tengo {items}, así que no tendrá que repetir nada.",
           "He leído toda la conversación, así que no tendrá que repetir nada."),
    "de": ("Ich habe {items} bereits vorliegen, Sie müssen also nichts wiederholen.",
           "Ich habe den ganzen Verlauf gelesen, Sie müssen also nichts wiederholen."),
    "fr": ("J'ai déjà {items}, vous n'aurez donc rien à répéter.",
           "J'ai lu toute la conversation, vous n'aurez donc rien à répéter."),
    "pt": ("Já tenho {items}, então você não precisará repetir nada.",
           "Li toda a conversa, então você não precisará repetir nada."),
    "it": ("Ho già {items}, quindi non dovrà ripetere nulla.",
           "Ho letto tutta la conversazione, quindi non dovrà ripetere nulla."),
    "nl": ("Ik heb {items} al, dus u hoeft niets te herhalen.",
           "Ik heb het hele gesprek gelezen, dus u hoeft niets te herhalen."),
    "ja": ("{items}は確認済みですので、改めてご説明いただく必要はございません。",
           "これまでの会話はすべて確認済みですので、改めてご説明いただく必要はございません。"),
}

EVIDENCE_WORDS: dict[str, dict[str, str]] = {
    "screenshot": {"en": "your screenshot", "es": "su captura de pantalla", "de": "Ihren Screenshot",
                   "fr": "votre capture d'écran", "pt": "sua captura de tela", "it": "il suo screenshot",
                   "nl": "uw screenshot", "ja": "スクリーンショット"},
    "device": {"en": "your browser and device details", "es": "los datos de su navegador y dispositivo",
               "de": "die Angaben zu Browser und Gerät", "fr": "les informations sur votre navigateur et appareil",
               "pt": "os dados do seu navegador e dispositivo", "it": "i dati del suo browser e dispositivo",
               "nl": "de gegevens van uw browser en apparaat", "ja": "ブラウザと端末の情報"},
    "errors": {"en": "the error details", "es": "los detalles del error", "de": "die Fehlerdetails",
               "fr": "le détail de l'erreur", "pt": "os detalhes do erro", "it": "i dettagli dell'errore",
               "nl": "de foutdetails", "ja": "エラーの詳細"},
    "replay": {"en": "a recording of the session", "es": "una grabación de la sesión",
               "de": "eine Aufzeichnung der Sitzung", "fr": "un enregistrement de la session",
               "pt": "uma gravação da sessão", "it": "una registrazione della sessione",
               "nl": "een opname van de sessie", "ja": "セッションの記録"},
    "steps": {"en": "the steps you took", "es": "los pasos que siguió", "de": "Ihre Schritte",
              "fr": "les étapes que vous avez suivies", "pt": "os passos que você seguiu",
              "it": "i passaggi che ha seguito", "nl": "de stappen die u hebt gevolgd", "ja": "操作手順"},
    "account": {"en": "your account details", "es": "los datos de su cuenta", "de": "Ihre Kontodaten",
                "fr": "les informations de votre compte", "pt": "os dados da sua conta",
                "it": "i dati del suo account", "nl": "uw accountgegevens", "ja": "アカウント情報"},
}
AND = {"en": " and ", "es": " y ", "de": " und ", "fr": " et ", "pt": " e ", "it": " e ", "nl": " en ", "ja": "と"}


def evidence_at_hand(event: Event, trigger: str) -> list[str]:
    """Which kinds of evidence the human already holds, in the order the line mentions them."""
    ev = event.evidence
    attachments = [a for m in event.conversation.messages for a in m.attachments]
    found: list[str] = []
    if (ev and ev.screenshots) or any(a.kind == "screenshot" for a in attachments):
        found.append("screenshot")
    if ev and ev.device and (ev.device.browser or ev.device.os or ev.device.app_version):
        found.append("device")
    if ev and (any((c.level or "").lower() in ("error", "fatal") for c in ev.console_logs)
               or any((r.status or 0) >= 400 for r in ev.network_requests)):
        found.append("errors")
    if ev and ev.session_replay_url:
        found.append("replay")
    if ev and ev.steps_to_reproduce:
        found.append("steps")
    customer = event.customer
    if trigger == "billing_exception" and customer and (customer.account or customer.id):
        found.append("account")
    return found


def _join(items: list[str], lang: str) -> str:
    if lang == "ja":
        return AND["ja"].join(items)
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + AND[lang] + items[-1]


def _first_name(event: Event) -> str | None:
    name = (event.customer.name or "").strip() if event.customer else ""
    if not name or "@" in name:
        return None
    return name if any("\u3040" <= ch <= "\u9fff" for ch in name) else name.split()[0]


def lead_trigger(trigger_ids: list[str]) -> str:
    return next((t for t in ORDER if t in trigger_ids), "bot_handoff")


def opening_line(event: Event, trigger_ids: list[str], language: str | None = None) -> str:
    lang = normalize_language(language) or language_of(event)
    lang = lang if lang in LANGUAGES else "en"
    trigger = lead_trigger(trigger_ids)
    name = _first_name(event)
    greeting = GREETING[lang][0].format(name=name) if name else GREETING[lang][1]
    items = [EVIDENCE_WORDS[kind][lang] for kind in evidence_at_hand(event, trigger)]
    have = HAVE[lang][0].format(items=_join(items, lang)) if items else HAVE[lang][1]
    separator = "" if lang == "ja" else " "
    return separator.join([greeting, LINES[trigger][lang], have])
