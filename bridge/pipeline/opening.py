"""A suggested first message for the human, in the customer's language.

Three beats, in this order: acknowledge what happened (the AI assistant did not get them there, or
they asked for a person), take ownership (first person, "I", not "the team"), and show the customer
they will not have to repeat themselves by naming the evidence already at hand. Each line names
what the trigger was (a bug, a billing decision, their frustration, an unclear answer, their
request for a person, the assistant's handoff). The line is a suggestion in the package; the agent
edits it. The customer's first name is used when known (it is their own data, shown to them).

Rules per language, checked by tests/pipeline/test_opening.py and reviewed in docs/opening-lines.md:
- one register throughout: English neutral; German *Sie*; French *vous*; Spanish *usted*;
  Portuguese (Brazil) *você*; Italian *Lei* with "Buongiorno"; Dutch *u*; Japanese 敬語;
- the greeting and the line are one message: after a greeting ending in a comma the line goes on
  in lower case (English keeps "I"); after "." or "!" a new sentence starts in upper case;
- no gendered form for the agent (nobody knows who will send it: no "désolé", "obrigado") nor for
  the customer ("déçu", "delusa");
- the bot is blamed only when it tried: a customer who asked for a person before the bot answered
  is thanked, not told that "our assistant kept you from a person".
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

# (with the customer's first name, without a name). A greeting ending in "," runs on into the line.
GREETING = {
    "en": ("Hi {name},", "Hi,"),
    "es": ("Hola, {name}.", "Hola."),
    "de": ("Hallo {name},", "Hallo,"),
    "fr": ("Bonjour {name},", "Bonjour,"),
    "pt": ("Olá, {name}!", "Olá!"),
    "it": ("Buongiorno {name},", "Buongiorno,"),
    "nl": ("Hallo {name},", "Hallo,"),
    "ja": ("{name}様、", "お問い合わせいただきありがとうございます。"),
}

# The customer asked for a person, and the bot had answered before: the assistant kept them waiting.
# Without a bot answer, DIRECT below thanks them instead of blaming an assistant that never spoke.
LINES: dict[str, dict[str, str]] = {
    "product_bug": {
        "en": "I'm sorry our assistant couldn't fix this for you. It looks like a bug on our side, "
        "and I'm taking ownership of it until it's resolved.",
        "es": "Siento que nuestro asistente no haya podido resolverlo. Parece un error de nuestra parte "
        "y me encargo personalmente hasta que quede resuelto.",
        "de": "Es tut mir leid, dass unser Assistent das nicht lösen konnte. Es sieht nach einem Fehler bei "
        "uns aus, und ich kümmere mich persönlich darum, bis er behoben ist.",
        "fr": "Je regrette que notre assistant n'ait pas pu régler cela. Il s'agit apparemment d'un bug de "
        "notre côté, et je m'en occupe personnellement jusqu'à sa résolution.",
        "pt": "Sinto muito que nosso assistente não tenha conseguido resolver isso. Parece um erro do nosso "
        "lado, e vou cuidar disso pessoalmente até estar resolvido.",
        "it": "Mi dispiace che il nostro assistente non sia riuscito a risolvere il problema. Sembra un errore "
        "da parte nostra: me ne occupo personalmente finché non sarà risolto.",
        "nl": "Het spijt me dat onze assistent dit niet kon oplossen. Het lijkt op een fout aan onze kant, "
        "en ik neem het persoonlijk op me tot het is opgelost.",
        "ja": "AIアシスタントで解決できず、申し訳ございません。"
        "弊社側の不具合と思われますので、解決まで私が責任を持って対応いたします。",
    },
    "billing_exception": {
        "en": "I'm sorry our assistant couldn't sort this out. A billing decision like this needs a person, "
        "so I'm taking it over and will review your account myself.",
        "es": "Siento que nuestro asistente no haya podido resolverlo. Una decisión de facturación como esta "
        "requiere a una persona, así que me encargo yo y revisaré su cuenta personalmente.",
        "de": "Es tut mir leid, dass unser Assistent das nicht klären konnte. Über eine Frage zu Ihrer "
        "Abrechnung muss ein Mensch entscheiden, deshalb übernehme ich und prüfe Ihr Konto selbst.",
        "fr": "Je regrette que notre assistant n'ait pas pu régler cela. Une décision de facturation comme "
        "celle-ci revient à une personne : je reprends le dossier et j'examine votre compte moi-même.",
        "pt": "Sinto muito que nosso assistente não tenha conseguido resolver. Uma decisão de cobrança como "
        "esta precisa de uma pessoa, então vou assumir e revisar sua conta pessoalmente.",
        "it": "Mi dispiace che il nostro assistente non sia riuscito a risolvere. Una decisione sulla "
        "fatturazione come questa spetta a una persona: me ne occupo io e verificherò personalmente "
        "il suo account.",
        "nl": "Het spijt me dat onze assistent dit niet kon regelen. Over een factuurkwestie als deze moet "
        "een mens beslissen, dus ik neem het over en bekijk uw account zelf.",
        "ja": "AIアシスタントで解決できず、申し訳ございません。"
        "ご請求に関するご判断は担当者が行う必要があるため、私が引き継ぎ、アカウントを直接確認いたします。",
    },
    "negative_sentiment": {
        "en": "I'm sorry our assistant let you down, and I understand your frustration. "
        "I'm taking this over personally and will see it through.",
        "es": "Siento que nuestro asistente no haya estado a la altura y entiendo su frustración. "
        "Me encargo personalmente y lo llevaré hasta el final.",
        "de": "Es tut mir leid, dass unser Assistent Sie enttäuscht hat, und ich verstehe Ihren Ärger. "
        "Ich übernehme das persönlich und bleibe dran, bis es gelöst ist.",
        "fr": "Je regrette que notre assistant n'ait pas été à la hauteur, et je comprends votre frustration. "
        "Je m'en occupe personnellement jusqu'au bout.",
        "pt": "Sinto muito que nosso assistente tenha deixado a desejar, e entendo sua frustração. "
        "Vou cuidar disso pessoalmente até o fim.",
        "it": "Mi dispiace che il nostro assistente non sia stato all'altezza, e capisco la sua frustrazione. "
        "Me ne occupo personalmente fino alla fine.",
        "nl": "Het spijt me dat onze assistent u heeft teleurgesteld, en ik begrijp uw frustratie. "
        "Ik neem dit persoonlijk over en zorg dat het wordt opgelost.",
        "ja": "AIアシスタントの対応でご不快な思いをおかけし、誠に申し訳ございません。"
        "ここからは私が責任を持って最後まで対応いたします。",
    },
    "low_confidence": {
        "en": "I'm sorry our assistant couldn't give you a clear answer. I'm taking over and will get you one.",
        "es": "Siento que nuestro asistente no le haya dado una respuesta clara. Me encargo yo y se la conseguiré.",
        "de": "Es tut mir leid, dass unser Assistent Ihnen keine klare Antwort geben konnte. "
        "Ich übernehme und kläre das für Sie.",
        "fr": "Je regrette que notre assistant n'ait pas pu vous donner une réponse claire. "
        "Je prends le relais et je vous l'apporte.",
        "pt": "Sinto muito que nosso assistente não tenha dado uma resposta clara. "
        "Vou assumir e trazer a resposta para você.",
        "it": "Mi dispiace che il nostro assistente non le abbia dato una risposta chiara. "
        "Me ne occupo io e gliela darò.",
        "nl": "Het spijt me dat onze assistent u geen duidelijk antwoord kon geven. "
        "Ik neem het over en zoek het voor u uit.",
        "ja": "AIアシスタントで明確なお答えができず、申し訳ございません。私が引き継ぎ、責任を持ってお答えいたします。",
    },
    "customer_requested_human": {
        "en": "Thanks for your patience. You asked to talk to a person, and I'm sorry our assistant didn't "
        "get you to one sooner. I'm here now and I'll handle this myself.",
        "es": "Gracias por su paciencia. Pidió hablar con una persona y disculpe que nuestro asistente le "
        "hiciera esperar. Ya estoy aquí y me encargo yo.",
        "de": "Danke für Ihre Geduld. Sie wollten mit einem Menschen sprechen, und es tut mir leid, dass "
        "unser Assistent Sie warten ließ. Jetzt bin ich für Sie da und kümmere mich selbst darum.",
        "fr": "Merci de votre patience. Vous avez demandé à parler à une personne, et je regrette que notre "
        "assistant vous ait fait attendre. Je suis là et je m'en occupe moi-même.",
        "pt": "Agradeço a sua paciência. Você pediu para falar com uma pessoa, e peço desculpas por nosso "
        "assistente ter atrasado esse contato. Agora estou aqui e vou cuidar disso pessoalmente.",
        "it": "Grazie per la pazienza. Ha chiesto di parlare con una persona: mi scusi se il nostro assistente "
        "ha allungato l'attesa. Ora ci sono io e me ne occupo personalmente.",
        "nl": "Bedankt voor uw geduld. U vroeg om een medewerker te spreken, en het spijt me dat onze "
        "assistent u liet wachten. Ik ben er nu en regel dit zelf.",
        "ja": "担当者との対応をご希望とのこと、AIアシスタントの対応でお待たせしてしまい、申し訳ございません。"
        "ここからは私が責任を持って対応いたします。",
    },
    "bot_handoff": {
        "en": "I'm sorry our assistant couldn't finish this for you. It handed your conversation to me, "
        "and I'm taking it from here.",
        "es": "Siento que nuestro asistente no haya podido terminarlo. Me ha pasado su consulta y a partir de "
        "aquí me encargo yo.",
        "de": "Es tut mir leid, dass unser Assistent das nicht abschließen konnte. Er hat Ihr Anliegen an "
        "mich übergeben, und ab hier kümmere ich mich darum.",
        "fr": "Je regrette que notre assistant n'ait pas pu aller au bout. Il m'a transmis votre demande, "
        "et je prends le relais.",
        "pt": "Sinto muito que nosso assistente não tenha conseguido concluir. Ele me passou o seu atendimento "
        "e, a partir daqui, eu assumo.",
        "it": "Mi dispiace che il nostro assistente non sia riuscito a concludere. Mi ha passato la sua "
        "richiesta e da qui me ne occupo io.",
        "nl": "Het spijt me dat onze assistent dit niet kon afronden. Hij heeft uw vraag aan mij overgedragen, "
        "en vanaf hier neem ik het over.",
        "ja": "AIアシスタントで最後までご案内できず、申し訳ございません。"
        "お問い合わせを引き継ぎましたので、ここからは私が対応いたします。",
    },
}

# The customer asked for a person before the bot answered anything: no assistant to apologise for.
DIRECT: dict[str, str] = {
    "en": "Thanks for reaching out. You asked to talk to a person: I'm here and I'll handle this myself.",
    "es": "Gracias por escribirnos. Pidió hablar con una persona: ya estoy aquí y me encargo yo.",
    "de": "Danke für Ihre Nachricht. Sie wollten mit einem Menschen sprechen: Ich bin für Sie da und "
    "kümmere mich selbst darum.",
    "fr": "Merci de votre message. Vous avez demandé à parler à une personne : je suis là et je m'en occupe "
    "moi-même.",
    "pt": "Agradeço a sua mensagem. Você pediu para falar com uma pessoa: estou aqui e vou cuidar disso "
    "pessoalmente.",
    "it": "Grazie per averci scritto. Ha chiesto di parlare con una persona: ci sono io e me ne occupo "
    "personalmente.",
    "nl": "Bedankt voor uw bericht. U vroeg om een medewerker te spreken: ik ben er en regel dit zelf.",
    "ja": "担当者との対応をご希望とのこと、承知いたしました。ここからは私が責任を持って対応いたします。",
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
# Words that keep their capital after a greeting's comma (English "I"; German nouns never open a line).
KEEP_CAPITAL = {"en": ("I ", "I'")}


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


def bot_answered(event: Event) -> bool:
    """Whether the bot said anything before the handoff (only then is there an assistant to apologise for)."""
    return any(m.role == "bot" and m.text.strip() for m in event.conversation.messages)


def run_on(greeting: str, line: str, lang: str) -> str:
    """The greeting and the line as one message: after a comma the line continues in lower case."""
    if lang == "ja":
        return greeting + line
    if greeting.endswith(",") and not line.startswith(KEEP_CAPITAL.get(lang, ())):
        line = line[:1].lower() + line[1:]
    return f"{greeting} {line}"


def opening_line(event: Event, trigger_ids: list[str], language: str | None = None) -> str:
    lang = normalize_language(language) or language_of(event)
    lang = lang if lang in LANGUAGES else "en"
    trigger = lead_trigger(trigger_ids)
    name = _first_name(event)
    greeting = GREETING[lang][0].format(name=name) if name else GREETING[lang][1]
    direct = trigger == "customer_requested_human" and not bot_answered(event)
    body = DIRECT[lang] if direct else LINES[trigger][lang]
    items = [EVIDENCE_WORDS[kind][lang] for kind in evidence_at_hand(event, trigger)]
    have = HAVE[lang][0].format(items=_join(items, lang)) if items else HAVE[lang][1]
    return run_on(greeting, body, lang) + ("" if lang == "ja" else " ") + have
