"""The trigger engine on conversations written for these tests (not copies of the eval set).

Each case is a short conversation in one of the supported languages, with the message after which
a support lead would step in and the triggers that justify it; the hard negatives must not fire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import ConfigError, Settings
from bridge.events import Event
from bridge.pipeline import trigger_config
from bridge.pipeline.triggers import decide, evaluate_incrementally, load_config

Turn = dict[str, Any]


def C(text: str, **extra: Any) -> Turn:
    return {"role": "customer", "text": text, **extra}


def B(text: str, confidence: float | None = 0.9, intent: str | None = "howto.answer") -> Turn:
    turn: Turn = {"role": "bot", "text": text}
    if confidence is not None:
        turn["confidence"] = confidence
    if intent:
        turn["intent"] = intent
    return turn


def S(text: str) -> Turn:
    return {"role": "system", "text": text}


def event(*turns: Turn, language: str = "en", type_: str = "conversation.updated", **extra: Any) -> Event:
    messages = [{"id": f"m{i}", **turn} for i, turn in enumerate(turns, start=1)]
    data = {
        "event_id": "evt-test",
        "type": type_,
        "conversation": {"id": "c-1", "language": language, "messages": messages},
        **extra,
    }
    return Event.from_json(data)


OK = B("Open Settings → Team and pick the role you need.")

# (name, conversation, expected at_message, expected trigger ids)
ESCALATE: list[tuple[str, Event, int, set[str]]] = [
    # customer_requested_human, one per language
    ("en-human", event(C("My payout is on hold."), OK, C("Can I talk to a human please?")), 3,
     {"customer_requested_human"}),
    ("en-one-word", event(C("agent"), language="en"), 1, {"customer_requested_human"}),
    ("en-put-through", event(C("Where is my order?"), OK, C("Just put me through to someone, thanks")), 3,
     {"customer_requested_human"}),
    ("en-call", event(C("Could someone from your team call me back this afternoon?")), 1,
     {"customer_requested_human"}),
    ("es-human", event(C("Necesito hablar con una persona sobre mi pedido."), language="es"), 1,
     {"customer_requested_human"}),
    ("de-human", event(C("Wie ändere ich mein Passwort?"), OK,
                       C("Kann ich bitte mit einem Mitarbeiter sprechen?"), language="de"), 3,
     {"customer_requested_human"}),
    ("fr-human", event(C("Je voudrais parler à un conseiller, s'il vous plaît."), language="fr"), 1,
     {"customer_requested_human"}),
    ("pt-human", event(C("Quero falar com um atendente agora."), language="pt-BR"), 1,
     {"customer_requested_human"}),
    ("it-human", event(C("Posso parlare con un operatore?"), language="it"), 1, {"customer_requested_human"}),
    ("nl-human", event(C("Kan ik een medewerker spreken over mijn abonnement?"), language="nl"), 1,
     {"customer_requested_human"}),
    ("ja-human", event(C("オペレーターと話したいです。"), language="ja"), 1, {"customer_requested_human"}),
    # low_confidence: by score, and by the bot's own words in several languages
    ("en-low-score", event(C("Can I export invoices as XML?"), B("Maybe under Reports.", 0.22)), 2,
     {"low_confidence"}),
    ("es-admission", event(C("¿Tienen integración con Holded?"),
                           B("Lo siento, no encontré información sobre esa integración.", 0.8), language="es"), 2,
     {"low_confidence"}),
    ("de-admission", event(C("Gibt es eine API für Schichtpläne?"),
                           B("Ich bin mir nicht sicher, ob es diese Schnittstelle gibt.", 0.7), language="de"), 2,
     {"low_confidence"}),
    ("ja-admission", event(C("請求書の宛名を英語にできますか？"),
                           B("申し訳ありません、その情報は見つかりませんでした。", 0.7), language="ja"), 2,
     {"low_confidence"}),
    # product_bug: codes, traces, crashes, regressions
    ("en-5xx", event(C("Saving a template gives me 'Error 503: upstream unavailable' every time.")), 1,
     {"product_bug"}),
    ("en-trace", event(C("The importer dies with:\n```\nTypeError: cannot read property 'id' of undefined\n"
                         "    at parseRow (importer.js:88)\n```")), 1, {"product_bug"}),
    ("en-regression-polite", event(C("Hi! No rush, but since yesterday the calendar sync no longer works. "
                                     "It worked fine last week.")), 1, {"product_bug"}),
    ("es-crash", event(C("La app se cierra sola cada vez que abro el calendario."), language="es"), 1,
     {"product_bug"}),
    ("fr-regression", event(C("Depuis la mise à jour, l'export PDF ne fonctionne plus."), language="fr"), 1,
     {"product_bug"}),
    ("nl-regression", event(C("Sinds de update werkt de koppeling met Exact niet meer."), language="nl"), 1,
     {"product_bug"}),
    ("ja-regression", event(C("アップデート後、アプリが起動できなくなりました。"), language="ja"), 1, {"product_bug"}),
    ("en-weak-pair", event(C("Reports are blank since this morning, and my teammates see the same.")), 1,
     {"product_bug"}),
    # billing_exception
    ("en-double-charge", event(C("I was charged twice for March, please sort it out.")), 1, {"billing_exception"}),
    ("en-refund-demand", event(C("How do refunds work?"), OK, C("I forgot to cancel. I want a refund for this month.")),
     3, {"billing_exception"}),
    ("de-double", event(C("Der Betrag wurde doppelt abgebucht."), language="de"), 1, {"billing_exception"}),
    ("es-invoice", event(C("La factura de mayo tiene el CIF mal, hay que corregir la factura."), language="es"), 1,
     {"billing_exception"}),
    ("en-owner-left", event(C("Our admin left the company and nobody can change the payment method now.")), 1,
     {"billing_exception"}),
    # negative_sentiment: strong cues, sarcasm, churn, and a trend over turns
    ("en-anger", event(C("Where is the export?"), OK, C("This is ridiculous, the button is not there.")), 3,
     {"negative_sentiment"}),
    ("en-churn", event(C("If the sync isn't back today we're switching to another provider.")), 1,
     {"negative_sentiment"}),
    ("de-anger", event(C("Das ist eine Frechheit, seit Tagen keine Antwort."), language="de"), 1,
     {"negative_sentiment"}),
    ("ja-anger", event(C("最悪です。もう何度目ですか。"), language="ja"), 1, {"negative_sentiment"}),
    ("en-trend", event(C("How do I merge two contacts?"), B("Open a contact and click Merge.", 0.9),
                       C("Hmm, that didn't help. There is no Merge there."),
                       B("Open a contact and click the Merge button at the top.", 0.88, "howto.other"),
                       C("Again the same thing. Seriously?")), 5, {"negative_sentiment"}),
    ("en-loop", event(C("Can the weekly digest go to a shared inbox?"),
                      B("To change digest settings, open Profile → Notifications → Digest.", 0.8),
                      C("I know where the settings are. Can it go to team@ instead of me?"),
                      B("To change digest settings, open Profile → Notifications → Digest.", 0.8),
                      C("Team inbox. Shared. Address. Possible?")), 5, {"negative_sentiment"}),
    # several triggers in one message
    ("en-bug-and-anger", event(C("Unacceptable. The app crashed again and I lost my draft.")), 1,
     {"product_bug", "negative_sentiment"}),
    ("pt-billing-human", event(C("Fui cobrado duas vezes. Quero falar com um atendente."), language="pt-BR"), 1,
     {"billing_exception", "customer_requested_human"}),
]

NOT_ESCALATE: list[tuple[str, Event]] = [
    ("hr-lead", event(C("I'm the human resources lead. Where is the headcount report?"),
                      B("Reports → People → Headcount."), C("Got it, thanks!"))),
    ("ai-agent-feature", event(C("Your AI agent feature is great! Can the agent reply in Spanish?"),
                               B("Yes, set the agent language under Agent → Language."), C("Perfect, thanks"))),
    ("mitarbeiter-employee", event(C("Wie lege ich einen neuen Mitarbeiter mit Teilzeitvertrag an?"),
                                   B("Unter Personal → Neu anlegen, dann Vertragsart 'Teilzeit' wählen."),
                                   C("Danke, hat geklappt!"), language="de")),
    ("error-rate-metric", event(C("Can I chart the error rate of our API per endpoint?"),
                                B("Yes: Dashboards → New chart → metric 'Error rate', split by endpoint."),
                                C("Nice, that works."))),
    ("cancel-meeting", event(C("How do I cancel tomorrow's meeting and notify everyone?"),
                             B("Open the meeting and click Cancel meeting; invitees are notified."),
                             C("Done, thanks."))),
    ("refund-policy-accepted", event(C("Do I get a refund if I cancel my annual plan halfway through?"),
                                     B("Annual plans aren't refunded pro rata; the plan stays active until the end "
                                       "of the term."),
                                     C("Okay, that's fair. I'll keep it until renewal then."))),
    ("merchant-refund-howto", event(C("¿Cómo hago un reembolso parcial a un cliente?"),
                                    B("En Pagos → abre la transacción → Reembolsar, e indica el importe."),
                                    C("Perfecto, gracias."), language="es")),
    ("asks-whether-humans-exist", event(C("Just curious: do you have real people working support, or is it all bots?"),
                                        B("Our support team works 9–18 CET; I'm the assistant and can help now."),
                                        C("Cool, thanks. How do I add a tag?"), B("Open the item and press T."))),
    ("clarifying-question", event(C("how do I change the owner"),
                                  B("Do you mean the owner of a project or of the whole workspace?", 0.3,
                                    "clarify.owner_type"),
                                  C("the project"), B("Open the project → Settings → Owner → Change.", 0.93),
                                  C("done"))),
    ("clarifying-no-intent", event(C("export"),
                                   B("Just to make sure: do you mean exporting contacts or exporting reports?", 0.35,
                                     None),
                                   C("reports"), B("Reports → Export → CSV.", 0.9))),
    ("small-talk-dont-know", event(C("what's the weather in Lisbon tomorrow?"),
                                   B("I don't know, weather is outside my expertise!", 0.9, "smalltalk.offtopic"),
                                   C("ha, ok. where do I change my avatar?"), B("Profile → Avatar → Upload."))),
    ("at-threshold", event(C("Can I pause my subscription?"), B("Yes, Billing → Pause, for up to 3 months.", 0.5),
                           C("Found it, thanks"))),
    ("howto-with-error-word", event(C("My colleague gets an error message 'No access' when opening the board. "
                                      "How do I give her access?"),
                                    B("She has the Viewer role; change it to Editor in Settings → Members."),
                                    C("That was it, thanks!"))),
    ("own-mistake-empty-export", event(C("The export is empty, what am I doing wrong?"),
                                       B("Your view filters out everything; clear the filters and export again."),
                                       C("Oops, my bad. Works now, sorry!"))),
    ("grief", event(C("My husband passed away last month and I'm heartbroken. How do I change the account holder?"),
                    B("I'm so sorry for your loss. Profile → Account holder → Transfer, with the death certificate."),
                    C("Thank you, I'll do that."))),
    ("other-vendor", event(C("Our old provider was terrible and kept losing emails, that's why we moved to you. "
                             "How do I import our lists?"),
                           B("Audience → Import → CSV, then map the columns."), C("Imported, great!"))),
    ("quoted-customer", event(C("A customer wrote to us: \"This is unacceptable, I want my money back!\" "
                                "Is there a template for replying to complaints?"),
                              B("Yes, Templates → Support → 'Complaint reply'."), C("Found it, thanks."))),
    ("bug-spray", event(C("We sell a bug spray in three sizes, how do I add variants?"),
                        B("Product → Variants → Add option 'Size'."), C("Great, done."))),
    ("bot-offers-advisor", event(C("Can I raise my card limit for a week?"),
                                 B("Yes, Cards → Limits. Would you like me to connect you with an advisor?"),
                                 C("No need, done already. Thanks!"))),
]


@pytest.mark.parametrize(("name", "conv", "at", "ids"), ESCALATE, ids=[c[0] for c in ESCALATE])
def test_escalates_at_the_right_message(name: str, conv: Event, at: int, ids: set[str]) -> None:
    decision = decide(conv)
    assert decision.escalate
    assert decision.at_message == at
    assert set(decision.trigger_ids) == ids
    for hit in decision.triggers:
        assert hit.message_index == at
        assert hit.evidence


@pytest.mark.parametrize(("name", "conv"), NOT_ESCALATE, ids=[c[0] for c in NOT_ESCALATE])
def test_hard_negatives_do_not_fire(name: str, conv: Event) -> None:
    decision = decide(conv)
    assert not decision.escalate, decision.triggers
    assert decision.at_message is None and decision.triggers == []


def _prefix(conv: Event, n: int) -> Event:
    messages = conv.conversation.messages[:n]
    return conv.model_copy(update={"conversation": conv.conversation.model_copy(update={"messages": messages})})


@pytest.mark.parametrize(("name", "conv", "at", "ids"), ESCALATE, ids=[c[0] for c in ESCALATE])
def test_incremental_prefixes_agree(name: str, conv: Event, at: int, ids: set[str]) -> None:
    """Fed one message at a time, nothing fires before ``at`` and the same verdict holds after it."""
    for n in range(len(conv.conversation.messages) + 1):
        decision = evaluate_incrementally(_prefix(conv, n))
        if n < at:
            assert not decision.escalate, n
        else:
            assert decision.at_message == at and set(decision.trigger_ids) == ids


def test_low_confidence_answer_later_confirmed_still_fires_when_given() -> None:
    conv = event(C("How do I hide internal traffic?"),
                 B("I think a data filter on your IP might do it: Settings → Filters.", 0.3),
                 C("Yes, that worked!"), B("Great!", 0.95, "smalltalk.thanks"))
    decision = decide(conv)
    assert decision.at_message == 2 and decision.trigger_ids == ["low_confidence"]
    assert decision.triggers[0].score == 0.3


def test_escalation_happens_late_in_a_long_conversation() -> None:
    turns: list[Turn] = [B("Hi! How can I help?", 0.97, "greeting")]
    for n in range(12):
        turns += [C(f"Question {n}: how do I set up step {n}?"), B(f"Go to Settings → Step {n} and switch it on.")]
    turns += [C("Connecting the calendar shows 'Error 500: internal error' every time."),
              B("Please reconnect the calendar.", 0.6)]
    decision = decide(event(*turns))
    assert decision.at_message == 26 and decision.trigger_ids == ["product_bug"]


def test_system_messages_are_not_the_customer() -> None:
    conv = event(C("How do I add a logo?"), B("Branding → Logo → Upload."), S("Agent unavailable. This is ridiculous?"))
    assert not decide(conv).escalate


def test_sentiment_evidence_carries_the_level() -> None:
    decision = decide(event(C("This is absolutely unacceptable!!")))
    hit = decision.triggers[0]
    assert hit.trigger == "negative_sentiment" and hit.score is not None and hit.score >= 2
    assert "unacceptable" in hit.evidence


# ── handoff.requested ───────────────────────────────────────────────────────────────────────

def _handoff(reason: str | None, requested_by: str | None = "bot", *turns: Turn) -> Event:
    turns = turns or (C("I need help with my account."), B("I'm passing you to a colleague now."), C("ok"))
    handoff = {k: v for k, v in {"reason": reason, "requested_by": requested_by}.items() if v}
    return event(*turns, type_="handoff.requested", handoff=handoff)


@pytest.mark.parametrize(("reason", "requested_by", "ids"), [
    ("Legal hold: the customer's lawyer asked for records", "bot", ["bot_handoff"]),
    ("Customer asked to speak with a person", "bot", ["customer_requested_human"]),
    ("wants someone", "customer", ["customer_requested_human"]),
    ("Refund outside policy after a failed delivery", "bot", ["billing_exception"]),
    ("Bot is not confident about the answer", "bot", ["low_confidence"]),
    ("Suspected bug in the payouts page", "bot", ["product_bug"]),
    (None, None, ["bot_handoff"]),
])
def test_handoff_reason_maps_onto_the_vocabulary(reason: str | None, requested_by: str | None,
                                                 ids: list[str]) -> None:
    decision = decide(_handoff(reason, requested_by))
    assert decision.escalate and decision.trigger_ids == ids
    assert decision.at_message == 2  # the bot's last message is where it handed off
    assert decision.triggers[0].evidence.startswith("handoff.requested")


def test_handoff_without_messages_still_escalates() -> None:
    conv = Event.from_json({"event_id": "e", "type": "handoff.requested", "conversation": {"id": "c", "messages": []},
                            "handoff": {"requested_by": "bot", "reason": "security review"}})
    decision = decide(conv)
    assert decision.escalate and decision.trigger_ids == ["bot_handoff"] and decision.at_message is None


def test_handoff_after_an_earlier_trigger_keeps_both() -> None:
    conv = _handoff("Security review of a login from a new country", "bot",
                    C("Can I talk to a human?"), B("Sure, one moment."), C("Also, I got a login alert from Peru."),
                    B("I'm handing this to our security team."))
    decision = decide(conv)
    assert decision.at_message == 1
    assert decision.trigger_ids == ["customer_requested_human", "bot_handoff"]
    assert decision.triggers[1].message_index == 4


# ── configuration ───────────────────────────────────────────────────────────────────────────

def test_threshold_is_configurable() -> None:
    conv = event(C("Can I bulk-delete tags?"), B("Yes, Tags → select → Delete.", 0.6))
    assert not decide(conv, trigger_config.load()).escalate
    strict = load_config(Settings(extra={"BRIDGE_LOW_CONFIDENCE_THRESHOLD": "0.7"}))
    assert strict.low_confidence_threshold == 0.7
    assert decide(conv, strict).trigger_ids == ["low_confidence"]


def test_override_file_adds_phrases_and_keeps_defaults(tmp_path: Path) -> None:
    override = tmp_path / "triggers.yaml"
    override.write_text(
        "customer_requested_human:\n  request:\n    sv: ['prata med (en|någon) (människa|person)']\n"
        "low_confidence_threshold: 0.4\n",
        encoding="utf-8",
    )
    cfg = load_config(Settings(extra={"BRIDGE_TRIGGERS_FILE": str(override)}))
    assert cfg.low_confidence_threshold == 0.4
    swedish = event(C("Kan jag prata med en människa?"), language="sv")
    assert decide(swedish, cfg).trigger_ids == ["customer_requested_human"]
    # Mappings merge: the Swedish list joins the default languages, everything else is unchanged.
    assert decide(event(C("Can I talk to a human?")), cfg).trigger_ids == ["customer_requested_human"]
    assert decide(event(C("This is ridiculous.")), cfg).trigger_ids == ["negative_sentiment"]


def test_bad_override_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("product_bug:\n  strong: ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad pattern"):
        trigger_config.load(str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        trigger_config.load(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="number"):
        trigger_config.load("", "lots")


def test_merge_is_recursive_for_mappings_only() -> None:
    merged = trigger_config.merge({"a": {"b": [1], "c": 2}, "d": 1}, {"a": {"b": [3]}, "d": 5})
    assert merged == {"a": {"b": [3], "c": 2}, "d": 5}


# ── single customer turns: phrasings a support lead would (not) act on ──────────────────────

ONE_TURN: list[tuple[str, str, set[str]]] = [
    ("Can I get a human?", "en", {"customer_requested_human"}),
    ("I'd rather deal with a real person.", "en", {"customer_requested_human"}),
    ("please escalate this", "en", {"customer_requested_human"}),
    ("Can I speak to the sales team about an enterprise plan?", "en", {"customer_requested_human"}),
    ("We need an engineer to review our SSO setup before launch.", "en", {"customer_requested_human"}),
    ("¿Me pasas con un agente?", "es", {"customer_requested_human"}),
    ("Ich möchte einen Menschen sprechen.", "de", {"customer_requested_human"}),
    ("Passez-moi un conseiller.", "fr", {"customer_requested_human"}),
    ("Voglio parlare con una persona.", "it", {"customer_requested_human"}),
    ("Ik wil een mens spreken.", "nl", {"customer_requested_human"}),
    ("担当者に代わってください。", "ja", {"customer_requested_human"}),
    ("Can agents chat with a customer over video?", "en", set()),
    ("How do I assign a ticket to an agent?", "en", set()),
    ("Is this a bot or a real person?", "en", set()),
    ("Do you have human support on weekends?", "en", set()),
    ("The human in the loop step needs approval, how do I set that up?", "en", set()),
    ("I'll move the meeting to Friday.", "en", set()),
    ("How do I cancel my subscription?", "en", set()),
    ("Wie kann ich kündigen?", "de", set()),
    ("Comment résilier mon contrat ?", "fr", set()),
    ("Como cancelar minha assinatura?", "pt", set()),
    ("If this isn't fixed by Friday we'll cancel our contract.", "en", {"negative_sentiment"}),
    ("This is so frustrating, nothing works.", "en", {"negative_sentiment"}),
    ("Schon wieder kein Login möglich, das ist lächerlich.", "de", {"negative_sentiment"}),
    ("Could you send me the link again?", "en", set()),
    ("Wow, love the new editor!!", "en", set()),
    ("My mum passed away and I am devastated and lost.", "en", set()),
    ("I'm worried my account was hacked, I'm scared.", "en", set()),
    ("Our customer is angry because the order was late. What template should I use?", "en", set()),
    ("Since the update, I love the new dashboard!", "en", set()),
    ("How should I handle HTTP 429 responses from your API?", "en", set()),
    ("Leave a comment on the task, it failed to save and shows empty", "en", set()),
    ("Der Export funktioniert seit gestern nicht mehr.", "de", {"product_bug"}),
    ("Sinds gisteren werkt de export niet meer.", "nl", {"product_bug"}),
    ("El pago falló con el error 500 al guardar.", "es", {"product_bug"}),
    ("Erreur 502 à chaque connexion depuis ce matin.", "fr", {"product_bug"}),
    ("The app keeps crashing when I upload a photo.", "en", {"product_bug"}),
    ("You charged me twice! How do I get my money back?", "en", {"billing_exception"}),
    ("How do I refund a double-charged customer?", "en", set()),
    ("Invoice INV-2231 shows 12 seats but we only have 9. It's wrong, please fix it.", "en", {"billing_exception"}),
    ("Our trial ended while I was on leave. Could you make an exception and extend it?", "en",
     {"billing_exception"}),
    ("The account owner is no longer with the company. I need to take over billing.", "en", {"billing_exception"}),
]


@pytest.mark.parametrize(("text", "language", "ids"), ONE_TURN, ids=[t[0][:40] for t in ONE_TURN])
def test_one_customer_turn(text: str, language: str, ids: set[str]) -> None:
    decision = decide(event(C(text), language=language))
    assert set(decision.trigger_ids) == ids, decision.triggers
    assert decision.at_message == (1 if ids else None)


@pytest.mark.parametrize(("bot", "language"), [
    ("Non ho trovato informazioni su questo formato.", "it"),
    ("Ik weet het niet zeker, sorry.", "nl"),
    ("Não encontrei informações sobre isso.", "pt"),
    ("Je ne sais pas si cette option existe.", "fr"),
    ("I couldn't find anything about that in our help center.", "en"),
])
def test_bot_admits_it_cannot_answer(bot: str, language: str) -> None:
    decision = decide(event(C("Can I export to XML?"), B(bot, 0.8), language=language))
    assert decision.trigger_ids == ["low_confidence"] and decision.at_message == 2
    assert decision.triggers[0].evidence.startswith("“")


def test_frustration_builds_across_languages() -> None:
    conv = event(C("Comment ajouter un logo à mes e-mails ?"), B("Allez dans Modèles → Logo → Importer.", 0.8),
                 C("Je ne vois pas 'Logo' dans Modèles, il n'y a que Texte et Image."),
                 B("Allez dans Modèles → Logo → Importer.", 0.8),
                 C("Encore une fois : il n'y a pas de Logo. Vous pouvez vérifier ?"), language="fr")
    decision = decide(conv)
    assert decision.at_message == 5 and decision.trigger_ids == ["negative_sentiment"]


def test_annoyance_at_own_mistake_is_not_negative() -> None:
    conv = event(C("ugh, I'm an idiot, I deleted the wrong column. can I undo?"),
                 B("Yes: Edit → Undo, or restore from History."), C("phew, thanks!"))
    assert not decide(conv).escalate


def test_unknown_trigger_id_in_reason_map_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("bot_handoff:\n  reason_map:\n    vip_customer: 'vip'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="vip_customer"):
        trigger_config.load(str(bad))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Every time I upload a PDF the app just closes. Started after the 3.2 update.", {"product_bug"}),
        ("If this isn't fixed by Friday we're moving to a competitor. Our sync has been broken for two days.",
         {"product_bug", "negative_sentiment"}),
        ("We're switching to one of your competitors next month.", {"negative_sentiment"}),
    ],
)
def test_crashes_regressions_and_churn_phrased_other_ways(text: str, expected: set[str]) -> None:
    decision = decide(event(C(text)))
    assert decision.escalate and set(decision.trigger_ids) == expected and decision.at_message == 1


@pytest.mark.parametrize(
    "text",
    [
        "I've been away for two days, how do I see what my team changed?",
        "Which plan should we move to for a competitor analysis report?",
    ],
)
def test_durations_and_the_word_competitor_alone_are_not_enough(text: str) -> None:
    assert not decide(event(C(text))).escalate
