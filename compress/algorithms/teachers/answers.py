"""Labels that follow answers: which units of a context a question's answer needs, with no LLM.

From any text, the cloze facts the evaluation already finds (`compress.algorithms.text.cloze.cloze_items`:
numbers, identifiers, names, one per part of the text) give questions with known answers. Each
training example puts the text with its question among `k` distractor texts (none of which holds the
answer), at a random position, so that a model learns relevance to the question and not a position;
the unit holding the answer is labelled keep, every other unit drop. A share of examples asks no
question: then the units holding the text's facts, and its opening unit, are what to keep.

The questions come in several templates (the evaluation's quote-continuation, fill in the blank, the
sentence's key words, which number or name), so the scorer does not learn one phrasing.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from compress.algorithms.text.cloze import ClozeItem, cloze_items, question
from compress.algorithms.text.units import join_documents

_CONTENT = re.compile(r"[A-Za-z_][\w.]{3,}")
_STOP = frozenset(
    [
        "this",
        "that",
        "with",
        "from",
        "have",
        "will",
        "when",
        "which",
        "what",
        "where",
        "there",
        "their",
        "been",
        "were",
        "into",
        "than",
        "then",
        "they",
        "them",
        "also",
        "each",
        "such",
        "only",
        "more",
        "most",
        "some",
        "other",
        "these",
        "those",
        "should",
        "would",
        "could",
        "does",
        "used",
        "uses",
        "using",
    ]
)
KIND_WORDS = {"number": "number", "identifier": "name", "entity": "name"}


@dataclass
class AnswerExample:
    """A context (one text, or several joined by blank lines), the question asked of it (None: no
    question) and the character spans whose units the answer needs."""

    context: str
    query: str | None
    needed: list[tuple[int, int]] = field(default_factory=list)
    position: int = 0  # where the answering text sits among the documents
    documents: int = 1


def phrasings(item: ClozeItem, rng: random.Random) -> str:
    """One question about a cloze fact, in a template drawn at random."""
    words = [w for w in _CONTENT.findall(item.sentence.replace("____", " ")) if w.lower() not in _STOP]
    key = " ".join(dict.fromkeys(words[:6])) or item.left
    kind = KIND_WORDS.get(item.kind, "word")
    templates = [
        question(item),
        f"Fill in the blank: {item.sentence}",
        f'What {kind} comes right after "{item.left}"?',
        f"Which {kind} does the text give about {key}?",
        f"What does the text say about {key}?",
    ]
    return rng.choice(templates)


def answer_examples(
    texts: Sequence[str], n: int, seed: int, k_max: int, no_query_share: float, parts: int
) -> list[AnswerExample]:
    """`n` labelled examples from `texts` (the answering texts and the distractors both drawn from them),
    each among 0..`k_max` distractors, a `no_query_share` of them asking nothing, facts from `parts`
    stretches of a text (the selector's `compressor.labels` give all three: no defaults here).
    A text with no cloze fact cannot answer; a distractor that holds the answer string is not used."""
    rng = random.Random(seed)
    items = {i: cloze_items(str(i), t, parts) for i, t in enumerate(texts)}
    answerable = [i for i, its in items.items() if its]
    if not answerable:
        return []
    out: list[AnswerExample] = []
    while len(out) < n:
        i = rng.choice(answerable)
        text = texts[i]
        if rng.random() < no_query_share:
            needed = [(it.start, it.start + len(it.answer)) for it in items[i]]
            out.append(AnswerExample(text, None, [(0, 1), *needed]))
            continue
        item = rng.choice(items[i])
        k = rng.randint(0, k_max)
        distractors = _distractors(texts, i, item.answer, k, rng)
        pos = rng.randint(0, len(distractors))
        docs = [*distractors[:pos], text, *distractors[pos:]]
        context, spans = join_documents(docs)
        at = spans[pos][0] + item.start
        out.append(
            AnswerExample(context, phrasings(item, rng), [(at, at + len(item.answer))], pos, len(docs))
        )
    return out


def _distractors(texts: Sequence[str], i: int, answer: str, k: int, rng: random.Random) -> list[str]:
    out: list[str] = []
    for _ in range(4 * k):
        if len(out) == k:
            break
        j = rng.randrange(len(texts))
        if j != i and answer not in texts[j] and texts[j] not in out:
            out.append(texts[j])
    return out


def held_out(texts: Iterable[str], exclude: set[str]) -> list[str]:
    """The texts whose normalised form (white space collapsed, lower case) is not in `exclude`."""
    return [t for t in texts if normal(t) not in exclude]


def normal(text: str) -> str:
    """A text's form for comparing texts across corpora: white space collapsed, lower case."""
    return " ".join(text.split()).lower()
