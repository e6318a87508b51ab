"""Paired comparisons, the smallest detectable difference, and the head-bias statement."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf

from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline
from compress.algorithms.metrics.compare import compare, head_bias, min_detectable
from compress.algorithms.metrics.gates import question_key, score_pairs
from compress.infra.llm.tokens import TokenCounter
from tests.conftest import CACHE


def test_min_detectable_difference() -> None:
    diffs = [1.0, -1.0] * 50  # sd 1.005, n 100
    assert min_detectable(diffs) == pytest.approx(2.8016 * 1.00504 / 10, rel=1e-3)
    assert min_detectable([0.0] * 300) == pytest.approx(
        2.8016 * math.sqrt(3 / 300) / math.sqrt(300), rel=1e-3
    )
    assert min_detectable([0.3]) == 1.0
    # four times the items halve it
    assert min_detectable(diffs * 4) == pytest.approx(min_detectable(diffs) / 2, rel=0.02)


def test_compare_pairs_by_position() -> None:
    c = compare("a", "b", [1, 1, 1, 0], [0, 0, 1, 0], "cloze", "m")
    assert (c.n, c.method_mean, c.baseline_mean, c.diff) == (4, 0.75, 0.25, 0.5)
    assert 0.0 <= c.ci_low <= c.diff <= c.ci_high <= 1.0
    same = compare("a", "b", [1, 0] * 30, [1, 0] * 30, "cloze", "m")
    assert same.diff == 0.0 and same.ci_low == same.ci_high == 0.0 and same.mde > 0


def test_head_bias_statement_from_a_validator_that_prefers_the_head() -> None:
    """A scripted validator that answers well only when it sees the text's opening: it scores
    truncate above tail at the same budget, and the summary says it favours the head."""
    counter = TokenCounter("local/gemma3-270m", CACHE)
    ctx = BaselineContext(CACHE)
    texts = [
        f"Opening {i}: the function handles case {i} carefully. "
        + " ".join(f"detail{i}-{k}" for k in range(40))
        for i in range(12)
    ]
    budgets = [counter.count(t) // 2 for t in texts]
    head = [
        o.text
        for o in make_baseline("truncate", ctx).compress_many(
            [Request(t, n) for t, n in zip(texts, budgets, strict=True)], counter
        )
    ]
    end = [
        o.text
        for o in make_baseline("tail", ctx).compress_many(
            [Request(t, n) for t, n in zip(texts, budgets, strict=True)], counter
        )
    ]
    probe, model = "What does the text say?", "scripted/head-reader"

    def answer(text: str, original: str) -> str:  # knows the text only from its opening
        return original.split(":")[0] if text.startswith(original[:12]) else "nothing I can tell"

    val = OmegaConf.create({"models": [model]})
    dom = OmegaConf.create({"name": "nl", "metric": {"cosine": 0.7, "jaccard": 0.3}})
    scores = {}
    for name, outs in (("truncate", head), ("tail", end)):
        answers = {question_key(model, t, probe): answer(t, t) for t in texts}
        answers |= {question_key(model, c, probe): answer(c, o) for c, o in zip(outs, texts, strict=True)}
        scores[name] = score_pairs(texts, outs, answers, val, [dom] * len(texts), [[probe]] * len(texts))
    bias = head_bias(model, [s.min_score for s in scores["truncate"]], [s.min_score for s in scores["tail"]])
    assert bias.biased and bias.diff > 0.3 and bias.ci_low > 0
    assert bias.statement.startswith(f"{model} favours the head of a text by {bias.diff:.2f}")
    fair = head_bias(model, [0.8, 0.7] * 10, [0.7, 0.8] * 10)
    assert not fair.biased and "no head bias found" in fair.statement
    few = head_bias(model, [1.0] * 3, [0.0] * 3)
    assert not few.biased and "too few" in few.statement
