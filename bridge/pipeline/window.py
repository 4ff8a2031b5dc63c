"""What the analyses that read a message for meaning read of it: all of it, or its head and tail.

A customer who pastes a log sends one message of tens of KB, and every pattern, lexicon and model
run over it costs in proportion to its length; a fresh 99 KB paste cost a hand-off job 400–480 ms
of CPU. A customer says what they want around what they paste ("get me a person, here is the log:
…", "… please help"), so the judge (``judge_features.bounded``), the summary's facts, the urgency
facts, the topic and the earlier tickets read ``window(text)``: the text itself up to
``READ_HEAD + READ_TAIL`` characters, else its first ``READ_HEAD`` and last ``READ_TAIL`` with a
sentence break between, so no phrase is read across the cut. What protects the customer reads all of
it, always: secrets are masked (``sanitize``) and personal data redacted (``redact``) in the whole text,
and the ticket and the bug carry the whole message.
"""

from __future__ import annotations

READ_HEAD = 6_000
READ_TAIL = 2_000
GAP = "\n\n"


def window(text: str) -> str:
    """``text`` as the analyses read it (see the module's doc)."""
    if len(text) <= READ_HEAD + READ_TAIL:
        return text
    return text[:READ_HEAD] + GAP + text[-READ_TAIL:]
