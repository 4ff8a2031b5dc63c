"""Concept words of the learned judge, in the eight languages the corpus holds.

Not rules: each concept is a feature (``k:PERSON``), and so is each pair of concepts found in one
sentence (``k:CONTACT+PERSON``). The model learns how much each is worth; the lists only give it
handles that carry across phrasings and languages where a few hundred examples cannot ("echten
Ansprechpartner", "alguien de carne y hueso" and "someone who actually works there" share
PERSON + REAL). Entries are folded (lower case, no accents) and match the start of a word, or
anywhere for Japanese.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import lru_cache

CONCEPTS: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "human", "humain", "humano", "umano", "mensch", "hooman", "person", "personne", "pessoa", "persoon",
        "someone", "somebody", "anyone", "anybody", "alguien", "alguem", "quelqu", "qualcuno", "jemand",
        "iemand", "agent", "operator", "operador", "operateur", "representative", "rep ", "rappresentant",
        "representante", "advisor", "adviser", "asesor", "conseiller", "consulent", "berater", "adviseur",
        "employee", "staff", "colleague", "collega", "kolleg", "collegue", "medewerker", "mitarbeiter",
        "empleado", "funcionari", "atendente", "ejecutivo", "supervisor", "manager", "gerente",
        "responsable", "responsabile", "sachbearbeiter", "ansprechpartner", "specialist", "especialista",
        "technician", "techniker", "technicien", "tecnico", "customer service", "customer care",
        "service client", "servicio al cliente", "atencion al cliente", "atendimento", "servizio clienti",
        "klantenservice", "kundendienst", "kundenservice", "support team", "your team", "real person",
        "colaborador", "collaborat", "dame", "monsieur", "senor", "senhor", "signor", "herr ", "frau ",
        "mevrouw", "meneer", "adviser", "advisor", "teammate", "somebody", "rep", "reps", "assessor",
        "funcionario", "equipe", "equipo", "squadra", "ploeg", "vertrieb", "verkoop", "ventes", "vendite",
        "ventas", "vendas", "sales", "backoffice", "ufficio", "bureau", "oficina", "escritorio", "buro",
        "担当", "オペレーター", "オペレータ", "人間", "人と", "係の", "スタッフ", "窓口", "サポートの方", "どなたか",
        "誰か", "だれか", "詳しい方", "分かる人", "わかる人", "方と", "方に", "社員", "係員", "担当者",
    ),
    "CONTACT": (
        "talk", "speak", "chat with", "call", "ring", "phone", "contact", "reach", "connect", "transfer",
        "put me through", "word with", "hablar", "llam", "contact", "comunic", "pasame", "pasar con",
        "falar", "ligar", "ligue", "conversar", "parler", "appel", "joindre", "passez", "passer",
        "parlare", "chiam", "contatt", "passar", "passi", "sprech", "anruf", "ruckruf", "zuruckruf",
        "reden", "verbind", "durchstell", "spreken", "bellen", "terugbel", "praten", "doorverbind",
        "callback", "call back", "get hold", "get through", "put through", "go through", "discuss", "platicar",
        "atend", "atiend", "attend", "parli", "conversa", "bespreken", "besprech", "discut", "discutir",
        "話", "電話", "でんわ", "つな", "繋", "相談", "連絡", "はなせ", "はなし", "見ていただ", "みていただ",
    ),
    "ASK": (
        "please", "pls", "plz", "can i", "could i", "may i", "can you", "could you", "i want", "i need",
        "i'd like", "i would like", "let me", "get me", "give me", "is it possible", "por favor", "porfa",
        "quiero", "necesito", "puedo", "quero", "preciso", "gostaria", "posso", "svp", "s'il vous plait",
        "je veux", "je voudrais", "je peux", "pourriez", "per favore", "vorrei", "voglio", "posso", "potrei",
        "bitte", "ich mochte", "ich will", "kann ich", "konnen sie", "graag", "ik wil", "kunt u", "kan ik",
        "now", "asap", "ahora", "agora", "ya ", "jetzt", "sofort", "maintenant", "subito", "adesso", "nu ",
        "meteen", "aub", "alsjeblieft", "svp", "stp", "xfa", "porfavor", "pf", "gimme", "lemme", "wanna",
        "お願い", "ください", "たい", "ますか", "できますか", "もらえませんか", "いただけ", "今すぐ",
    ),
    "REAL": (
        "real", "actual", "echt", "vrai", "veritable", "verdad", "vero", "carne", "live", "lebend",
        "with a pulse", "flesh", "本物", "生身",
    ),
    "BOT": (
        "bot", "robot", "machine", "automat", "chatbot", " ai ", " ia ", " ki ", "assistant virtuel",
        "ボット", "ロボット", "機械",
    ),
    "BROKEN": (
        "error", "erro", "erreur", "fehler", "fout", "crash", "abstur", "plant", "cuelg", "trava", "bloqu",
        "broken", "kaputt", "kapot", "casse", "rotto", "roto", "quebrad", "not working", "doesn't work",
        "does not work", "won't", "funktioniert nicht", "geht nicht", "werkt niet", "ne marche pas",
        "ne fonctionne", "non funziona", "no funciona", "nao funciona", "bug", "glitch", "stuck", "hang",
        "vastgelopen", "atasc", "disappear", "vanish", "verschwund", "verdwen", "disparu", "spari",
        "desapareci", "sumiu", "sumiram", "reappear", "keeps coming back", "wieder da", "komt terug",
        "revient", "ricompa", "reaparec", "volta", "wrong", "falsch", "verkeerd", "faux", "errat",
        "sbagliat", "incorrect", "equivocad", "errad", "blank", "leer", "vide", "vuot", "vacio", "vazi",
        "since the update", "after the update", "seit dem update", "sinds de update", "depuis la mise",
        "dall'aggiornamento", "desde la actualizacion", "desde a atualizacao", "nothing happens",
        "passiert nichts", "gebeurt niets", "rien ne se passe", "non succede", "no pasa nada", "nada acontece",
        "エラー", "落ち", "動かな", "使えな", "表示されな", "固ま", "消え", "戻", "間違", "おかしい", "不具合",
        "空白", "アップデート", "更新後",
    ),
    "MONEY": (
        "refund", "rimbors", "reembols", "rembours", "ruckerstatt", "erstatt", "terugbetal", "restitu",
        "estorno", "charge", "cobr", "prelev", "addebit", "abbuch", "afschrijv", "invoice", "factur",
        "fattur", "rechnung", "factuur", "fee", "cargo", "taxa", "frais", "commission", "gebuhr", "kosten",
        "twice", "double", "doppel", "dubbel", "doppi", "duplic", "dobr", "deux fois", "zweimal",
        "money back", "dinero", "dinheiro", "argent", "soldi", "geld", "vat", "iva", "tva", "ust-id",
        "btw", "€", "$", "£", "¥", "返金", "請求", "引き落と", "手数料", "二重", "お金", "料金",
    ),
    "EXCEPTION": (
        "exception", "excepcion", "excecao", "eccezion", "ausnahm", "uitzonder", "kulanz", "coulance",
        "geste commercial", "goodwill", "waive", "condon", "even though", "although", "aunque",
        "mesmo que", "meme si", "anche se", "obwohl", "hoewel", "past the", "after the", "fuera de plazo",
        "fora do prazo", "hors delai", "fuori termine", "nach ablauf", "na afloop", "policy", "politica",
        "politique", "richtlinie", "beleid", "special", "especial", "speciale", "besonder", "bijzonder",
        "例外", "過ぎ", "期限", "規約", "ポリシー", "特別",
    ),
    "CANCEL": (
        "cancel", "kundig", "opzeg", "resili", "disdett", "darme de baja", "dar de baja", "cancelar",
        "competitor", "konkurrenz", "concurrent", "concorren", "competencia", "switch to", "wechsel",
        "overstap", "passer chez", "passo a", "mudar para", "解約", "他社", "乗り換え",
    ),
    "ANGER": (
        "ridiculous", "unacceptable", "useless", "terrible", "worst", "joke", "absurd", "lacherlich",
        "inakzeptabel", "nutzlos", "belachelijk", "onacceptabel", "waardeloos", "ridicule", "inacceptable",
        "nul", "inutil", "ridicol", "inaccettabil", "ridiculo", "inaceitavel", "wtf", "damn", "hell",
        "fuck", "shit", "merde", "cazzo", "mierda", "porra", "scheiss", "kut", "verdomme", "seriously",
        "again", "wieder", "weer", "encore", "ancora", "otra vez", "de novo", "third time", "dritte mal",
        "derde keer", "troisieme fois", "terza volta", "tercera vez", "terceira vez", "still", "immer noch",
        "nog steeds", "toujours", "ancora", "todavia", "ainda", "ひどい", "最悪", "ふざけ", "何度", "いい加減",
        "もう結構",
    ),
    "PERSIST": (
        "still", "keeps", "keep ", "every time", "each time", "always", "sigue", "siempre", "cada vez",
        "continua", "sempre", "toda vez", "toujours", "chaque fois", "ogni volta", "immer", "jedes mal",
        "weiterhin", "nog steeds", "elke keer", "altijd", "また", "毎回", "ずっと", "いつも",
    ),
    "REVERT": (
        "back to", "flips back", "revert", "coming back", "comes back", "came back", "reappear", "vuelve a",
        "volvio", "volta a", "voltou", "revient", "reviennent", "torna", "tornato", "wieder da",
        "zuruck auf", "springt zuruck", "terug naar", "komt terug", "staat weer", "戻る", "戻って", "復活",
    ),
    "DATA": (
        "total", "balance", "amount", "count", "rows", "records", "entries", "report", "dashboard", "export",
        "saldo", "importe", "monto", "valor", "montant", "solde", "importo", "betrag", "bedrag", "summe",
        "totaal", "合計", "残高", "件数", "金額", "データ", "表示",
    ),
    "THANKS": (
        "thank", "thx", "danke", "bedankt", "merci", "grazie", "gracias", "obrigad", "ありがと", "perfect",
        "works now", "that worked", "funktioniert jetzt", "werkt nu", "ca marche", "funziona ora",
        "funciona ahora", "funcionou", "解決",
    ),
}


# Every combining mark (accents once decomposed), to delete in one str.translate: a character-by-
# character generator was a tenth of the judge's time on non-English text. ~80 ms once, at import.
_COMBINING = dict.fromkeys(c for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c)))


def fold(text: str) -> str:
    """Lower case, no accents, one space: "Atención" and "atencion" are the same word here."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    if decomposed.isascii():  # nothing to strip (most English turns)
        return " ".join(decomposed.split())
    return " ".join(decomposed.translate(_COMBINING).split())


def _compile() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Word prefixes (matched at the start of a word) and phrases (matched anywhere)."""
    import re

    prefixes: dict[str, set[str]] = {}
    phrases: list[tuple[str, str]] = []
    for concept, raw in CONCEPTS.items():
        for entry in (fold(e) if e.strip() else e for e in raw):
            if re.fullmatch(r"\w+", entry, re.ASCII) and entry.isascii():
                prefixes.setdefault(entry, set()).add(concept)
            else:
                phrases.append((entry, concept))
    return prefixes, phrases


class PhraseFinder:
    """Which concepts' phrases a text contains, in one Aho–Corasick pass (``ahocorasick_rs``, as
    ``trigger_prefilter`` uses) instead of one ``in`` per phrase (~400 phrases, per sentence).
    Overlapping matches, so a phrase inside or across another is found as ``in`` finds it; a
    phrase shared by two concepts (``wieder da``: BROKEN and REVERT) names both."""

    def __init__(self, phrases: list[tuple[str, str]]) -> None:
        import ahocorasick_rs

        by_phrase: dict[str, set[str]] = {}
        for phrase, concept in phrases:
            by_phrase.setdefault(phrase, set()).add(concept)
        # An empty phrase is "in" every text (none is shipped; the automaton refuses one).
        self._always = frozenset(by_phrase.pop("", set()))
        self._concepts = tuple(frozenset(concepts) for concepts in by_phrase.values())
        self._automaton = ahocorasick_rs.AhoCorasick(list(by_phrase)) if by_phrase else None

    def concepts(self, text: str) -> set[str]:
        found = set(self._always)
        if self._automaton is not None:
            for index, _, _ in self._automaton.find_matches_as_indexes(text, overlapping=True):
                found |= self._concepts[index]
        return found


def recompile() -> None:
    """Rebuild the matchers from ``CONCEPTS`` (after a measuring tool adds words to it)."""
    global PREFIXES, PHRASES, LENGTHS, FINDER
    PREFIXES, PHRASES = _compile()
    LENGTHS = sorted({len(p) for p in PREFIXES})
    FINDER = PhraseFinder(PHRASES)
    _word_concepts.cache_clear()


PREFIXES, PHRASES = _compile()
LENGTHS = sorted({len(p) for p in PREFIXES})
FINDER = PhraseFinder(PHRASES)


RUN_ON = 12  # a word this long may be several run together ("iwanttospeaktoahuman")


def concepts(folded: str) -> set[str]:
    """The concepts a folded text (``judge_features.fold``) mentions."""
    found: set[str] = set().union(*map(_word_concepts, folded.split()))
    return found | FINDER.concepts(f" {folded} ")


@lru_cache(maxsize=4096)
def _word_concepts(word: str) -> frozenset[str]:
    """The concepts whose word prefixes start this word (or, in a run-on word, start inside it);
    cached: the same words come back in every conversation."""
    found: set[str] = set()
    word = word.strip(".,;:!?¡¿()[]\"'«»“”")
    starts = range(len(word) - 2) if len(word) >= RUN_ON and word.isascii() else (0,)
    for start in starts:
        for n in LENGTHS:
            if n < 4 and start:
                continue  # inside a run-on word, only prefixes long enough to mean something
            if start + n > len(word):
                break
            hit = PREFIXES.get(word[start:start + n])
            if hit:
                found |= hit
    return frozenset(found)
