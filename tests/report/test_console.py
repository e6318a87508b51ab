"""The run's closing words: what the trained compressor did against each baseline, where the items
were enough to decide, most items first; nothing decided says so."""

from __future__ import annotations

from compress.infra.schemas import Comparison, EvalSummary
from compress.report.console import in_plain_words
from tests.conftest import method_summary


def _c(
    baseline: str, metric: str, model: str, n: int, a: float, b: float, lo: float, hi: float
) -> Comparison:
    return Comparison(
        method="trained", baseline=baseline, rate=0.25 if metric.startswith("task:") else None,
        metric=metric, model=model, n=n, method_mean=a, baseline_mean=b, diff=a - b,
        ci_low=lo, ci_high=hi, mde=0.05,
    )  # fmt: skip


def _summary(headline: list[Comparison]) -> EvalSummary:
    return EvalSummary(
        tokenizer="t",
        tokenizer_secondary="c",
        validator_models=["m"],
        threshold=0.5,
        methods=[method_summary("trained", 0.5, "m")],
        headline=headline,
    )


def test_the_decided_comparisons_in_words_most_items_first() -> None:
    lines = in_plain_words(
        _summary(
            [
                _c("truncate", "equivalence", "min", 8, 0.6, 0.5, -0.1, 0.3),  # too few: left out
                _c("truncate", "task:needle", "m", 60, 0.35, 0.15, 0.08, 0.32),
                _c("truncate", "task:needle", "answer_kept", 213, 0.99, 0.28, 0.65, 0.77),
                _c("bm25", "task:needle", "answer_kept", 213, 0.99, 0.98, -0.01, 0.02),
                _c("identity", "task:needle", "answer_kept", 213, 0.90, 1.0, -0.15, -0.05),
            ]
        )
    )
    assert lines[0].startswith("In plain words") and len(lines) == 3
    kept, read = lines[1], lines[2]
    assert "the answer kept in the context at rate 0.25 (4x), n = 213" in kept
    assert "beats truncate (0.99 vs 0.28" in kept and "loses to identity" in kept
    assert "shows no difference from bm25" in kept
    assert read.startswith("- needle, m's answers") and "beats truncate" in read
    assert "equivalence" not in " ".join(lines)


def test_nothing_decided_is_said() -> None:
    (line,) = in_plain_words(_summary([_c("truncate", "equivalence", "min", 5, 0.6, 0.5, -0.1, 0.3)]))
    assert "no comparison of the trained compressor had enough items" in line
