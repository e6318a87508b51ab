"""The headline on hand-made inputs: which points are compared, the comparisons' exact figures, and
the validators' head bias."""

from __future__ import annotations

import pytest

from compress.algorithms.metrics.cloze import ClozeItem
from compress.algorithms.metrics.gates import PairScore
from compress.algorithms.metrics.headline import PointKey, comparison_pairs, comparisons, judge_bias
from compress.algorithms.metrics.summary import Cloze, Point


def test_comparison_pairs_at_the_trained_budget_and_at_each_rate() -> None:
    keys: list[PointKey] = [
        ("trained", None),
        ("teacher", None),
        ("identity", None),
        ("truncate", None),
        ("selfinfo", None),
        ("tail", None),
        ("bm25", None),
        ("trained", 0.5),
        ("truncate", 0.5),
        ("selfinfo", 0.5),
    ]
    N = None
    assert comparison_pairs(keys) == [
        # trained against every reference baseline there is (random is not), then the other methods
        (("trained", N), ("identity", N)),
        (("trained", N), ("truncate", N)),
        (("trained", N), ("selfinfo", N)),
        (("trained", N), ("tail", N)),
        (("trained", N), ("bm25", N)),
        # every other baseline against identity, truncate and selfinfo; the teacher against none
        (("truncate", N), ("identity", N)),
        (("truncate", N), ("selfinfo", N)),
        (("selfinfo", N), ("identity", N)),
        (("selfinfo", N), ("truncate", N)),
        (("tail", N), ("identity", N)),
        (("tail", N), ("truncate", N)),
        (("tail", N), ("selfinfo", N)),
        (("bm25", N), ("identity", N)),
        (("bm25", N), ("truncate", N)),
        (("bm25", N), ("selfinfo", N)),
        # at a rate: trained against all, the others against those listed before them; all against identity
        (("trained", 0.5), ("truncate", 0.5)),
        (("trained", 0.5), ("selfinfo", 0.5)),
        (("trained", 0.5), ("identity", N)),
        (("truncate", 0.5), ("trained", 0.5)),
        (("truncate", 0.5), ("identity", N)),
        (("selfinfo", 0.5), ("trained", 0.5)),
        (("selfinfo", 0.5), ("truncate", 0.5)),
        (("selfinfo", 0.5), ("identity", N)),
    ]


def _scores(*per_sample: list[float]) -> list[PairScore]:
    return [PairScore(s, min(s), 1.0, s, min(s), [], []) for s in per_sample]


def test_comparisons_pair_equivalence_by_sample_and_cloze_by_blank() -> None:
    points = [Point("trained", [("t0", 0.0), ("t1", 0.0)]), Point("identity", [("o0", 0.0), ("o1", 0.0)])]
    scores: dict[PointKey, list[PairScore]] = {
        ("trained", None): _scores([0.5], [1.0]),
        ("identity", None): _scores([1.0], [1.0]),
    }
    item = ClozeItem("s", 0, 1, "number", "x ____", "x", "1", 0)
    cz = Cloze(
        [[item], [item, item]],
        {
            ("trained", None, "m"): [[True], [False, False]],
            ("identity", None, "m"): [[True], [True, True]],
        },
    )
    (eq, cl) = comparisons(points, scores, cz, ["m"], seed=0)
    assert (eq.method, eq.baseline, eq.metric, eq.model, eq.rate, eq.n) == (
        "trained",
        "identity",
        "equivalence",
        "min",
        None,
        2,
    )
    assert (eq.method_mean, eq.baseline_mean, eq.diff) == (0.75, 1.0, -0.25)
    assert (cl.metric, cl.model, cl.n) == ("cloze", "m", 3)
    assert cl.method_mean == pytest.approx(1 / 3) and cl.diff == pytest.approx(-2 / 3)
    assert cl.ci_low <= cl.diff <= cl.ci_high <= 0.0
    # without cloze: the equivalence rows only
    assert [c.metric for c in comparisons(points, scores, None, ["m"], seed=0)] == ["equivalence"]


def test_judge_bias_per_model() -> None:
    # model a scores the head 0.9 and the end 0.5 on all 12 samples; model b 0.5 on both
    scores: dict[PointKey, list[PairScore]] = {
        ("truncate", None): _scores(*[[0.9, 0.5]] * 12),
        ("tail", None): _scores(*[[0.5, 0.5]] * 12),
    }
    a, b = judge_bias(scores, ["a", "b"], seed=0)
    assert (a.model, a.n, a.truncate, a.tail) == ("a", 12, 0.9, 0.5)
    assert a.diff == pytest.approx(0.4) and a.ci_low == pytest.approx(0.4) and a.biased
    assert "a favours the head of a text by 0.40" in a.statement
    assert (b.diff, b.biased) == (0.0, False) and "no head bias found" in b.statement
    # no tail, no verdict
    assert judge_bias({("truncate", None): scores[("truncate", None)]}, ["a", "b"], seed=0) == []
