"""Aligning an LLM teacher's rewrite back to the original's words: good pairs align, bad ones are flagged."""

from __future__ import annotations

from compress.algorithms.teachers.alignment import align
from compress.algorithms.text.words import split_words

ORIGINAL = "The quick brown fox jumps over the lazy dog near the river bank today."


def _kept(original: str, keep: list[bool]) -> list[str]:
    words = split_words(original)
    return [words.word(i) for i, k in enumerate(keep) if k]


def test_a_pure_deletion_aligns_exactly_case_and_punctuation_aside() -> None:
    a = align(ORIGINAL, "quick Fox jumps, lazy dog river today")
    assert _kept(ORIGINAL, a.keep.tolist()) == ["quick", "fox", "jumps", "lazy", "dog", "river", "today."]
    assert a.found == 1.0 and a.invented == 0


def test_repeated_words_map_to_successive_occurrences() -> None:
    a = align(ORIGINAL, "the fox the dog the bank")
    assert _kept(ORIGINAL, a.keep.tolist()) == ["The", "fox", "the", "dog", "the", "bank"]
    assert a.found == 1.0
    # one "the" more than the original has after the last match: not found
    b = align(ORIGINAL, "the the the the")
    assert b.found == 0.75 and b.invented == 1


def test_reordered_words_lower_the_quality() -> None:
    a = align(ORIGINAL, "river bank fox dog quick")  # the teacher moved the end to the front
    assert a.found < 0.7 and a.invented >= 2
    assert _kept(ORIGINAL, a.keep.tolist())[:2] == ["river", "bank"]


def test_invented_words_are_counted_and_near_spellings_match() -> None:
    a = align(ORIGINAL, "fast fox leaps over lazy dogs")
    assert a.invented == 2  # fast, leaps
    assert a.found == 4 / 6
    assert _kept(ORIGINAL, a.keep.tolist()) == ["fox", "over", "lazy", "dog"]  # dogs ~ dog
    exact = align(ORIGINAL, "fox lazy dogs", fuzzy=1.0)
    assert exact.invented == 1


def test_the_window_bounds_how_far_a_match_may_jump() -> None:
    long = " ".join(["filler"] * 60 + ["target"])
    assert align(long, "target", window=40).found == 0.0
    assert align(long, "target", window=80).found == 1.0


def test_empty_sides() -> None:
    assert align("", "").found == 1.0
    a = align(ORIGINAL, "")
    assert a.found == 1.0 and not a.keep.any()
    assert align("", "anything").invented == 1
