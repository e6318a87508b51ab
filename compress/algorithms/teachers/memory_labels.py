"""Labels for questions that matching words do not answer: multi-hop, temporal, update, paraphrase.

Generated histories (`compress.algorithms.data.memory`, seeds no evaluation draws) give questions with
labelled evidence turns. An example is what the selector's encoder reads when it reranks the hybrid
pass's candidates: a few dozen turns of the history, in order, one a line: every evidence turn, the
turns that share most terms with the question (the distractors a lexical pass proposes), and turns
drawn at random. The evidence turns are labelled keep, the rest drop. Both hops of a
multi-hop answer sit in one example, so the encoder can learn that a name links them.
"""

from __future__ import annotations

import random
from collections import Counter

from compress.algorithms.data.memory import History, generate
from compress.algorithms.teachers.answers import AnswerExample

# generated histories for labels start at this seed: the evaluation's (0) and the study's development
# split (1000) lie below it
LABEL_SEED = 10_000


def _terms(text: str) -> set[str]:
    return {w.strip(".,!?'\"").lower() for w in text.split() if len(w) > 3}


def memory_examples(n: int, seed: int, turns: int = 40) -> list[AnswerExample]:
    """`n` labelled examples (about `turns` turns each) from histories generated at `LABEL_SEED` + seed
    onwards, every question kind as often as the generator asks it."""
    rng = random.Random(seed)
    out: list[AnswerExample] = []
    batch = 0
    while len(out) < n:
        for h in generate(4, LABEL_SEED + seed * 1000 + batch, questions_per_kind=5):
            for q in h.questions:
                if len(out) < n:
                    out.append(_example(h, q.question, q.evidence, rng, turns))
        batch += 1
    rng.shuffle(out)
    return out


def _example(
    h: History, question: str, evidence: tuple[str, ...], rng: random.Random, turns: int
) -> AnswerExample:
    where = {t.id: (si, ti) for si, s in enumerate(h.sessions) for ti, t in enumerate(s.turns)}
    every = list(where)
    asked = _terms(question)
    overlap = Counter(
        {tid: len(asked & _terms(h.sessions[si].turns[ti].text)) for tid, (si, ti) in where.items()}
    )
    chosen = set(evidence)
    for tid, k in overlap.most_common(turns // 3):
        if k:
            chosen.add(tid)
    while len(chosen) < min(turns, len(every)):
        chosen.add(rng.choice(every))
    lines: list[str] = []
    needed: list[tuple[int, int]] = []
    pos = 0
    # the turns in history order, one a line, as the rerank reads its candidates (no session headers:
    # the hybrid pass brings a kept turn's date along by itself)
    for s in h.sessions:
        for t in s.turns:
            if t.id not in chosen:
                continue
            line = f"{t.speaker}: {t.text}"
            if t.id in evidence:
                needed.append((pos + len(t.speaker) + 2, pos + len(line)))
            lines.append(line)
            pos += len(line) + 1
    return AnswerExample("\n".join(lines), question, needed, 0, 1)
