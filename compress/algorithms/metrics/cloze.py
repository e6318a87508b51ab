"""Cloze facts: a gold-answer task built from the text itself, so it needs no download.

From each original, sentences that hold a number, an identifier or a named entity are picked from
every part of the text (the text cut into `parts` equal stretches, one item per part where it has a
fact), the fact is masked (`____`), and a validator, given the (compressed) text and the sentence's
words up to the blank as a quote, gives the words that follow: a blank with only left context, which a
base model answers by copying from the text and a chat model by reading it. Graded by normalised
exact match on the answer's opening words (a restated quote before them is skipped). A compressor that
keeps only the head of the text cannot win it: the facts of the later parts are gone.
"""

from __future__ import annotations

from compress.algorithms.metrics.gates import question_key
from compress.algorithms.text.cloze import BLANK, ClozeItem, cloze_items, grade, question
from compress.infra.llm.client import ChatRequest

__all__ = ["BLANK", "ClozeItem", "cloze_items", "cloze_requests", "grade", "messages", "question"]


def messages(text: str, item: ClozeItem) -> list[dict[str, str]]:
    """What a validator is asked about one blank: the (compressed) text first, then the quote."""
    return [{"role": "user", "content": f"Text:\n{text}\n\n{question(item)}"}]


def cloze_requests(
    texts: list[str], items: list[list[ClozeItem]], models: list[str], max_tokens: int
) -> dict[str, list[ChatRequest]]:
    """Per (compressed) text, every model's request to fill each of its sample's blanks from it; the
    text comes first, as in the probes, so the questions about one text share its prefix."""
    out: dict[str, list[ChatRequest]] = {}
    for text, text_items in zip(texts, items, strict=True):
        reqs = out.setdefault(text, [])
        for model in models:
            for item in text_items:
                q = question(item)
                reqs.append(
                    ChatRequest(
                        key=question_key(model, text, q),
                        model=model,
                        messages=messages(text, item),
                        max_tokens=max_tokens,
                        temperature=0.0,
                        stop=["\n"],
                    )
                )
    return out
