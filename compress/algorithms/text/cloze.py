"""Cloze facts of a text, no model: sentences that hold a number, an identifier or a named entity, one
per part of the text, the fact masked, and how an answer to the masked fact is graded. The evaluation
asks them (`compress.algorithms.metrics.cloze`); the selector's labels are built from them
(`compress.algorithms.teachers.answers`)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from compress.algorithms.text.patterns import ENTITY, IDENTIFIER, NUMBER
from compress.algorithms.text.units import sentence_spans

BLANK = "____"
_TRAILING = ",.;:"
# fact kinds in the order they are preferred: a number or an identifier has one right answer
_KINDS = (("number", NUMBER), ("identifier", IDENTIFIER), ("entity", ENTITY))
MIN_CONTEXT_WORDS = 4
# words of the sentence before the blank: the quote that points the validator at the sentence
MIN_LEFT_WORDS = 3


@dataclass(frozen=True)
class ClozeItem:
    """One masked fact of one text: which part of the text it lies in, the masked sentence, the answer."""

    sample_id: str
    part: int
    n_parts: int
    kind: str
    sentence: str
    left: str
    answer: str
    start: int

    @property
    def key(self) -> str:
        """A stable id of the item within its sample."""
        return f"{self.sample_id}:{self.part}:{self.start}"


def _candidates(text: str, sentence: tuple[int, int]) -> list[tuple[int, str, int, int]]:
    """(kind rank, kind, start, end) of the facts inside one sentence that make a fair blank."""
    a, b = sentence
    body = text[a:b]
    out = []
    for rank, (kind, pattern) in enumerate(_KINDS):
        for m in pattern.finditer(body):
            start, end = m.start(), m.end()
            while end > start and (body[end - 1] in _TRAILING or body[end - 1].isspace()):
                end -= 1  # "5," in "5, 6": the blank is the number
            answer = body[start:end]
            if len(answer) < 2 and not answer.isdigit():
                continue
            if body.count(answer) != 1:  # the blank must be the only place the answer stands
                continue
            if len((body[:start] + body[end:]).split()) < MIN_CONTEXT_WORDS:
                continue
            if len(body[:start].split()) < MIN_LEFT_WORDS:
                continue
            out.append((rank, kind, a + start, a + end))
    return out


def cloze_items(sample_id: str, text: str, parts: int = 3) -> list[ClozeItem]:
    """At most one masked fact per part of the text (parts: equal stretches of characters), so the
    items cover the whole text; a part without a fair fact gives none."""
    if not text.strip() or parts < 1:
        return []
    size = len(text) / parts
    chosen: dict[int, tuple[int, str, int, int, tuple[int, int]]] = {}
    for sent in sentence_spans(text):
        for rank, kind, start, end in _candidates(text, sent):
            part = min(parts - 1, int(start / size))
            best = chosen.get(part)
            # the preferred kind, then the longer answer, then the earlier one
            if best is None or (rank, -(end - start), start) < (best[0], -(best[3] - best[2]), best[2]):
                chosen[part] = (rank, kind, start, end, sent)
    items = []
    for part in sorted(chosen):
        _, kind, start, end, (a, b) = chosen[part]
        sentence = " ".join((text[a:start] + BLANK + text[end:b]).split())
        left = " ".join(text[a:start].split())
        items.append(ClozeItem(sample_id, part, parts, kind, sentence, left, text[start:end], start))
    return items


def question(item: ClozeItem) -> str:
    """What the validator is asked after the text: to go on with a quote that stops at the blank."""
    return f'Continue this quote from the text with its next words: "{item.left}'


def _words(text: str) -> list[str]:
    """Lower-cased words with punctuation at their edges stripped; digit groups joined (1,000 = 1000)."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    words = [w.strip(string.punctuation + "`'\"") for w in text.split()]
    return [w for w in words if w]


def grade(item: ClozeItem, answer: str) -> bool:
    """Normalised exact match: the answer's first line opens with exactly the masked words.

    A model keeps talking after its answer ("3.11, the version that ..."): what follows the masked
    words is ignored. One that restates the quote first ("... with 0 < k") has the quote skipped
    (all of it, or its last words); anything else before the masked words makes the answer wrong."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    got, want, left = _words(lines[0] if lines else ""), _words(item.answer), _words(item.left)
    if not want:
        return False
    for k in range(len(left), 1, -1):  # the longest restated tail of the quote (two words at least)
        if got[:k] == left[-k:]:
            got = got[k:]
            break
    return got[: len(want)] == want
