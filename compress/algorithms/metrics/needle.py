"""needle: a fact of one held-out text, asked about a context where that text sits among others.

Retrieval-style use: the context a compressor gets is `k + 1` held-out texts joined by a blank line, only
one of which holds the answer, and the question is known (`Request.query`). Each question is one fact of
one text (`compress.algorithms.metrics.cloze.cloze_items`: a number, an identifier or a named entity), asked as
its cloze quote and graded as cloze is; the `k` distractors are other held-out texts holding neither
the answer nor the quote, drawn per question (seeded by its id). The answer-bearing text sits at
every position 0..k equally often (a seeded, balanced assignment), so accuracy by position shows a
compressor (or a model) that reads only the head or the end of a long context. Needs no download.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from compress.algorithms.metrics import cloze
from compress.algorithms.metrics.gold import GoldItem

SEPARATOR = "\n\n"


def _flat(text: str) -> str:
    return " ".join(text.split())


def needle_items(
    ids: list[str], texts: list[str], k: int, max_items: int, parts: int, seed: int
) -> list[GoldItem]:
    """At most `max_items` questions over the held-out `texts` (one fact per part of a text, the
    texts' first facts before their second ones), each with its `k` distractors and its position.

    A question whose fact no `k` other texts leave out (neither the answer nor the quote) is skipped."""
    sources = [t.strip() for t in texts]
    facts = [cloze.cloze_items(i, t, parts) for i, t in zip(ids, sources, strict=True)]
    flat = [_flat(t) for t in sources]
    chosen: list[tuple[int, cloze.ClozeItem, list[int]]] = []
    for j in range(max((len(f) for f in facts), default=0)):
        for s, text_facts in enumerate(facts):
            if len(chosen) >= max_items or j >= len(text_facts):
                continue
            item = text_facts[j]
            answer, left = _flat(item.answer), _flat(item.left)
            # texts that say neither, each content once: the answer stands in exactly one text
            pool = list(
                {
                    flat[i]: i
                    for i in range(len(sources))
                    if i != s and answer not in flat[i] and left not in flat[i]
                }.values()
            )
            if len(pool) < k:
                continue
            chosen.append((s, item, random.Random(f"{seed}:{item.key}").sample(pool, k)))
    # position p for every (k + 1)-th question, shuffled: each position within one of n / (k + 1)
    slots = [i % (k + 1) for i in range(len(chosen))]
    random.Random(f"{seed}:needle positions").shuffle(slots)
    items = []
    for (s, item, distractors), p in zip(chosen, slots, strict=True):
        order = [sources[i] for i in distractors]
        order.insert(p, sources[s])
        items.append(
            GoldItem(
                "needle",
                item.key,
                SEPARATOR.join(order),
                cloze.question(item),
                [item.answer],
                fact=item,
                position=p,
                n_texts=k + 1,
            )
        )
    return items


class NeedleTask:
    """How a needle question is asked (as a cloze blank, the whole context first) and graded."""

    name = "needle"
    stop: tuple[str, ...] = ("\n",)
    # what is graded with no model (`checks`)
    check_names: tuple[str, ...] = ("answer_kept",)

    def messages(self, item: GoldItem, context: str) -> list[dict[str, str]]:
        """The (compressed) context, then the quote that stops at the blank."""
        if item.fact is None:
            raise ValueError(f"needle item {item.id} has no fact")
        return cloze.messages(context, item.fact)

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """Normalised exact match on the answer's opening words, as a cloze blank."""
        if item.fact is None:
            raise ValueError(f"needle item {item.id} has no fact")
        return cloze.grade(item.fact, answer)

    def checks(self, item: GoldItem, context: str) -> dict[str, bool]:
        """The grades that read no answer: `answer_kept`."""
        return {"answer_kept": self.kept(item, context)}

    def kept(self, item: GoldItem, context: str) -> bool:
        """Whether the (compressed) context still holds the answer (white space normalised): what a
        reader needs, graded with no model."""
        flat = _flat(context)
        return any(_flat(a) in flat for a in item.answers)


NEEDLE = NeedleTask()


def by_position(items: list[GoldItem], correct: list[bool]) -> list[float | None]:
    """Accuracy per position of the answer-bearing text (first first; None where none sat); empty
    when the items have no position (not a needle task)."""
    placed = [(it.position, ok) for it, ok in zip(items, correct, strict=True) if it.position is not None]
    if not placed:
        return []
    n = max(it.n_texts for it in items)
    return [
        float(np.mean(hits)) if (hits := [ok for p, ok in placed if p == pos]) else None for pos in range(n)
    ]
