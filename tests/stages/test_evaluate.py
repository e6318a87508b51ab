"""The evaluate stage's own assembly on hand-made inputs: the per-sample `eval` rows, the gold items."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from compress.algorithms.metrics.gates import PairScore
from compress.algorithms.metrics.headline import PointKey
from compress.algorithms.metrics.summary import Cloze, Point
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import count_cl100k
from compress.stages.context import Routed
from compress.stages.evaluate import _gold_items, _sample_rows
from tests.algorithms.metrics.test_needle import TEXTS


class WordCounter:
    """Tokens are white-space words."""

    def count(self, text: str) -> int:
        return len(text.split())


def test_sample_rows_one_per_sample_and_method_at_the_trained_budget() -> None:
    held = [{"id": "s0", "original": "one two three four"}, {"id": "s1", "original": "Alice has 5 cats"}]
    routed = Routed([None, None], [["What?"], ["Who?"]], [[0], [-1]])
    points = [
        Point("trained", [("one two", 0.5), ("Alice 5", 1.5)]),
        Point("truncate", [("one", 0.0), ("Alice", 0.0)], rate=0.25),  # a rate point: not a row
    ]
    scores: dict[PointKey, list[PairScore]] = {
        ("trained", None): [
            PairScore([0.9, 0.7], 0.7, 1.0, [], 0.0, [], []),
            PairScore([0.2, 0.4], 0.2, 0.5, [], 0.0, [], []),
        ]
    }
    cz = Cloze(
        [[], []], {("trained", None, "a"): [[True, False], []], ("trained", None, "b"): [[True], [False]]}
    )
    rows = _sample_rows(held, routed, points, scores, cz, ["a", "b"], WordCounter())
    assert [(r["id"], r["method"]) for r in rows] == [("s0", "trained"), ("s1", "trained")]
    first, second = rows
    assert (first["original_tokens"], first["compressed_tokens"], first["reduction"]) == (4, 2, 0.5)
    assert first["original_tokens_cl100k"] == count_cl100k("one two three four")
    assert (first["min_score"], first["model_scores"], first["latency_s"]) == (0.7, [0.9, 0.7], 0.5)
    assert (first["probes"], first["probe_parts"]) == (["What?"], [0])
    # cloze: over both models, sample 0 had 3 blanks asked and 2 right, sample 1 one asked and none right
    assert (first["cloze_correct"], first["cloze_asked"]) == (2, 3)
    assert (second["cloze_correct"], second["cloze_asked"]) == (0, 1)
    # the number 5 kept, the entity Alice opens the text and so is no fact
    assert second["fact_recall"] == 1.0 and second["reduction"] == 0.5


def test_the_needle_draws_from_every_held_out_text_and_says_when_it_finds_no_question() -> None:
    every = [{"id": f"t{i}", "original": text} for i, text in enumerate(TEXTS)]
    ev = OmegaConf.create(
        {"tasks": ["cloze", "needle"], "split": "test", "needle": {"k": 4, "max_items": 7, "parts": 3}}
    )
    items = _gold_items(ev, every, seed=0)
    assert len(items) == 7 and {it.task for it in items} == {"needle"}
    assert _gold_items(OmegaConf.merge(ev, {"tasks": ["cloze"]}), every, seed=0) == []
    with pytest.raises(CompressError, match="the 'test' split has 3 texts"):
        _gold_items(ev, every[:3], seed=0)
