"""Atomic facts, protected spans and preservation by kind, on cases with known answers."""

from __future__ import annotations

import pytest

from compress.algorithms.metrics.facts import (
    answer_fact_agreement,
    atomic_facts,
    code_names,
    code_names_kept,
    fact_recall,
    kept_by_kind,
)
from compress.algorithms.text.patterns import protected_spans


def test_atomic_facts() -> None:
    text = "Call os.path.join() with max_retries=3 before 2024-05-01; Alice in Paris pays 12.5% via `pip`."
    facts = atomic_facts(text)
    for f in ("os.path.join", "max_retries", "3", "2024-05-01", "12.5%", "Alice", "Paris", "pip"):
        assert f in facts, f
    assert "Call" not in facts  # a sentence opener is no entity


def test_fact_recall_and_agreement() -> None:
    original = "Version 3.11 added tomllib and the ExceptionGroup type."
    assert fact_recall(original, original) == 1.0
    assert atomic_facts(original) == {"3.11", "ExceptionGroup"}
    assert fact_recall(original, "Version 3.11 added tomllib and the type.") == pytest.approx(1 / 2)
    assert fact_recall("no facts here at all", "") == 1.0
    assert answer_fact_agreement(["It needs Python 3.11"], ["Python 3.11 is needed"]) == 1.0
    assert answer_fact_agreement(["It needs Python 3.11"], ["It needs a recent Python"]) == pytest.approx(
        1 / 2
    )


def test_protected_spans() -> None:
    text = "def f(x):\n    return x * 42\n"
    spans = protected_spans(text, ["numbers"], [r"^\s*def "])
    assert {text[a:b] for a, b in spans} == {"42", "def "}
    with pytest.raises(ValueError, match="unknown protected kind"):
        protected_spans(text, ["colours"], [])


def test_preservation_by_kind_and_code_names() -> None:
    original = "Set max_retries to 3 in Paris for Python 3.11."
    kept = kept_by_kind([original], ["Set max_retries to 3 for Python."])
    assert kept["numbers_kept"] == 0.5 and kept["identifiers_kept"] == 1.0 and kept["entities_kept"] == 0.5
    code = "def area(width, height):\n    return width * height\n"
    assert code_names(code) == {"area", "width", "height"}
    assert code_names("def (:") is None
    assert code_names_kept([code], ["area(width, h)"], [True]) == pytest.approx(2 / 3)
    assert code_names_kept([code], ["x"], [False]) is None
