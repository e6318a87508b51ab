"""The metrics as local Hugging Face `evaluate` modules, loaded offline by path."""

from __future__ import annotations

import evaluate
import pytest

from compress.algorithms.metrics.equivalence import equivalence
from compress.algorithms.metrics.hf import module_path


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")


def test_equivalence_module_matches_known_cases() -> None:
    metric = evaluate.load(module_path("equivalence"))
    same = metric.compute(predictions=["paths are joined"], references=["paths are joined"])
    assert same["equivalence"] == pytest.approx(1.0, abs=1e-4) and same["jaccard"] == 1.0
    apart = metric.compute(predictions=["bananas are yellow"], references=["the function joins paths"])
    assert apart["equivalence"] < 0.4 and apart["jaccard"] == 0.0
    code = "def f(x):\n    return x + 1\n"
    out = metric.compute(
        predictions=["adds one"], references=["adds one"], domain="code", originals=[code], compressed=[code]
    )
    assert out["ast"] == 1.0 and out["equivalence"] == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="originals"):
        metric.compute(predictions=["a"], references=["b"], domain="code")


def test_fact_recall_module() -> None:
    metric = evaluate.load(module_path("fact_recall"))
    out = metric.compute(
        predictions=["Python 3.11 added it", "nothing"],
        references=["Python 3.11 added ExceptionGroup", "Python 3.11 added ExceptionGroup"],
    )
    assert out["per_pair"] == [pytest.approx(0.5), 0.0]
    with pytest.raises(ValueError, match="unknown metric module"):
        module_path("rouge")


def test_equivalence_module_scores_as_the_pipeline_does() -> None:
    """One implementation: the module's per-pair score is `compress.algorithms.metrics.equivalence.equivalence`."""
    metric = evaluate.load(module_path("equivalence"))
    refs, preds = ["paths are joined", "a file is read", "x"], ["paths are joined", "bananas", ""]
    out = metric.compute(predictions=preds, references=refs)
    w = {"cosine": 0.7, "jaccard": 0.3}
    expected = [equivalence("nl", w, "", "", [r], [p]) for r, p in zip(refs, preds, strict=True)]
    assert out["per_pair"] == pytest.approx(expected)
    assert out["per_pair"][2] == 0.0  # a blank answer scores 0 here too
