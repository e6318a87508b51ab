"""The needle task: its questions (balanced positions, the answer in exactly one text, seeded and
deterministic, distractors never the answer's text), its grading, and accuracy by position."""

from __future__ import annotations

from collections import Counter

import pytest
from omegaconf import OmegaConf

from compress.algorithms.metrics import cloze
from compress.algorithms.metrics.gold import GoldItem
from compress.algorithms.metrics.needle import NEEDLE, SEPARATOR, by_position, needle_items

# twelve texts, each with its own facts (a version, a count, a name) in its first, middle and last part
WORDS = [
    "amber",
    "birch",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "grove",
    "heron",
    "iris",
    "juniper",
    "kestrel",
    "lotus",
]
NAMES = [
    "Alice",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kiri",
    "Lars",
]
TEXTS = [
    f"The {w} module was first released as version {i}.{i + 1} by its team. The {w} cache keeps "
    f"{100 + i} entries for every open file. The {w} parser was written by {name} during a long weekend."
    for i, (w, name) in enumerate(zip(WORDS, NAMES, strict=True))
]
IDS = [f"t{i}" for i in range(12)]


def _texts_of(item: GoldItem) -> list[str]:
    return item.context.split(SEPARATOR)


def test_questions_put_the_answer_in_exactly_one_text_at_balanced_positions() -> None:
    items = needle_items(IDS, TEXTS, k=4, max_items=23, parts=3, seed=7)
    assert len(items) == 23 and len({it.id for it in items}) == 23
    for it in items:
        assert it.task == "needle" and it.fact is not None and it.position is not None and it.n_texts == 5
        texts = _texts_of(it)
        assert len(texts) == 5 and len(set(texts)) == 5
        holding = [i for i, t in enumerate(texts) if it.fact.answer in t]
        quoting = [i for i, t in enumerate(texts) if it.fact.left in t]
        # the answer and the quote stand in one text only: the one at the item's position, its own
        assert holding == quoting == [it.position]
        assert texts[it.position] == TEXTS[IDS.index(it.fact.sample_id)]
        assert it.question == cloze.question(it.fact) and it.answers == [it.fact.answer]
    # 23 questions over 5 positions: each position 4 or 5 times
    counts = Counter(it.position for it in items)
    assert set(counts) == {0, 1, 2, 3, 4} and set(counts.values()) <= {4, 5}
    # the texts' first facts come before their second ones: 12 texts, then 11 of the second facts
    assert Counter(it.fact.part for it in items if it.fact) == {0: 12, 1: 11}


def test_the_same_seed_gives_the_same_questions_and_distractors_differ_per_question() -> None:
    a = needle_items(IDS, TEXTS, k=4, max_items=30, parts=3, seed=1)
    assert a == needle_items(IDS, TEXTS, k=4, max_items=30, parts=3, seed=1)
    b = needle_items(IDS, TEXTS, k=4, max_items=30, parts=3, seed=2)
    assert [it.id for it in a] == [it.id for it in b] and [it.context for it in a] != [it.context for it in b]
    distractor_sets = {frozenset(_texts_of(it)) - {TEXTS[IDS.index(it.id.split(":")[0])]} for it in a}
    assert len(distractor_sets) > len(a) // 2


def test_distractors_that_hold_the_answer_are_never_drawn_and_impossible_questions_are_skipped() -> None:
    # every text but the last repeats the last text's count (111): its question on that count has
    # no distractor left; questions about the other texts avoid the last text when it holds their answer
    texts = [t + " It also lists 111 cases." for t in TEXTS[:11]] + [TEXTS[11]]
    items = needle_items(IDS, texts, k=4, max_items=100, parts=3, seed=0)
    assert not [it for it in items if it.fact and it.fact.answer == "111"]
    assert all(sum(it.fact.answer in t for t in _texts_of(it)) == 1 for it in items if it.fact)
    # k larger than the texts there are: no question at all
    assert needle_items(IDS[:3], TEXTS[:3], k=4, max_items=10, parts=3, seed=0) == []


def test_k_zero_is_the_text_alone() -> None:
    (item,) = needle_items(IDS[:1], TEXTS[:1], k=0, max_items=1, parts=3, seed=0)
    assert item.context == TEXTS[0].strip() and item.position == 0


def test_grading_as_cloze_with_the_context_first() -> None:
    (item,) = needle_items(IDS, TEXTS, k=4, max_items=1, parts=3, seed=0)
    assert item.fact is not None and item.fact.answer == "0.1"  # "... released as version 0.1 by ..."
    ev = OmegaConf.create({})
    assert NEEDLE.grade(item, "0.1 by its team.", "any", ev)
    assert NEEDLE.grade(item, "released as version 0.1", "any", ev)  # the quote restated first
    assert not NEEDLE.grade(item, "1.0", "any", ev)
    (msg,) = NEEDLE.messages(item, "short context")
    assert msg["content"] == f"Text:\nshort context\n\n{item.question}" and NEEDLE.stop == ("\n",)


def test_accuracy_by_position() -> None:
    def at(p: int) -> GoldItem:
        return GoldItem("needle", f"q{p}", "c", "q", ["a"], position=p, n_texts=4)

    items = [at(0), at(0), at(1), at(3), at(3), at(3)]
    assert by_position(items, [True, False, True, True, True, False]) == [
        0.5,
        1.0,
        None,
        pytest.approx(2 / 3),
    ]
    # not a needle task: no positions
    assert by_position([GoldItem("qa", "x", "c", "q", ["a"])], [True]) == []
