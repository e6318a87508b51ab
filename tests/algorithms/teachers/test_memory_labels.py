"""Labels from generated histories: every evidence turn of a question in its example and labelled keep,
both hops of a multi-hop answer in one example, distractors that share the question's words, and
histories no evaluation draws."""

from __future__ import annotations

from compress.algorithms.data.memory import generate
from compress.algorithms.teachers.memory_labels import LABEL_SEED, memory_examples


def test_every_example_holds_and_labels_its_evidence() -> None:
    examples = memory_examples(40, seed=0, turns=30)
    assert len(examples) == 40
    for ex in examples:
        assert ex.query and ex.needed
        lines = ex.context.split("\n")
        assert 20 <= len(lines) <= 40
        for a, b in ex.needed:
            # a labelled span is a whole turn's text, after its speaker's tag
            line = next(ln for ln in lines if ex.context[a:b] in ln)
            assert line.endswith(ex.context[a:b]) and line[: len(line) - (b - a)].endswith(": ")


def test_a_multi_hop_question_gets_both_of_its_turns() -> None:
    # the first history of the labels' first batch (four histories, five questions per kind)
    h = generate(4, LABEL_SEED, questions_per_kind=5)[0]
    multi = [q for q in h.questions if q.kind == "multi-hop"]
    examples = memory_examples(len(h.questions), seed=0)
    texts = {t.id: t.text for s in h.sessions for t in s.turns}
    for q in multi:
        ex = next(e for e in examples if e.query == q.question)
        labelled = {ex.context[a:b] for a, b in ex.needed}
        assert {texts[e] for e in q.evidence} == labelled and len(labelled) >= 2


def test_labels_come_from_histories_no_evaluation_draws() -> None:
    evaluated = {q.question for h in generate(12, 0, questions_per_kind=5) for q in h.questions}
    evaluated |= {q.question for h in generate(4, 1000, questions_per_kind=5) for q in h.questions}
    labelled = {ex.query for ex in memory_examples(100, seed=0)}
    histories_text = {ex.context for ex in memory_examples(20, seed=0)}
    assert LABEL_SEED > 1000 and histories_text
    # questions repeat their templates, not their histories: a shared question names other people
    assert len(labelled & evaluated) < 0.2 * len(labelled)
