"""Atomic facts, protected spans and the rule-based domain classifier, on cases with known answers."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from compress.corpora import load_samples
from compress.domains import classify, sub_domain
from compress.facts import answer_fact_agreement, atomic_facts, fact_recall, protected_spans


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


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("def add(a, b):\n    return a + b\n", "code"),
        ("import os\nx = os.getcwd()\nprint(x)\n", "code"),
        ("- The user prefers dark mode.\n- Their project deadline is 2026-12-01.\n", "memory"),
        ("The quick brown fox jumps over the lazy dog. It was a sunny day.", "nl"),
        ("Returns the number of items. If the list is empty, returns 0.", "nl"),
        ("", "nl"),
    ],
)
def test_classifier_known_cases(text: str, domain: str) -> None:
    assert classify(text) == domain


def test_mixed_corpus_is_routed_by_the_classifier() -> None:
    cfg = OmegaConf.create(
        {
            "source": "stdlib_mixed",
            "path": None,
            "text_field": "text",
            "n_samples": 30,
            "min_words": 20,
            "max_words": 200,
            "seed": 0,
            "splits": {"train": 0.8, "val": 0.1, "test": 0.1},
        }
    )
    ds = load_samples(cfg, "mixed")
    # the stdlib sources carry their true kind in `source`: notes end in ::memory, code samples parse
    assert set(ds["domain"]) == {"nl", "code", "memory"}
    for row in ds:
        if row["source"].endswith("::memory"):
            assert row["domain"] == "memory"
    mixed = OmegaConf.create({"name": "mixed", "parts": {"code": {"name": "code"}, "nl": {"name": "nl"}}})
    assert sub_domain(mixed, "code").name == "code"
    plain = OmegaConf.create({"name": "nl"})
    assert sub_domain(plain, "code") is plain
