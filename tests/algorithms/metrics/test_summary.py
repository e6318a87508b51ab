"""The evaluate stage's per-method figures on hand-made inputs: cloze grading and its accuracy,
interval, by-part accuracy and worst model; a MethodSummary's reductions, equivalence and latency;
the flat metric names."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from compress.algorithms.metrics.cloze import ClozeItem, question
from compress.algorithms.metrics.gates import PairScore, question_key
from compress.algorithms.metrics.summary import (
    Point,
    cloze_fields,
    grade_cloze,
    pct,
    summarize,
    summary_metrics,
)
from compress.infra.schemas import Comparison, EvalSummary, TaskResult
from tests.conftest import method_summary


def _item(sample: str, part: int, answer: str, n_parts: int = 4) -> ClozeItem:
    left = f"In {sample} part {part} the value is"
    return ClozeItem(sample, part, n_parts, "number", f"{left} ____.", left, answer, 0)


# sample 0 has blanks in parts 0 and 2, sample 1 in part 1, sample 2 in part 2; no blank in part 3
ITEMS = [
    [_item("s0", 0, "11"), _item("s0", 2, "12")],
    [_item("s1", 1, "21")],
    [_item("s2", 2, "31")],
]
TEXTS = ["text zero", "text one", "text two"]
# which blanks each model fills right, in ITEMS' order
RIGHT = {"a": [[True, True], [True], [False]], "b": [[True, False], [False], [True]]}


def _answers(point: Point) -> dict[str, str]:
    return {
        question_key(m, text, question(it)): (it.answer if ok else "no idea")
        for m, flags in RIGHT.items()
        for text, items, oks in zip(point.texts, ITEMS, flags, strict=True)
        for it, ok in zip(items, oks, strict=True)
    }


def test_cloze_grading_gives_accuracy_interval_parts_and_the_worst_model() -> None:
    point = Point("trained", [(t, 0.0) for t in TEXTS])
    cz = grade_cloze([point], ITEMS, _answers(point), ["a", "b"])
    assert cz.correct[("trained", None, "a")] == RIGHT["a"]
    assert cz.flat(point, "b") == [True, False, False, True]
    fields = cloze_fields(cz, point, ["a", "b"])
    # a: 3 of 4 right, b: 2 of 4: b is the worst model and the headline accuracy
    assert fields["model_cloze"] == {"a": 0.75, "b": 0.5}
    assert fields["cloze_n"] == 4 and fields["cloze_accuracy"] == 0.5
    # Wilson 95% for 2/4: 0.5 -+ 1.96 * sqrt(0.0625 + 0.060025) / 1.9604
    assert fields["cloze_ci_low"] == pytest.approx(0.150036, abs=1e-6)
    assert fields["cloze_ci_high"] == pytest.approx(0.849964, abs=1e-6)
    # b by part: part 0 right, part 1 wrong, part 2 one of two, part 3 has no blank
    assert fields["cloze_by_part"] == [1.0, 0.0, 0.5, None]


def test_a_wrong_answer_on_another_text_is_not_read_for_this_one() -> None:
    right = Point("identity", [(t, 0.0) for t in TEXTS])
    other = Point("truncate", [("short", 0.0)] * 3)
    answers = _answers(right)
    answers |= {question_key(m, "short", question(it)): "no idea" for m in RIGHT for s in ITEMS for it in s}
    cz = grade_cloze([right, other], ITEMS, answers, ["a", "b"])
    assert cz.flat(other, "a") == [False] * 4 and cz.flat(right, "a") == [True, True, True, False]
    assert cloze_fields(cz, other, ["a", "b"])["cloze_accuracy"] == 0.0


def test_no_blank_gives_no_cloze_figures() -> None:
    point = Point("trained", [(t, 0.0) for t in TEXTS])
    assert cloze_fields(grade_cloze([point], [[], [], []], {}, ["a"]), point, ["a"]) == {}


class WordCounter:
    """Tokens are white-space words."""

    def count(self, text: str) -> int:
        return len(text.split())


def _score(scores: list[float], recall: float) -> PairScore:
    return PairScore(scores, min(scores), recall, scores, min(scores), [], [])


def test_summarize_two_texts_gives_exact_figures() -> None:
    originals = ["version 3.11 adds match statements", "tests by Alice cover 42 cases"]
    point = Point("truncate", [("version 3.11 adds", 1.0), ("tests by Alice", 3.0)])
    scores = [_score([0.8, 0.6], 1.0), _score([0.4, 1.0], 0.5)]
    nl = SimpleNamespace(name="nl")
    s = summarize(point, originals, scores, ["m1", "m2"], 0.5, [nl, nl], WordCounter(), {"cloze_n": 7})
    # 11 words down to 6; cl100k: 8 + 7 tokens down to 6 + 3
    assert s.token_reduction == pytest.approx(5 / 11) and s.achieved_rate == pytest.approx(6 / 11)
    assert s.token_reduction_cl100k == pytest.approx(1 - 9 / 15)
    # minimum over models 0.6 and 0.4; mean of the per-sample means 0.7 and 0.7
    assert s.equivalence_min == pytest.approx(0.5) and s.equivalence_mean == pytest.approx(0.7)
    assert s.pass_rate == 0.5  # 0.6 clears 0.5, 0.4 does not
    assert s.model_equivalence == pytest.approx({"m1": 0.6, "m2": 0.8}) and s.worst_model == "m1"
    assert s.latency_p50_s == 2.0 and s.latency_p95_s == pytest.approx(2.9)
    assert s.latency_per_1k_s == pytest.approx(1000 * 4 / 11)
    assert s.fact_recall == 0.75
    # 3.11 kept, 42 dropped; Alice kept; no code
    assert (s.numbers_kept, s.identifiers_kept, s.entities_kept) == (0.5, 1.0, 1.0)
    assert s.code_parses is None and s.code_names_kept is None
    assert s.n == 2 and s.rate is None and s.cloze_n == 7 and s.cloze_accuracy is None


def test_code_that_no_longer_parses_is_counted() -> None:
    code = SimpleNamespace(name="code")
    originals = ["def f(x):\n    return x\n", "x = 1\n"]
    point = Point("random", [("def f(x):\n", 0.0), ("x = 1\n", 0.0)])
    s = summarize(point, originals, [_score([1.0], 1.0)] * 2, ["m"], 0.5, [code, code], WordCounter(), {})
    assert s.code_parses == 0.5
    assert pct([], 50) == 0.0 and pct([1.0, 2.0, 3.0], 50) == 2.0


def test_summary_metric_names() -> None:
    trained = method_summary("trained", 0.5, "m").model_copy(
        update={"model_equivalence": {"m": 0.7}, "model_cloze": {"m": 0.25}}
    )
    curve = method_summary("truncate", 0.5, "m", rate=0.5)
    task = TaskResult(
        task="qa", method="trained", model="m", n=4, accuracy=0.5, ci_low=0.1, ci_high=0.9, delta=-0.25
    )
    needle = TaskResult(
        task="needle", method="tail", model="m", n=3, accuracy=0.75, ci_low=0.2, ci_high=0.9, rate=0.25,
        by_position=[1.0, None],
    )  # fmt: skip
    cmp = Comparison(
        method="trained", baseline="truncate", rate=0.5, metric="cloze", model="m", n=4,
        method_mean=0.5, baseline_mean=0.25, diff=0.25, ci_low=0.0, ci_high=0.5, mde=0.3,
    )  # fmt: skip
    summary = EvalSummary(
        tokenizer="t",
        tokenizer_secondary="c",
        validator_models=["m"],
        threshold=0.5,
        methods=[trained],
        curves=[trained, curve],
        tasks=[task, needle],
        headline=[cmp],
    )
    names = summary_metrics(summary)
    assert names["trained/token_reduction"] == 0.5 and names["trained/worst_model"] == "m"
    assert names["trained/equivalence/m"] == 0.7 and names["trained/cloze/m"] == 0.25
    assert names["curve/truncate@0.5/achieved_rate"] == 0.5
    assert "curve/trained@None/achieved_rate" not in names and "trained/rate" not in names
    assert names["task/qa/trained/m/accuracy"] == 0.5 and names["task/qa/trained/m/delta"] == -0.25
    # a gold task at a rate: the rate in the task's name; needle's accuracy by position
    assert names["task/needle@0.25/tail/m/accuracy"] == 0.75
    assert names["task/needle@0.25/tail/m/by_position/0"] == 1.0
    assert names["task/needle@0.25/tail/m/by_position/1"] is None
    assert not [k for k in names if k.startswith("task/qa/") and "by_position" in k]
    assert names["compare/trained-vs-truncate@0.5/cloze/m/diff"] == 0.25
    assert names["compare/trained-vs-truncate@0.5/cloze/m/mde"] == 0.3
