"""Concept words tried for issue 15 (docs/triage.md, "Waiting for the bot, NB weighting, more concept
words"): general vocabulary of understated displeasure (MILD), a looping bot (LOOP), asking for an
exception, and asking for a person politely or idiomatically, in the eight languages of the corpus.
They lost recall on the paired folds, so they are not in ``bridge/pipeline/judge_lexicon.py``;
``python -m bench.judge_variants base --more-concepts`` measures them again.
"""

from __future__ import annotations

NEW: dict[str, tuple[str, ...]] = {
    "MILD": (
        # displeasure said mildly or by understatement
        "not ideal", "not great", "not good enough", "disappoint", "frustrat", "annoy", "not happy", "unhappy",
        "not impressed", "not thrilled", "not pleased", "tired of", "fed up", "had enough", "getting nowhere",
        "waste of time", "wasting my time", "enttausch", "nicht ideal", "nicht gerade", "genervt", "nervig",
        "argerlich", "frustrier", "unzufrieden", "zeitverschwendung", "decu", "decevant", "pas terrible",
        "pas ideal", "agacant", "enervant", "frustrant", "pas content", "mecontent", "marre", "perte de temps",
        "decepcion", "decepcionad", "no es ideal", "molest", "no estoy contento", "descontent", "harto",
        "perdida de tiempo", "delus", "deludent", "non ideale", "fastidi", "non sono content", "scontent",
        "stufo", "perdita di tempo", "decepcao", "nao e ideal", "chato", "nao estou content", "insatisfeit",
        "farto", "perda de tempo", "teleurgesteld", "teleurstell", "niet ideaal", "vervelend", "frustrer",
        "niet blij", "ontevreden", "tijdverspilling", "残念", "がっかり", "困っ", "困り", "不満", "いまいち",
        "時間の無駄", "うんざり",
    ),
    "LOOP": (
        # the bot going round in circles, or not answering what was asked
        "same answer", "same thing", "same message", "already said", "already told", "already tried",
        "already did", "keep telling", "keeps telling", "keep saying", "keeps saying", "in circles", "loop",
        "over and over", "not what i asked", "didn't answer", "did not answer", "not listening", "not helping",
        "doesn't help", "didn't help", "not helpful", "gleiche antwort", "dieselbe antwort", "schon gesagt",
        "bereits gesagt", "schon versucht", "bereits versucht", "im kreis", "schleife", "immer wieder",
        "hilft nicht", "nicht hilfreich", "meme reponse", "meme chose", "deja dit", "deja essaye", "deja fait",
        "tourne en rond", "en boucle", "encore et encore", "n'aide pas", "pas utile", "misma respuesta",
        "lo mismo", "ya te dije", "ya le dije", "ya lo hice", "ya lo intente", "en circulos", "bucle",
        "una y otra vez", "no ayuda", "no me sirve", "stessa risposta", "stessa cosa", "gia detto", "gia provato",
        "gia fatto", "in tondo", "non aiuta", "non serve", "mesma resposta", "mesma coisa", "ja disse",
        "ja falei", "ja tentei", "ja fiz", "em circulos", "nao ajuda", "nao serve", "zelfde antwoord",
        "hetzelfde", "al gezegd", "al geprobeerd", "al gedaan", "rondjes", "steeds weer", "helpt niet",
        "同じ回答", "同じ答え", "同じこと", "さっきも", "もう試し", "既に試し", "堂々巡り", "ループ", "繰り返し",
        "役に立たない", "答えになって",
    ),
}

MORE = {
    "EXCEPTION": (
        "make an exception", "just this once", "one-time", "one time", "courtesy", "bend the", "flexib",
        "lenien", "missed the deadline", "a few days late", "grace period", "por esta vez", "solo esta vez",
        "cortesia", "excepcionalmente", "a titre exceptionnel", "exceptionnellement", "geste", "eccezionalmente",
        "per questa volta", "una tantum", "ausnahmsweise", "entgegenkommen", "kulant", "eenmalig",
        "bij uitzondering", "coulant", "今回だけ", "例外的", "特例", "配慮", "柔軟", "一度だけ",
    ),
    "CONTACT": (
        "in touch", "escalat", "hand me over", "pass me", "put me on", "en contacto", "in contatto",
        "in kontakt", "em contato", "in contact", "mettre en relation", "取り次", "代わって", "つないで",
    ),
    "PERSON": (
        "human being", "live chat", "live agent", "someone in charge", "higher up", "superior", "vorgesetzt",
        "superieur", "leidinggevende", "jefe", "chefe", "chef", "責任者", "上司", "上の方",
    ),
}


def install() -> None:
    """Add the words to the judge's lexicon in this process (before any feature is computed)."""
    from bridge.pipeline import judge_lexicon

    for concept, words in {**NEW, **MORE}.items():
        judge_lexicon.CONCEPTS[concept] = (*judge_lexicon.CONCEPTS.get(concept, ()), *words)
    judge_lexicon.recompile()
