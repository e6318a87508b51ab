"""Equivalence metrics on hand-made cases whose right answer is known."""

from __future__ import annotations

import pytest

from compress.algorithms.metrics.equivalence import DOMAIN_METRICS, ast_similarity, cosine_pairs, equivalence
from compress.algorithms.text.words import jaccard


def test_jaccard_known_values() -> None:
    assert jaccard("a b c", "a b c") == 1.0
    assert jaccard("a b", "c d") == 0.0
    assert jaccard("The cat sat", "the CAT ran") == pytest.approx(2 / 4)
    assert jaccard("", "") == 1.0


def test_ast_similarity_known_values() -> None:
    code = "def f(x):\n    return x + 1\n"
    assert ast_similarity(code, code) == 1.0
    # same structure, other names: identical node types
    assert ast_similarity(code, "def g(y):\n    return y + 2\n") == 1.0
    # dropping the function body's operation lowers the score but keeps most structure
    partial = ast_similarity(code, "def f(x):\n    return x\n")
    assert 0.5 < partial < 1.0
    # unparseable text falls back to tokens and still scores below an exact match
    assert ast_similarity(code, "def f(x) return x +") < 1.0
    assert ast_similarity(code, "") == 0.0


def test_cosine_of_bundled_embedder() -> None:
    same, para, other = cosine_pairs(
        ["The function joins two paths.", "The function joins two paths.", "The function joins two paths."],
        [
            "The function joins two paths.",
            "This function combines a pair of paths.",
            "Bananas are rich in potassium.",
        ],
    )
    assert same == pytest.approx(1.0, abs=1e-4)
    assert para > 0.7 > other


def test_equivalence_weights_and_blank_answers() -> None:
    w = {"cosine": 0.7, "jaccard": 0.3}
    assert equivalence("nl", w, "o", "c", ["paths are joined"], ["paths are joined"]) == pytest.approx(
        1.0, abs=1e-4
    )
    # a validator that gave no answer certifies nothing
    assert equivalence("nl", w, "o", "c", [""], [""]) == 0.0
    only_cos = equivalence("nl", {"cosine": 1.0, "jaccard": 0.0}, "o", "c", ["a b"], ["c d"])
    only_jac = equivalence("nl", {"cosine": 0.0, "jaccard": 1.0}, "o", "c", ["a b"], ["c d"])
    # each weight scales its own part: cosine alone is the embedding cosine of the two answers
    assert only_jac == 0.0 and only_cos == pytest.approx(cosine_pairs(["a b"], ["c d"])[0])
    mixed = equivalence("nl", w, "o", "c", ["a b"], ["c d"])
    assert mixed == pytest.approx(0.7 * only_cos)
    # a blank answer on one side zeroes that probe only
    two = equivalence("nl", w, "o", "c", ["paths are joined", "x"], ["paths are joined", " "])
    assert two == pytest.approx(0.5, abs=1e-4)
    code = "def f(x):\n    return x\n"
    assert equivalence("code", {"ast": 1.0, "semantic": 0.0}, code, code, ["x"], ["y"]) == 1.0


def test_every_domain_has_its_metric_and_unknown_ones_are_text() -> None:
    code = "def f(x):\n    return x\n"
    assert DOMAIN_METRICS["code"] is not DOMAIN_METRICS["nl"]
    # memory notes are scored as prose; an unregistered domain too
    for domain in ("memory", "unknown"):
        assert equivalence(domain, {"cosine": 0.0, "jaccard": 1.0}, code, "", ["a b"], ["a b"]) == 1.0
